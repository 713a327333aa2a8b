// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// What a node remembers of its lookups (its view: own and inherited resolutions alike) never hides a manager attached
/// later, and never returns one detached since, from any node below, whatever the nodes between remember.
/// </summary>
public class ResolutionCacheTests
{
    [Fact]
    public void GetManager_AfterCachedMiss_SeesManagerAttachedAbove() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        using var outer = Lineage.BeginScope("outer");
        using var middle = Lineage.BeginScope("middle");
        using var inner = Lineage.BeginScope("inner");

        Assert.False(Lineage.TryGetManager(id, out _)); // caches "nothing" for id on the inner node
        var attached = outer.Node.GetOrCreateManager(id);

        Assert.Same(attached, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void GetManager_AfterCachedHit_SeesNearerManagerAttachedLater() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        using var outer = Lineage.BeginScope("outer");
        var far = outer.Node.GetOrCreateManager(id);
        using var middle = Lineage.BeginScope("middle");
        using var inner = Lineage.BeginScope("inner");
        Assert.Same(far, Lineage.GetManager(id)); // caches "far" on the inner node

        var near = middle.Node.GetOrCreateManager(id);

        Assert.Same(near, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void GetManager_FromDeepChain_ResolvesTheRootmostAttachment() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        var scopes = new Stack<LineageScope>();
        scopes.Push(Lineage.BeginScope("top"));
        var manager = scopes.Peek().Node.GetOrCreateManager(id);
        for (var i = 0; i < 64; i++)
        {
            scopes.Push(Lineage.BeginScope($"level-{i}"));
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Same(manager, Lineage.GetManager(id));
        }

        while (scopes.Count > 0)
        {
            scopes.Pop().Dispose();
        }

        return true;
    });

    [Fact]
    public void GetManager_FromNodeBelowOneThatCachedAMiss_SeesManagerAttachedAboveBoth() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        using var outer = Lineage.BeginScope("outer");
        using var middle = Lineage.BeginScope("middle");
        Assert.False(Lineage.TryGetManager(id, out _)); // middle's view remembers "nothing"
        using var inner = Lineage.BeginScope("inner");    // never looked up from: its walk reads middle's view

        var attached = outer.Node.GetOrCreateManager(id);

        Assert.Same(attached, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void GetManager_FromNodeBelowOneThatCachedAFartherManager_SeesNearerManagerAttachedBetween() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        using var outer = Lineage.BeginScope("outer");
        var far = outer.Node.GetOrCreateManager(id);
        using var upper = Lineage.BeginScope("upper");
        using var lower = Lineage.BeginScope("lower");
        Assert.Same(far, Lineage.GetManager(id)); // lower's view remembers far
        using var inner = Lineage.BeginScope("inner");

        var near = upper.Node.GetOrCreateManager(id);

        Assert.Same(near, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void CreateManager_OnTheNodeWhoseViewRememberedTheManagerItReplaces_ResolvesTheReplacement() => Bounded.OnNewThread(() =>
    {
        var id = TestIds.New("cache");
        using var scope = Lineage.BeginScope("scope");
        var first = Lineage.CreateManager(id);
        Assert.Same(first, Lineage.GetManager(id)); // the scope's view remembers first
        using var below = Lineage.BeginScope("below");
        Assert.Same(first, Lineage.GetManager(id)); // and so does the node below

        var second = scope.Node.Attach(id, replace: true);

        Assert.Same(second, Lineage.GetManager(id));
        Assert.Same(second, Lineage.Resolve(scope.Node, id));
        return true;
    });

    [Fact]
    public void GetManager_ManyDistinctIdsFromOneNode_EachResolvesToWhatIsAttachedNow() => Bounded.OnNewThread(() =>
    {
        // More ids than a view keeps in its array (8) and than it remembers at all (256).
        var ids = Enumerable.Range(0, 300).Select(i => TestIds.New($"many-{i}")).ToArray();
        using var outer = Lineage.BeginScope("outer");
        using var inner = Lineage.BeginScope("inner");
        foreach (var id in ids)
        {
            Assert.False(Lineage.TryGetManager(id, out _));
        }

        var attached = ids.Where((_, i) => i % 3 == 0).ToDictionary(id => id, id => outer.Node.GetOrCreateManager(id));

        for (var pass = 0; pass < 2; pass++)
        {
            foreach (var id in ids)
            {
                // An equal string that is another instance: ids compare by content, not by reference.
                var copy = new string(id.AsSpan());
                Assert.Same(attached.GetValueOrDefault(id), Lineage.TryGetManager(copy, out var found) ? found : null);
                Assert.Same(attached.GetValueOrDefault(id), Lineage.TryGetManager(id, out found) ? found : null);
            }
        }

        return true;
    });

    [Fact]
    public void Lookups_RacingAttachAndDisposeAbove_NeverReturnAnAnswerOlderThanTheLastCompletedChange() => Bounded.OnNewThread(() =>
    {
        const int Rounds = 200;
        const int Readers = 4;
        var id = TestIds.New("race");
        var managers = new ThreadPoolManager[Rounds];
        // 3k: round k not begun (nothing attached); 3k + 1: managers[k] attached (its attach returned); 3k + 2: its
        // dispose is about to begin; 3k + 3: its dispose returned.
        var step = 0;
        // Per reader, the step at which its latest completed lookup began.
        var lookedUpAt = new int[Readers];
        var done = 0;

        int RoundOf(ThreadPoolManager manager, int stepAfterLookup)
        {
            // The writer stores a manager in the array right after its attach returns, then moves past stepAfterLookup.
            var round = Array.IndexOf(managers, manager);
            if (round < 0 && SpinWait.SpinUntil(() => Volatile.Read(ref step) > stepAfterLookup, Bounded.Timeout))
            {
                round = Array.IndexOf(managers, manager);
            }

            return round;
        }

        ThreadPoolManager? LookUp(bool freshScopes)
        {
            if (!freshScopes)
            {
                return Lineage.TryGetManager(id, out var found) ? found : null;
            }

            // Two new nodes per lookup: the first child of the upper one races the writer's invalidations. (Each node
            // stays below the writer's node until a GC collects it: the writer's invalidations walk them all.)
            using var upper = Lineage.BeginScope("fresh-upper");
            using var lower = Lineage.BeginScope("fresh-lower");
            return Lineage.TryGetManager(id, out var foundBelow) ? foundBelow : null;
        }

        List<string> Read(int reader, bool ownScope, bool freshScopes = false)
        {
            using var own = ownScope ? Lineage.BeginScope("reader") : null;
            var failures = new List<string>();
            var deadline = DateTime.UtcNow + Bounded.Timeout;
            for (var lookups = 1; Volatile.Read(ref done) == 0 && failures.Count < 10 && DateTime.UtcNow < deadline; lookups++)
            {
                var before = Volatile.Read(ref step);
                var seen = LookUp(freshScopes && lookups % 32 == 0);
                var after = Volatile.Read(ref step);
                var round = seen is null ? -1 : RoundOf(seen, after);
                var valid = seen is null
                    // Nothing: the lookup did not run wholly between an attach's return and the next dispose's start.
                    ? before % 3 != 1 || after > before
                    // managers[k]: the lookup began before its dispose returned and ended after its attach began.
                    : round >= 0 && before <= (3 * round) + 2 && after >= 3 * round;
                if (!valid)
                {
                    failures.Add($"reader {reader}, steps {before}..{after}: resolved {(seen is null ? "nothing" : $"the manager of round {round}")}");
                }

                Volatile.Write(ref lookedUpAt[reader], before);
                if (lookups % 64 == 0)
                {
                    // Two cores, four busy threads: let the writer run.
                    Thread.Yield();
                }
            }

            return failures;
        }

        using var outer = Lineage.BeginScope("outer");
        using var middle = Lineage.BeginScope("middle");
        middle.Node.GetOrCreateManager(TestIds.New("other")); // a node holding another id, which the walk passes
        var readers = new List<Task<List<string>>> { TestThreads.StartChild(() => Read(0, ownScope: false), "reader-middle") };
        using var inner = Lineage.BeginScope("inner");
        readers.Add(TestThreads.StartChild(() => Read(1, ownScope: false), "reader-inner"));
        readers.Add(TestThreads.StartChild(() => Read(2, ownScope: true), "reader-below-inner"));
        readers.Add(TestThreads.StartChild(() => Read(3, ownScope: false, freshScopes: true), "reader-in-fresh-scopes"));

        // Every reader looks up at least once in each settled state (attached, disposed) of every round.
        void AwaitLookupsFrom(int settled) => Bounded.Until(
            () => readers.Any(static r => r.IsCompleted) || lookedUpAt.All(at => at >= settled),
            $"every reader to look up at step {settled}");

        for (var k = 0; k < Rounds && !readers.Any(static r => r.IsCompleted); k++)
        {
            managers[k] = outer.Node.GetOrCreateManager(id);
            Volatile.Write(ref step, (3 * k) + 1);
            AwaitLookupsFrom((3 * k) + 1);
            Volatile.Write(ref step, (3 * k) + 2);
            managers[k].Dispose();
            Volatile.Write(ref step, (3 * k) + 3);
            AwaitLookupsFrom((3 * k) + 3);
        }

        Volatile.Write(ref done, 1);
        var failures = readers.SelectMany(reader => Bounded.Result(reader, "a reader")).ToList();
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.True(Volatile.Read(ref step) == 3 * Rounds, $"the writer stopped at step {step}: a reader ended early");
        return true;
    });
}
