using System.Runtime.CompilerServices;

// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// <see cref="LineageNode"/>: its node-local resolution (no walk) and its diagnostics. Nodes come from scopes
/// (<see cref="Lineage.BeginScope(string?)"/>) so that nothing but unique ids ever reaches the shared root.
/// </summary>
public class LineageNodeTests
{
    [Fact]
    public void Root_IsTheAncestorOfEveryNodeAndHasNoParent()
    {
        using var scope = Lineage.BeginScope(nameof(Root_IsTheAncestorOfEveryNodeAndHasNoParent));
        var deepest = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("io"));
            return Lineage.Current;
        });

        var top = deepest;
        while (top.Parent is not null)
        {
            top = top.Parent;
        }

        Assert.Same(Lineage.Root, top);
        Assert.Null(Lineage.Root.Parent);
        Assert.Same(Lineage.Root, Lineage.Root);
    }

    [Fact]
    public void Parent_OfOwnNode_IsTheNodeTheFlowSawBefore()
    {
        using var scope = Lineage.BeginScope(nameof(Parent_OfOwnNode_IsTheNodeTheFlowSawBefore));

        var own = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("io"));
            return Lineage.Current;
        });

        Assert.Same(scope.Node, own.Parent);
    }

    [Fact]
    public void Name_OfScopeNode_IsScopeNameAndOfAttachedNode_IsNull()
    {
        var name = TestIds.New("named");
        using var scope = Lineage.BeginScope(name);

        var own = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("io"));
            return Lineage.Current;
        });

        Assert.Equal(name, scope.Node.Name);
        Assert.Null(own.Name);
    }

    [Fact]
    public void Managers_ListsManagersOfThisNodeOnly()
    {
        using var scope = Lineage.BeginScope(nameof(Managers_ListsManagersOfThisNodeOnly));
        var ancestorId = TestIds.New("ancestor");
        var ownIds = new[] { TestIds.New("a"), TestIds.New("b") };
        Lineage.GetOrCreateManager(ancestorId);

        var (node, attached) = Bounded.OnNewThread(() =>
        {
            var attached = ownIds.Select(id => Lineage.GetOrCreateManager(id)).ToList();
            return (Lineage.Current, attached);
        });

        Assert.Equal(ownIds.Order(StringComparer.Ordinal), node.Managers.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(attached, ownIds.Select(id => node.Managers[id]));
        Assert.False(node.Managers.ContainsKey(ancestorId));
        Assert.All(node.Managers.Values, manager => Assert.Same(node, manager.Owner));
    }

    [Fact]
    public void Managers_EnumerationInterleavedWithAttach_DoesNotThrowAndSeesSnapshot()
    {
        // The interleaving a reader on one thread and an attach on another can produce, made deterministic.
        using var scope = Lineage.BeginScope(nameof(Managers_EnumerationInterleavedWithAttach_DoesNotThrowAndSeesSnapshot));
        var node = scope.Node;
        node.GetOrCreateManager(TestIds.New("a"));
        node.GetOrCreateManager(TestIds.New("b"));

        var managers = node.Managers;
        using var enumerator = managers.GetEnumerator();
        Assert.True(enumerator.MoveNext());
        node.GetOrCreateManager(TestIds.New("c"));

        Assert.True(enumerator.MoveNext());
        Assert.False(enumerator.MoveNext());
        Assert.Equal(2, managers.Count);
        Assert.Equal(3, node.Managers.Count);
    }

    [Fact]
    public void Managers_OfNodeWithoutManagers_IsEmpty()
    {
        using var scope = Lineage.BeginScope(nameof(Managers_OfNodeWithoutManagers_IsEmpty));

        Assert.Empty(scope.Node.Managers);
    }

    [Fact]
    public void Children_ListsLiveChildNodesAsSnapshot()
    {
        using var scope = Lineage.BeginScope(nameof(Children_ListsLiveChildNodesAsSnapshot));
        var first = OwnNodeOfChildFlow();
        var snapshot = scope.Node.Children;
        var second = OwnNodeOfChildFlow();

        Assert.Equal([first], snapshot);
        Assert.Equal(2, scope.Node.Children.Count);
        Assert.Contains(first, scope.Node.Children);
        Assert.Contains(second, scope.Node.Children);
        Assert.Empty(first.Children);
    }

    [Fact]
    public void Children_AfterChildFlowsEnded_ListsOnlyLiveChildren()
    {
        using var scope = Lineage.BeginScope(nameof(Children_AfterChildFlowsEnded_ListsOnlyLiveChildren));
        var kept = OwnNodeOfChildFlow();
        var dropped = AttachInEndedChildFlows(10);

        FullGc.Collect();

        Assert.All(dropped, node => Assert.False(node.IsAlive, "a child node of an ended flow is still alive: its parent must refer to it weakly"));
        Assert.Equal([kept], scope.Node.Children);
    }

    [Fact]
    public void Children_ManyCollectedBetweenLiveOnes_ListsTheLiveOnesInOrder()
    {
        using var scope = Lineage.BeginScope(nameof(Children_ManyCollectedBetweenLiveOnes_ListsTheLiveOnesInOrder));
        var first = OwnNodeOfChildFlow();
        var dropped = AttachInEndedChildFlows(50);
        FullGc.Collect();
        var second = OwnNodeOfChildFlow(); // past the prune threshold: the dead children's entries are dropped here
        dropped.AddRange(AttachInEndedChildFlows(50));
        FullGc.Collect();

        var third = OwnNodeOfChildFlow();

        Assert.All(dropped, node => Assert.False(node.IsAlive, "a child node of an ended flow is still alive"));
        Assert.Equal([first, second, third], scope.Node.Children);
    }

    [Fact]
    public void Children_FirstChildrenBegunConcurrently_AreAllListed()
    {
        const int Threads = 4;
        const int Rounds = 50;
        for (var round = 0; round < Rounds; round++)
        {
            // A fresh parent each round: its first children race to create its list of children.
            using var parent = Lineage.BeginScope($"parent-{round}");
            using var barrier = new Barrier(Threads);
            var children = Enumerable.Range(0, Threads)
                .Select(t => TestThreads.StartChild(
                    () =>
                    {
                        Bounded.SignalAndWait(barrier, "the racers");
                        using var child = Lineage.BeginScope($"child-{t}");
                        return child.Node;
                    },
                    $"child-racer-{t}"))
                .ToArray()
                .Select(racer => Bounded.Result(racer, "a racer"))
                .ToList();

            Assert.Equal(children.ToHashSet(), parent.Node.Children.ToHashSet());
        }
    }

    [Fact]
    public void GetOrCreateManager_AncestorHasId_CreatesOnThisNodeWithoutWalking()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AncestorHasId_CreatesOnThisNodeWithoutWalking));
        var id = TestIds.New("io");
        var ancestors = Lineage.GetOrCreateManager(id);
        var node = OwnNodeOfChildFlow();

        var created = node.GetOrCreateManager(id);

        Assert.NotSame(ancestors, created);
        Assert.Same(node, created.Owner);
        Assert.Same(created, node.Managers[id]);
        Assert.Same(ancestors, scope.Node.Managers[id]);
        Assert.Same(scope.Node, Lineage.Current);
    }

    [Fact]
    public void GetOrCreateManager_CalledTwice_ReturnsSameNotStartedManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_CalledTwice_ReturnsSameNotStartedManager));
        var id = TestIds.New("io");
        var node = OwnNodeOfChildFlow();

        var first = node.GetOrCreateManager(id);
        var second = node.GetOrCreateManager(id);

        Assert.Same(first, second);
        Assert.Equal(id, first.Id);
        Assert.False(first.IsRunning);
        Assert.Same(first, node.Managers[id]);
        Assert.Equal(2, node.Managers.Count); // this one and the child flow's own
    }

    [Fact]
    public void GetOrCreateManager_OnNodeOfAnotherFlow_DoesNotChangeCurrent()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_OnNodeOfAnotherFlow_DoesNotChangeCurrent));
        var node = OwnNodeOfChildFlow();

        node.GetOrCreateManager(TestIds.New("io"));
        node.TryGetManager(TestIds.New("missing"), out _);

        Assert.Same(scope.Node, Lineage.Current);
    }

    [Fact]
    public void GetOrCreateManager_NullId_UsesDefaultId()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_NullId_UsesDefaultId));
        var node = OwnNodeOfChildFlow();

        var manager = node.GetOrCreateManager(null);

        Assert.Equal(ThreadPoolManager.DefaultId, manager.Id);
        Assert.Same(manager, node.GetOrCreateManager());
        Assert.Same(manager, node.GetOrCreateManager(ThreadPoolManager.DefaultId));
        Assert.True(node.TryGetManager(null, out var found));
        Assert.Same(manager, found);
        Assert.True(node.TryGetManager(ThreadPoolManager.DefaultId, out found));
        Assert.Same(manager, found);
    }

    [Fact]
    public void TryGetManager_AncestorHasId_ReturnsFalseWithoutWalking()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_AncestorHasId_ReturnsFalseWithoutWalking));
        var id = TestIds.New("io");
        Lineage.GetOrCreateManager(id);
        var node = OwnNodeOfChildFlow();

        Assert.False(node.TryGetManager(id, out var manager));
        Assert.Null(manager);
        Assert.False(node.Managers.ContainsKey(id));
    }

    [Fact]
    public void TryGetManager_IdDifferingInCase_ReturnsFalse()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_IdDifferingInCase_ReturnsFalse));
        var id = TestIds.New("io");
        var lower = scope.Node.GetOrCreateManager(id);

        Assert.False(scope.Node.TryGetManager(id.ToUpperInvariant(), out _));
        Assert.NotSame(lower, scope.Node.GetOrCreateManager(id.ToUpperInvariant()));
        Assert.Equal(2, scope.Node.Managers.Count);
    }

    [Fact]
    public void GetOrCreateManager_OnRoot_IsVisibleToEveryFlow()
    {
        var id = TestIds.New("process-wide");
        var manager = Lineage.Root.GetOrCreateManager(id);

        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_OnRoot_IsVisibleToEveryFlow));
        var seenInScope = Lineage.GetManager(id);
        var seenByChild = Bounded.OnNewThread(() => Lineage.GetManager(id));
        var seenByUnrelated = Bounded.Result(TestThreads.StartUnrelated(() => Lineage.GetManager(id)), "unrelated thread");

        Assert.Same(Lineage.Root, manager.Owner);
        Assert.Same(manager, Lineage.Root.Managers[id]);
        Assert.Same(manager, seenInScope);
        Assert.Same(manager, seenByChild);
        Assert.Same(manager, seenByUnrelated);
        Assert.Same(manager, Lineage.Root.GetOrCreateManager(id));
    }

    [Fact]
    public void GetOrCreateManager_RacingOnSameNodeAndId_AllCallersGetSameManager()
    {
        const int Threads = 8;
        const int Rounds = 100;
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_RacingOnSameNodeAndId_AllCallersGetSameManager));
        var node = scope.Node;
        var ids = Enumerable.Range(0, Rounds).Select(i => TestIds.New($"round{i}")).ToArray();
        var results = new ThreadPoolManager[Threads, Rounds];
        using var barrier = new Barrier(Threads);

        var racers = Enumerable.Range(0, Threads)
            .Select(t => TestThreads.StartChild(
                () =>
                {
                    for (var round = 0; round < Rounds; round++)
                    {
                        Bounded.SignalAndWait(barrier, $"round {round}");
                        // Half the racers read first, as Lineage.GetOrCreateManager does before it attaches.
                        results[t, round] = t % 2 == 0 || !node.TryGetManager(ids[round], out var seen)
                            ? node.GetOrCreateManager(ids[round])
                            : seen;
                    }

                    return t;
                },
                $"node-racer-{t}"))
            .ToArray();
        foreach (var racer in racers)
        {
            Bounded.Result(racer, "a racer");
        }

        for (var round = 0; round < Rounds; round++)
        {
            var winner = node.Managers[ids[round]];
            for (var t = 0; t < Threads; t++)
            {
                Assert.Same(winner, results[t, round]);
            }
        }

        Assert.Equal(Rounds, node.Managers.Count);
    }

    [Fact]
    public void ToString_OfNamedNode_MentionsName()
    {
        var name = TestIds.New("diagnostic");
        using var scope = Lineage.BeginScope(name);

        Assert.Contains(name, scope.Node.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_NamesTheThreadThatCreatedTheNode_ByNameOrElseById()
    {
        using var scope = Lineage.BeginScope(nameof(ToString_NamesTheThreadThatCreatedTheNode_ByNameOrElseById));
        var named = Bounded.OnNewThread(() => Lineage.BeginScope("on-named").Node, "node-creator");
        var unnamedThreadId = 0;
        LineageNode? unnamed = null;
        var thread = new Thread(() =>
        {
            unnamedThreadId = Environment.CurrentManagedThreadId;
            unnamed = Lineage.BeginScope("on-unnamed").Node;
        });
        thread.Start();
        Bounded.Join(thread, "the unnamed thread");

        Assert.Contains("(created on thread 'node-creator')", named.ToString(), StringComparison.Ordinal);
        Assert.Contains($"(created on thread {unnamedThreadId})", unnamed!.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Returns the own node of a child flow that attached a manager and ended (kept alive by the caller).</summary>
    private static LineageNode OwnNodeOfChildFlow() =>
        Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("child"));
            return Lineage.Current;
        });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<WeakReference> AttachInEndedChildFlows(int count) =>
        Enumerable.Range(0, count).Select(_ => new WeakReference(OwnNodeOfChildFlow())).ToList();
}
