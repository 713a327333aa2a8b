using System.Runtime.CompilerServices;
using ThreadLineage.Tests.Support;

// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// The resolution rules and the six invariants of docs/lineage.md. Every test isolates its flow in a
/// <see cref="Lineage.BeginScope(string?)"/> or on fresh threads, and uses unique ids (the root is shared).
/// </summary>
/// <remarks>
/// In the GC-sensitive group (run alone) because the leak tests measure the whole managed heap and the identity
/// tests want dead threads' ids to be reused. A test that pins a defect of the Python seed's
/// <c>get_or_create_thread_manager</c> (the Duck framework module this library grew from; see README.md, "From the Python seed") says so in a comment.
/// </remarks>
[Collection(GcSensitiveTestGroup.Name)]
public class LineageTests
{
    /// <summary>What runs a flow and the flows it starts, for theories that hold on each.</summary>
    public enum Runner
    {
        /// <summary>The shared .NET thread pool (<see cref="Task.Run(Action)"/>).</summary>
        DotNetThreadPool,

        /// <summary>A plain one-thread <see cref="TaskScheduler"/> that knows nothing of ThreadLineage.</summary>
        OneThreadTaskScheduler,

        /// <summary>A <see cref="ThreadPoolManager"/> with one worker.</summary>
        OneWorkerPool,
    }

    // ---- Resolution: GetOrCreateManager --------------------------------------------------------------------

    [Fact]
    public void GetOrCreateManager_NoManagerInLineage_CreatesNotStartedManagerOnOwnNode()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_NoManagerInLineage_CreatesNotStartedManagerOnOwnNode));
        var id = TestIds.New("io");

        var manager = Lineage.GetOrCreateManager(id);

        Assert.Equal(id, manager.Id);
        Assert.False(manager.IsRunning);
        Assert.Same(scope.Node, manager.Owner);
        Assert.Same(manager, scope.Node.Managers[id]);
        Assert.Same(scope.Node, Lineage.Current);
    }

    [Fact]
    public void GetOrCreateManager_InInheritedFlow_AttachesToNewOwnNodeThatIsDirectChildOfPreviousCurrent()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_InInheritedFlow_AttachesToNewOwnNodeThatIsDirectChildOfPreviousCurrent));
        var id = TestIds.New("io");

        var (before, after, manager) = Bounded.OnNewThread(() =>
        {
            var before = Lineage.Current;
            var manager = Lineage.GetOrCreateManager(id);
            return (before, Lineage.Current, manager);
        });

        Assert.Same(scope.Node, before);
        Assert.NotSame(before, after);
        Assert.Same(before, after.Parent);
        Assert.Same(after, manager.Owner);
        Assert.False(scope.Node.TryGetManager(id, out _));
    }

    [Fact]
    public void GetOrCreateManager_LaterAttachesInSameFlow_ReuseTheFlowsOwnNode()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_LaterAttachesInSameFlow_ReuseTheFlowsOwnNode));

        var (first, second, third) = Bounded.OnNewThread(() =>
        {
            var first = Lineage.GetOrCreateManager(TestIds.New("a"));
            var second = Lineage.GetOrCreateManager(TestIds.New("b"));
            var third = Lineage.CreateManager(TestIds.New("c"));
            return (first, second, third);
        });

        Assert.Same(scope.Node, first.Owner!.Parent);
        Assert.Same(first.Owner, second.Owner);
        Assert.Same(first.Owner, third.Owner);
        Assert.Equal(3, first.Owner.Managers.Count);
    }

    [Fact]
    public void GetOrCreateManager_AncestorHasId_ReturnsAncestorsManagerWithoutCreatingANode()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AncestorHasId_ReturnsAncestorsManagerWithoutCreatingANode));
        var id = TestIds.New("io");
        var attached = Lineage.GetOrCreateManager(id);

        var (resolved, current) = Bounded.OnNewThread(() => (Lineage.GetOrCreateManager(id), Lineage.Current));

        Assert.Same(attached, resolved);
        Assert.Same(scope.Node, current);
        Assert.Empty(scope.Node.Children);
    }

    [Fact]
    public void GetOrCreateManager_CalledTwice_ReturnsSameManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_CalledTwice_ReturnsSameManager));
        var id = TestIds.New("io");

        Assert.Same(Lineage.GetOrCreateManager(id), Lineage.GetOrCreateManager(id));
    }

    // ---- Resolution: CreateManager --------------------------------------------------------------------------

    [Fact]
    public void CreateManager_AncestorHasId_CreatesNewOnOwnNodeThatShadowsForFlowAndDescendantsOnly()
    {
        using var scope = Lineage.BeginScope(nameof(CreateManager_AncestorHasId_CreatesNewOnOwnNodeThatShadowsForFlowAndDescendantsOnly));
        var id = TestIds.New("io");
        var ancestors = Lineage.GetOrCreateManager(id);

        var (created, seenByFlow, seenByDescendant, seenBySibling, flowNode) = Bounded.OnNewThread(() =>
        {
            var sibling = TestThreads.StartChild(() => Lineage.GetManager(id), "sibling-started-before");
            var created = Lineage.CreateManager(id);
            var seenByDescendant = Bounded.OnNewThread(() => Lineage.GetManager(id), "descendant");
            return (created, Lineage.GetManager(id), seenByDescendant, Bounded.Result(sibling, "sibling"), Lineage.Current);
        });

        Assert.NotSame(ancestors, created);
        Assert.False(created.IsRunning);
        Assert.Same(flowNode, created.Owner);
        Assert.Same(scope.Node, flowNode.Parent);
        Assert.Same(created, seenByFlow);
        Assert.Same(created, seenByDescendant);
        Assert.Same(ancestors, seenBySibling);
        Assert.Same(ancestors, Lineage.GetManager(id));
        Assert.Same(ancestors, scope.Node.Managers[id]);
    }

    [Fact]
    public void CreateManager_OwnNodeHasId_ReplacesItThereWithoutStoppingTheReplacedManager()
    {
        using var scope = Lineage.BeginScope(nameof(CreateManager_OwnNodeHasId_ReplacesItThereWithoutStoppingTheReplacedManager));
        var id = TestIds.New("io");
        using var replaced = Lineage.CreateManager(id);
        replaced.Start(1);

        var replacement = Lineage.CreateManager(id);

        Assert.NotSame(replaced, replacement);
        Assert.Same(scope.Node, replacement.Owner);
        Assert.Same(scope.Node, Lineage.Current);
        Assert.Same(replacement, scope.Node.Managers[id]);
        Assert.Single(scope.Node.Managers);
        Assert.Same(replacement, Lineage.GetManager(id));
        Assert.Same(replacement, Lineage.GetOrCreateManager(id));
        Assert.True(replaced.IsRunning, "CreateManager must not stop the manager it replaces.");
        Assert.Equal(42, Bounded.Result(replaced.Submit(() => 42), "work on the replaced manager"));
    }

    // ---- Resolution: GetManager / TryGetManager -------------------------------------------------------------

    [Fact]
    public void GetManager_NoManagerInLineage_ThrowsManagerNotFoundNamingIdAndNode()
    {
        var nodeName = TestIds.New("lookup-scope");
        using var scope = Lineage.BeginScope(nodeName);
        var id = TestIds.New("missing");

        var exception = Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));

        Assert.Equal(id, exception.Id);
        Assert.Contains(id, exception.Message, StringComparison.Ordinal);
        Assert.Contains(nodeName, exception.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<InvalidOperationException>(exception);
    }

    [Fact]
    public void GetManager_NoManagerInLineage_NeverCreates()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_NoManagerInLineage_NeverCreates));
        var id = TestIds.New("missing");

        var (before, after, foundAfterwards) = Bounded.OnNewThread(() =>
        {
            var before = Lineage.Current;
            Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));
            Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));
            return (before, Lineage.Current, Lineage.TryGetManager(id, out _));
        });

        Assert.Same(before, after);
        Assert.False(foundAfterwards);
        Assert.Empty(scope.Node.Managers);
        Assert.Empty(scope.Node.Children);
        Assert.False(Lineage.Root.TryGetManager(id, out _));
    }

    [Fact]
    public void GetManager_AncestorHasId_ReturnsIt()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_AncestorHasId_ReturnsIt));
        var id = TestIds.New("io");
        var attached = Lineage.GetOrCreateManager(id);

        Assert.Same(attached, Bounded.OnNewThread(() => Lineage.GetManager(id)));
    }

    [Fact]
    public void TryGetManager_NoManagerInLineage_ReturnsFalseAndNull()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_NoManagerInLineage_ReturnsFalseAndNull));

        Assert.False(Lineage.TryGetManager(TestIds.New("missing"), out var manager));
        Assert.Null(manager);
        Assert.Empty(scope.Node.Managers);
    }

    [Fact]
    public void TryGetManager_AncestorHasId_ReturnsTrueAndIt()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_AncestorHasId_ReturnsTrueAndIt));
        var id = TestIds.New("io");
        var attached = Lineage.GetOrCreateManager(id);

        var (found, manager) = Bounded.OnNewThread(() => (Lineage.TryGetManager(id, out var manager), manager));

        Assert.True(found);
        Assert.Same(attached, manager);
    }

    [Fact]
    public void GetManager_UnknownId_ThrowsManagerNotFound_AndCreatesNothing() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("bad-input");
        var id = TestIds.New("missing");
        var current = Lineage.Current;
        var children = current.Children.Count;

        var error = Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));

        Assert.Equal(id, error.Id);
        Assert.Contains($"'{id}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(current.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("GetOrCreateManager", error.Message, StringComparison.Ordinal);
        Assert.Same(current, Lineage.Current);
        Assert.Empty(current.Managers);
        Assert.Equal(children, current.Children.Count);
        Assert.False(Lineage.TryGetManager(id, out var none));
        Assert.Null(none);
        Assert.Same(current, Lineage.Current);
        return true;
    });

    [Fact]
    public void ManagerIds_EmptyIsAnOrdinaryId_NullIsTheDefaultId() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("ids");
        Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(""));
        Assert.False(scope.Node.TryGetManager("", out _));

        var byNull = Lineage.CreateManager(null);
        Assert.Equal(ThreadPoolManager.DefaultId, byNull.Id);
        Assert.Same(byNull, Lineage.GetManager(null));
        Assert.Same(byNull, Lineage.GetManager(ThreadPoolManager.DefaultId));
        Assert.Same(byNull, Lineage.GetOrCreateManager());
        Assert.True(Lineage.Current.TryGetManager(null, out var viaNode));
        Assert.Same(byNull, viaNode);
        Assert.Same(byNull, Lineage.Current.GetOrCreateManager(null));
        Assert.Equal(ThreadPoolManager.DefaultId, new ThreadPoolManager(null).Id);
        return true;
    });

    [Fact]
    public void CreateManager_NullId_AttachesUnderDefaultIdThatNullLookupsResolve()
    {
        using var scope = Lineage.BeginScope(nameof(CreateManager_NullId_AttachesUnderDefaultIdThatNullLookupsResolve));

        // CreateManager first: it lands on this scope's node whatever the root holds, so the lookups below
        // resolve it (the nearest) even if something attached a "default" manager to the root.
        var created = Lineage.CreateManager(null);

        Assert.Equal("default", ThreadPoolManager.DefaultId);
        Assert.Equal(ThreadPoolManager.DefaultId, created.Id);
        Assert.Same(created, scope.Node.Managers[ThreadPoolManager.DefaultId]);
        Assert.Same(created, Lineage.GetManager(null));
        Assert.Same(created, Lineage.GetManager());
        Assert.Same(created, Lineage.GetManager(ThreadPoolManager.DefaultId));
        Assert.Same(created, Lineage.GetOrCreateManager(null));
        Assert.Same(created, Lineage.GetOrCreateManager());
        Assert.True(Lineage.TryGetManager(null, out var found));
        Assert.Same(created, found);
        Assert.Same(created, Bounded.OnNewThread(() => Lineage.GetManager(null)));
    }

    [Fact]
    public void GetOrCreateManager_IdsDifferingInCaseOrNormalization_AreDistinct()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_IdsDifferingInCaseOrNormalization_AreDistinct));
        var lower = TestIds.New("io");
        var upper = lower.ToUpperInvariant();
        var suffix = Guid.NewGuid().ToString("N");
        var composed = $"caf\u00e9-{suffix}";
        var decomposed = $"cafe\u0301-{suffix}";

        var lowerManager = Lineage.GetOrCreateManager(lower);
        var composedManager = Lineage.GetOrCreateManager(composed);

        Assert.False(Lineage.TryGetManager(upper, out _));
        Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(decomposed));
        Assert.NotSame(lowerManager, Lineage.GetOrCreateManager(upper));
        Assert.NotSame(composedManager, Lineage.GetOrCreateManager(decomposed));
        Assert.Equal(4, scope.Node.Managers.Count);
    }

    // ---- Invariant 1: inheritance --------------------------------------------------------------------------

    [Fact]
    public void GetManager_InThreadStartedAfterParentAttached_ReturnsParentsManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_InThreadStartedAfterParentAttached_ReturnsParentsManager));
        var id = TestIds.New("io");

        var (attached, seen) = Bounded.OnNewThread(
            () =>
            {
                var attached = Lineage.GetOrCreateManager(id);
                return (attached, Bounded.OnNewThread(() => Lineage.GetManager(id), "child"));
            },
            "parent");

        Assert.Same(attached, seen);
    }

    [Fact]
    public void GetManager_InTaskRunStartedAfterParentAttached_ReturnsParentsManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_InTaskRunStartedAfterParentAttached_ReturnsParentsManager));
        var id = TestIds.New("io");

        var (attached, seen) = Bounded.OnNewThread(() =>
        {
            var attached = Lineage.GetOrCreateManager(id);
            return (attached, Bounded.Result(Task.Run(() => Lineage.GetManager(id)), "Task.Run child"));
        });

        Assert.Same(attached, seen);
    }

    [Fact]
    public void GetManager_InQueueUserWorkItemStartedAfterParentAttached_ReturnsParentsManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_InQueueUserWorkItemStartedAfterParentAttached_ReturnsParentsManager));
        var id = TestIds.New("io");

        var (attached, seen) = Bounded.OnNewThread(() =>
        {
            var attached = Lineage.GetOrCreateManager(id);
            var seen = new TaskCompletionSource<ThreadPoolManager>(TaskCreationOptions.RunContinuationsAsynchronously);
            ThreadPool.QueueUserWorkItem(_ =>
            {
                try
                {
                    seen.SetResult(Lineage.GetManager(id));
                }
                catch (Exception e)
                {
                    seen.SetException(e);
                }
            });
            return (attached, Bounded.Result(seen.Task, "QueueUserWorkItem child"));
        });

        Assert.Same(attached, seen);
    }

    [Fact]
    public void GetManager_InTimerCallbackStartedAfterParentAttached_ReturnsParentsManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_InTimerCallbackStartedAfterParentAttached_ReturnsParentsManager));
        var id = TestIds.New("io");

        var (attached, seen) = Bounded.OnNewThread(() =>
        {
            var attached = Lineage.GetOrCreateManager(id);
            var seen = new TaskCompletionSource<ThreadPoolManager>(TaskCreationOptions.RunContinuationsAsynchronously);
            using var timer = new Timer(
                _ =>
                {
                    try
                    {
                        seen.TrySetResult(Lineage.GetManager(id));
                    }
                    catch (Exception e)
                    {
                        seen.TrySetException(e);
                    }
                },
                null,
                dueTime: 0,
                period: Timeout.Infinite);
            return (attached, Bounded.Result(seen.Task, "timer callback"));
        });

        Assert.Same(attached, seen);
    }

    [Fact]
    public async Task GetManager_AfterAwaitResumingOnAnotherThread_ReturnsManagerAttachedBefore()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_AfterAwaitResumingOnAnotherThread_ReturnsManagerAttachedBefore));
        var id = TestIds.New("io");

        var (attached, seen) = await Bounded.ResultAsync(
            Task.Run(async () =>
            {
                var attached = Lineage.GetOrCreateManager(id);
                await Task.Yield();
                await Task.Delay(1).ConfigureAwait(false);
                return (attached, Lineage.GetManager(id));
            }),
            "async flow");

        Assert.Same(attached, seen);
    }

    [Fact]
    public async Task GetManager_InThreadPoolManagerWorkSubmittedAfterAttach_ReturnsSubmittersManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_InThreadPoolManagerWorkSubmittedAfterAttach_ReturnsSubmittersManager));
        var id = TestIds.New("io");
        await using var pool = new ThreadPoolManager(TestIds.New("pool"));
        pool.Start(1);
        var attached = Lineage.GetOrCreateManager(id);

        var seenBySyncWork = await Bounded.ResultAsync(pool.Submit(() => Lineage.GetManager(id)), "sync pool work");
        var seenByAsyncWork = await Bounded.ResultAsync(
            pool.Submit(async () =>
            {
                await Task.Yield();
                return Lineage.GetManager(id);
            }),
            "async pool work");

        Assert.Same(attached, seenBySyncWork);
        Assert.Same(attached, seenByAsyncWork);
    }

    [Fact]
    public void GetManager_ChildStartedAfterParentHadOwnNode_SeesManagersParentAttachesLater()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_ChildStartedAfterParentHadOwnNode_SeesManagersParentAttachesLater));
        var firstId = TestIds.New("first");
        var laterId = TestIds.New("later");

        var (parentNode, later, seen) = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(firstId); // the parent's own node exists from here on
            using var attached = new ManualResetEventSlim();
            var child = TestThreads.StartChild(() =>
            {
                Bounded.Wait(attached, "the parent's later attach");
                return Lineage.GetManager(laterId);
            });
            var later = Lineage.GetOrCreateManager(laterId);
            attached.Set();
            return (Lineage.Current, later, Bounded.Result(child, "child"));
        });

        Assert.Same(parentNode, later.Owner);
        Assert.Same(later, seen);
    }

    [Fact]
    public void TryGetManager_ChildStartedBeforeParentHadOwnNode_KeepsInheritedNodeAndDoesNotSeeLaterManager()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_ChildStartedBeforeParentHadOwnNode_KeepsInheritedNodeAndDoesNotSeeLaterManager));
        var id = TestIds.New("io");

        var (attached, childSaw, childCurrent) = Bounded.OnNewThread(() =>
        {
            using var attached = new ManualResetEventSlim();
            var child = TestThreads.StartChild(() =>
            {
                Bounded.Wait(attached, "the parent's attach");
                return (Lineage.TryGetManager(id, out _), Lineage.Current);
            });
            var manager = Lineage.GetOrCreateManager(id);
            attached.Set();
            var (saw, current) = Bounded.Result(child, "child");
            return (manager, saw, current);
        });

        Assert.False(childSaw);
        Assert.Same(scope.Node, childCurrent);
        Assert.Same(scope.Node, attached.Owner!.Parent);
    }

    // ---- Invariant 1 when the parent runs a child's code inline (docs/lineage.md, "Running a child's code inline") ----

    [Fact]
    public void GetOrCreateManager_AfterCancelRanChildsRegistrationInline_StillAttachesToOwnNodeThatChildrenShare()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterCancelRanChildsRegistrationInline_StillAttachesToOwnNodeThatChildrenShare));
        var laterId = TestIds.New("later");

        var outcome = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("first")); // the parent's own node from here on
            var ownNode = Lineage.Current;
            using var cts = new CancellationTokenSource();
            (LineageNode Current, int Thread) ranAs = default;
            var registrarNode = Bounded.OnNewThread(
                () =>
                {
                    Lineage.GetOrCreateManager(TestIds.New("registrar")); // a node of the child's own, below the parent's
                    _ = cts.Token.Register(() => ranAs = (Lineage.Current, Environment.CurrentManagedThreadId));
                    return Lineage.Current;
                },
                "registrar");
            using var attached = new ManualResetEventSlim();
            var sharer = StartChildWaitingFor(laterId, attached);

            cts.Cancel(); // runs the child's registration here, in the child's context
            var later = Lineage.GetOrCreateManager(laterId);
            attached.Set();
            return (ownNode, registrarNode, ranAs, Environment.CurrentManagedThreadId, later, SeenBySharer: Bounded.Result(sharer, "the child sharing the parent's node"));
        });

        Assert.Equal(outcome.CurrentManagedThreadId, outcome.ranAs.Thread);
        Assert.Same(outcome.registrarNode, outcome.ranAs.Current);
        Assert.Same(outcome.ownNode, outcome.registrarNode.Parent);
        Assert.Same(outcome.ownNode, outcome.later.Owner);
        Assert.Same(outcome.later, outcome.SeenBySharer);
    }

    [Fact]
    public void GetOrCreateManager_AfterSetResultRanChildsContinuationInline_StillAttachesToOwnNodeThatChildrenShare()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterSetResultRanChildsContinuationInline_StillAttachesToOwnNodeThatChildrenShare));
        var laterId = TestIds.New("later");

        var outcome = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("first"));
            var ownNode = Lineage.Current;
            // Without RunContinuationsAsynchronously: SetResult runs the awaiting child's continuation itself.
            var signal = new TaskCompletionSource();
            var (awaiterNode, resumed) = Bounded.OnNewThread(
                () =>
                {
                    Lineage.GetOrCreateManager(TestIds.New("awaiter"));
                    // An async method runs synchronously up to its first await, so the continuation is registered here.
                    return (Lineage.Current, ResumeAfterAsync(signal.Task));
                },
                "awaiter");
            using var attached = new ManualResetEventSlim();
            var sharer = StartChildWaitingFor(laterId, attached);

            signal.SetResult(); // runs the child's continuation here, in the child's context
            var resumedInline = resumed.IsCompleted;
            var later = Lineage.GetOrCreateManager(laterId);
            attached.Set();
            var ranAs = Bounded.Result(resumed, "the child's continuation");
            return (ownNode, awaiterNode, resumedInline, ranAs, Environment.CurrentManagedThreadId, later, SeenBySharer: Bounded.Result(sharer, "the child sharing the parent's node"));
        });

        Assert.True(outcome.resumedInline, "SetResult did not run the continuation inline: the test does not test what it should");
        Assert.Equal(outcome.CurrentManagedThreadId, outcome.ranAs.Thread);
        Assert.Same(outcome.awaiterNode, outcome.ranAs.Current);
        Assert.Same(outcome.ownNode, outcome.later.Owner);
        Assert.Same(outcome.later, outcome.SeenBySharer);
    }

    [Fact]
    public void GetOrCreateManager_AfterWaitInlinedChildsTask_StillAttachesToOwnNodeThatChildrenShare()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterWaitInlinedChildsTask_StillAttachesToOwnNodeThatChildrenShare));
        var laterId = TestIds.New("later");
        var scheduler = new InlineOnlyScheduler();

        var outcome = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("first"));
            var ownNode = Lineage.Current;
            var (creatorNode, task) = Bounded.OnNewThread(
                () =>
                {
                    Lineage.GetOrCreateManager(TestIds.New("creator"));
                    return (Lineage.Current, scheduler.Run(() => (Lineage.Current, Environment.CurrentManagedThreadId)));
                },
                "task creator");
            using var attached = new ManualResetEventSlim();
            var sharer = StartChildWaitingFor(laterId, attached);

            // Wait() without a timeout: only an infinite wait inlines. Bounded all the same: the scheduler runs the task
            // itself after Bounded.Timeout if nothing inlined it, and the thread assertion below then fails.
            task.Wait();
            var later = Lineage.GetOrCreateManager(laterId);
            attached.Set();
            return (ownNode, creatorNode, RanAs: task.Result, Environment.CurrentManagedThreadId, later, SeenBySharer: Bounded.Result(sharer, "the child sharing the parent's node"));
        });

        Assert.Equal(outcome.CurrentManagedThreadId, outcome.RanAs.CurrentManagedThreadId);
        Assert.Same(outcome.creatorNode, outcome.RanAs.Current);
        Assert.Same(outcome.ownNode, outcome.later.Owner);
        Assert.Same(outcome.later, outcome.SeenBySharer);
    }

    [Fact]
    public void GetOrCreateManager_InChildRunLaterOnParentsThreadAfterParentRanChildCodeInline_CreatesOwnNode()
    {
        // The parent keeps its node across the inline callback; that must not leak to a child the runtime runs on the
        // parent's thread after the parent yielded it.
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_InChildRunLaterOnParentsThreadAfterParentRanChildCodeInline_CreatesOwnNode));
        using var scheduler = new SingleThreadScheduler("lineage-inline-then-yield");
        var childId = TestIds.New("child");

        var outcome = Bounded.Result(
            scheduler.RunAsync(async () =>
            {
                Lineage.GetOrCreateManager(TestIds.New("parent"));
                var parentNode = Lineage.Current;
                using var cts = new CancellationTokenSource();
                Bounded.OnNewThread(
                    () =>
                    {
                        Lineage.GetOrCreateManager(TestIds.New("registrar"));
                        _ = cts.Token.Register(() => { });
                    },
                    "registrar");
                cts.Cancel();
                var keptOwnNode = Lineage.GetOrCreateManager(TestIds.New("kept")).Owner;
                var child = scheduler.Run(() => (Manager: Lineage.GetOrCreateManager(childId), Node: Lineage.Current, Thread: Environment.CurrentManagedThreadId));
                var childOutcome = await child;
                return (parentNode, keptOwnNode, ParentThread: Environment.CurrentManagedThreadId, childOutcome);
            }),
            "parent flow on the one-thread scheduler");

        Assert.Same(outcome.parentNode, outcome.keptOwnNode);
        Assert.Equal(outcome.ParentThread, outcome.childOutcome.Thread);
        Assert.NotSame(outcome.parentNode, outcome.childOutcome.Node);
        Assert.Same(outcome.parentNode, outcome.childOutcome.Node.Parent);
        Assert.False(outcome.parentNode.TryGetManager(childId, out _));
    }

    // ---- Invariant 2: isolation ----------------------------------------------------------------------------

    [Fact]
    public void TryGetManager_InParentFlow_DoesNotSeeManagerAttachedByLiveChildThread()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_InParentFlow_DoesNotSeeManagerAttachedByLiveChildThread));
        var id = TestIds.New("io");
        using var attached = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            var manager = Lineage.GetOrCreateManager(id);
            attached.Set();
            Bounded.Wait(release, "the parent's checks");
            return manager;
        });

        try
        {
            Bounded.Wait(attached, "the child's attach");
            Assert.False(Lineage.TryGetManager(id, out _));
            Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));
            Assert.False(scope.Node.TryGetManager(id, out _));
        }
        finally
        {
            release.Set();
        }

        var childManager = Bounded.Result(child, "child");
        Assert.NotSame(scope.Node, childManager.Owner);
        Assert.False(Lineage.TryGetManager(id, out _));
        Assert.NotSame(childManager, Lineage.GetOrCreateManager(id));
    }

    [Fact]
    public void TryGetManager_InSiblingFlow_DoesNotSeeSiblingsManager()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_InSiblingFlow_DoesNotSeeSiblingsManager));
        var id = TestIds.New("io");
        using var attached = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var first = TestThreads.StartChild(() =>
        {
            var manager = Lineage.GetOrCreateManager(id);
            attached.Set();
            Bounded.Wait(release, "the sibling's checks");
            return manager;
        });

        (bool Saw, ThreadPoolManager Own) sibling;
        try
        {
            Bounded.Wait(attached, "the first child's attach");
            sibling = Bounded.OnNewThread(() => (Lineage.TryGetManager(id, out _), Lineage.GetOrCreateManager(id)), "sibling");
        }
        finally
        {
            release.Set();
        }

        var firstManager = Bounded.Result(first, "first child");
        Assert.False(sibling.Saw);
        Assert.NotSame(firstManager, sibling.Own);
        Assert.NotSame(firstManager.Owner, sibling.Own.Owner);
    }

    // The seed's resolve stopped at the nearest thread with any manager and created the new id in that thread's registry: the parent's.
    [Fact]
    public void GetOrCreateManager_NewIdInChildOfFlowWithOtherManagers_NotVisibleToParentOrSiblings()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_NewIdInChildOfFlowWithOtherManagers_NotVisibleToParentOrSiblings));
        var parentId = TestIds.New("request");
        var childId = TestIds.New("render");
        Lineage.GetOrCreateManager(parentId);
        using var attached = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            var manager = Lineage.GetOrCreateManager(childId);
            attached.Set();
            Bounded.Wait(release, "the parent's and sibling's checks");
            return manager;
        });

        bool parentSaw, siblingSaw;
        ThreadPoolManager siblingsOwn;
        try
        {
            Bounded.Wait(attached, "the child's attach");
            parentSaw = Lineage.TryGetManager(childId, out _);
            (siblingSaw, siblingsOwn) = Bounded.OnNewThread(() => (Lineage.TryGetManager(childId, out _), Lineage.GetOrCreateManager(childId)), "sibling");
        }
        finally
        {
            release.Set();
        }

        var childManager = Bounded.Result(child, "child");
        Assert.False(parentSaw, "the child's new id is visible to its parent (the seed put it into the parent's registry)");
        Assert.False(siblingSaw, "the child's new id is visible to its sibling");
        Assert.False(scope.Node.TryGetManager(childId, out _));
        Assert.NotSame(scope.Node, childManager.Owner);
        Assert.Same(scope.Node, childManager.Owner!.Parent);
        Assert.NotSame(childManager, siblingsOwn);
    }

    [Fact]
    public void TryGetManager_OnUnrelatedThread_DoesNotSeeManagerAndSeesRoot()
    {
        using var scope = Lineage.BeginScope(nameof(TryGetManager_OnUnrelatedThread_DoesNotSeeManagerAndSeesRoot));
        var id = TestIds.New("io");
        Lineage.GetOrCreateManager(id);

        var (saw, current) = Bounded.Result(
            TestThreads.StartUnrelated(() => (Lineage.TryGetManager(id, out _), Lineage.Current)),
            "unrelated thread");

        Assert.False(saw);
        Assert.Same(Lineage.Root, current);
    }

    [Theory]
    [InlineData(Runner.OneThreadTaskScheduler)]
    [InlineData(Runner.OneWorkerPool)]
    public void GetOrCreateManager_InChildRunLaterOnParentsThread_CreatesOwnNodeInvisibleToParentAndSibling(Runner runner)
    {
        // The child runs on the very thread the parent used, after the parent's synchronous part returned, then a
        // sibling, then the parent resumes there too. On a plain one-thread TaskScheduler, which knows nothing of
        // ThreadLineage, only the AsyncLocal context-change notification can tell that thread it now runs another flow.
        using var scope = Lineage.BeginScope($"{nameof(GetOrCreateManager_InChildRunLaterOnParentsThread_CreatesOwnNodeInvisibleToParentAndSibling)}-{runner}");
        using var thread = new FlowRunner(runner, "lineage-same-thread");
        var parentId = TestIds.New("parent");
        var childId = TestIds.New("child");

        var outcome = Bounded.Result(
            thread.RunAsync(async () =>
            {
                Lineage.GetOrCreateManager(parentId);
                var parentNode = Lineage.Current;
                var parentThread = Environment.CurrentManagedThreadId;
                var child = thread.Run(() => (Manager: Lineage.GetOrCreateManager(childId), Node: Lineage.Current, Thread: Environment.CurrentManagedThreadId));
                var sibling = thread.Run(() => Lineage.TryGetManager(childId, out _));
                var childOutcome = await child;
                var siblingSaw = await sibling;
                return (parentNode, parentThread, childOutcome, siblingSaw, ParentSaw: Lineage.TryGetManager(childId, out _));
            }),
            $"parent flow on the {runner}");

        Assert.Equal(outcome.parentThread, outcome.childOutcome.Thread);
        Assert.NotSame(outcome.parentNode, outcome.childOutcome.Node);
        Assert.Same(outcome.parentNode, outcome.childOutcome.Node.Parent);
        Assert.Same(outcome.childOutcome.Node, outcome.childOutcome.Manager.Owner);
        Assert.False(outcome.parentNode.TryGetManager(childId, out _));
        Assert.False(outcome.siblingSaw);
        Assert.False(outcome.ParentSaw);
    }

    [Fact]
    public void GetOrCreateManager_InWorkRunInlineByWaitingPoolWorker_DoesNotAttachToWaitersNode()
    {
        // The parent item blocks on a child queued behind it on the same one-worker pool: the pool runs the
        // child inline on the waiting worker. The child is still a flow of its own.
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_InWorkRunInlineByWaitingPoolWorker_DoesNotAttachToWaitersNode));
        using var pool = new ThreadPoolManager(TestIds.New("inline"));
        pool.Start(1);
        var parentId = TestIds.New("parent");
        var childId = TestIds.New("child");
        var laterId = TestIds.New("later");

        var outcome = Bounded.Result(
            pool.Submit(() =>
            {
                Lineage.GetOrCreateManager(parentId);
                var parentNode = Lineage.Current;
                var parentThread = Environment.CurrentManagedThreadId;
                var child = pool.Submit(() => (Manager: Lineage.GetOrCreateManager(childId), Node: Lineage.Current, Thread: Environment.CurrentManagedThreadId));
                var childOutcome = BlockOn(child);
                var parentSaw = Lineage.TryGetManager(childId, out _);
                var later = Lineage.GetOrCreateManager(laterId);
                return (parentNode, parentThread, childOutcome, parentSaw, later, CurrentAfter: Lineage.Current);
            }),
            "parent work that waits inline");

        Assert.Equal(outcome.parentThread, outcome.childOutcome.Thread);
        Assert.NotSame(outcome.parentNode, outcome.childOutcome.Node);
        Assert.Same(outcome.parentNode, outcome.childOutcome.Node.Parent);
        Assert.Same(outcome.childOutcome.Node, outcome.childOutcome.Manager.Owner);
        Assert.False(outcome.parentNode.TryGetManager(childId, out _));
        Assert.False(outcome.parentSaw);

        // The waiting parent did not switch flows: it still owns its node.
        Assert.Same(outcome.parentNode, outcome.CurrentAfter);
        Assert.Same(outcome.parentNode, outcome.later.Owner);
    }

    [Fact]
    public void GetOrCreateManager_AfterRealAwaitResumingOnSameThread_CreatesChildOfOwnNode()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterRealAwaitResumingOnSameThread_CreatesChildOfOwnNode));
        using var scheduler = new SingleThreadScheduler("lineage-async-same-thread");
        var beforeId = TestIds.New("before");
        var afterId = TestIds.New("after");

        var outcome = Bounded.Result(
            scheduler.RunAsync(async () =>
            {
                var beforeManager = Lineage.GetOrCreateManager(beforeId);
                var before = Lineage.Current;
                await Task.Yield();
                var resolved = Lineage.GetManager(beforeId);
                var currentAfterLookup = Lineage.Current;
                var afterManager = Lineage.GetOrCreateManager(afterId);
                return (beforeManager, before, resolved, currentAfterLookup, afterManager, After: Lineage.Current);
            }),
            "async flow on the one-thread scheduler");

        Assert.Same(outcome.beforeManager, outcome.resolved);
        Assert.Same(outcome.before, outcome.currentAfterLookup);
        Assert.NotSame(outcome.before, outcome.After);
        Assert.Same(outcome.before, outcome.After.Parent);
        Assert.Same(outcome.After, outcome.afterManager.Owner);
        Assert.False(outcome.before.TryGetManager(afterId, out _));
    }

    [Theory]
    [InlineData(Runner.DotNetThreadPool)]
    [InlineData(Runner.OneWorkerPool)]
    public void GetOrCreateManager_AfterAwaitTaskYield_CreatesChildOfOwnNode(Runner runner)
    {
        using var scope = Lineage.BeginScope($"{nameof(GetOrCreateManager_AfterAwaitTaskYield_CreatesChildOfOwnNode)}-{runner}");
        using var flows = new FlowRunner(runner, "lineage-after-await");
        var beforeId = TestIds.New("before");
        var afterId = TestIds.New("after");

        var (before, after, afterManager) = Bounded.Result(
            flows.RunAsync(async () =>
            {
                Lineage.GetOrCreateManager(beforeId);
                var before = Lineage.Current;
                await Task.Yield();
                var afterManager = Lineage.GetOrCreateManager(afterId);
                return (before, Lineage.Current, afterManager);
            }),
            $"async flow on the {runner}");

        Assert.NotSame(before, after);
        Assert.Same(before, after.Parent);
        Assert.Same(after, afterManager.Owner);
        Assert.False(before.TryGetManager(afterId, out _));
    }

    [Fact]
    public void GetOrCreateManager_AfterAwaitOfCompletedTask_KeepsAttachingToOwnNode()
    {
        // No real context switch: the method never left the thread, so it still owns its node.
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterAwaitOfCompletedTask_KeepsAttachingToOwnNode));
        using var scheduler = new SingleThreadScheduler("lineage-completed-await");

        var (before, after) = Bounded.Result(
            scheduler.RunAsync(async () =>
            {
                var before = Lineage.GetOrCreateManager(TestIds.New("before"));
                await Task.CompletedTask;
                return (before, Lineage.GetOrCreateManager(TestIds.New("after")));
            }),
            "async flow");

        Assert.Same(before.Owner, after.Owner);
    }

    [Fact]
    public void GetOrCreateManager_InSuccessiveItemsOfPoolWithoutFlowedContext_SeeOwnerAndStayIsolated()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_InSuccessiveItemsOfPoolWithoutFlowedContext_SeeOwnerAndStayIsolated));
        var pool = Lineage.CreateManager(TestIds.New("unflowed"));
        pool.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });
        var id = TestIds.New("io");

        (LineageNode Current, bool Saw, ThreadPoolManager Manager) Item() =>
            (Lineage.Current, Lineage.TryGetManager(id, out _), Lineage.GetOrCreateManager(id));

        var first = Bounded.Result(pool.Submit(Item), "first item");
        var second = Bounded.Result(TestThreads.StartUnrelated(() => Bounded.Result(pool.Submit(Item), "second item")), "unrelated submitter");

        Assert.Same(scope.Node, first.Current);
        Assert.Same(scope.Node, second.Current);
        Assert.False(first.Saw);
        Assert.False(second.Saw);
        Assert.NotSame(first.Manager, second.Manager);
        Assert.Same(scope.Node, first.Manager.Owner!.Parent);
        Assert.Same(scope.Node, second.Manager.Owner!.Parent);
    }

    // ---- Invariant 3: the walk passes nodes holding other ids --------------------------------------------------

    // The seed stopped at the nearest thread whose registry held other ids: its strict get (strictly_get=True) returned
    // None there instead of asking its parent, and its get-or-create built a duplicate of an ancestor's manager there.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void GetManager_NearerNodesHoldOnlyOtherIds_WalksPastThemToAncestor_GetOrCreateMakesNoDuplicate(int nearerNodes)
    {
        using var scope = Lineage.BeginScope($"{nameof(GetManager_NearerNodesHoldOnlyOtherIds_WalksPastThemToAncestor_GetOrCreateMakesNoDuplicate)}-{nearerNodes}");
        var id = TestIds.New("io");
        var ancestors = Lineage.GetOrCreateManager(id);

        // Each nearer node is the own node of a child flow (a thread started by the one above), holding another id.
        var (strict, tried, found, getOrCreated, nearest) = LookUpBelowNodesWithOtherIds(id, nearerNodes);

        Assert.Same(ancestors, strict);
        Assert.True(tried);
        Assert.Same(ancestors, found);
        Assert.Same(ancestors, getOrCreated);
        Assert.False(nearest.TryGetManager(id, out _), "get-or-create made a duplicate in the nearest node that had other ids");
        var node = nearest;
        for (var level = 0; level < nearerNodes; level++, node = node.Parent!)
        {
            Assert.Single(node.Managers);
        }

        Assert.Same(scope.Node, node);
    }

    // ---- Invariant 4: no identity reuse ---------------------------------------------------------------------

    // The seed keyed its registry by thread.ident and never cleaned it: a new thread with a dead thread's ident inherited its managers.
    [Fact]
    public void GetOrCreateManager_OnLaterShortLivedThreads_NeverInheritsDeadThreadsManagerUnlessDescendant_EachGetsItsOwn()
    {
        const int Threads = 200;
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_OnLaterShortLivedThreads_NeverInheritsDeadThreadsManagerUnlessDescendant_EachGetsItsOwn));
        var id = TestIds.New("io");
        var (firstThreadId, first, descendantSaw) = AttachOnShortLivedThreadWithDescendant(id);
        Assert.True(descendantSaw, "a descendant of the thread that attached must see its manager");

        var managers = new List<ThreadPoolManager>(Threads) { first };
        var seenThreadIds = new HashSet<int> { firstThreadId };
        var reusedThreadIds = 0;
        var leaks = new List<string>();
        for (var i = 1; i < Threads; i++)
        {
            if (i % 10 == 0)
            {
                // Dead threads' managed ids are recycled once their Thread objects are finalized: let that happen,
                // so later threads do reuse ids of dead ones (the seed's failure mode).
                FullGc.Collect();
            }

            var (threadId, saw, own) = LookUpAndAttachOnShortLivedThread(id);
            var reused = !seenThreadIds.Add(threadId);
            reusedThreadIds += reused ? 1 : 0;
            if (saw || ReferenceEquals(own, first) || ReferenceEquals(own.Owner, first.Owner) || !ReferenceEquals(own.Owner!.Parent, scope.Node))
            {
                leaks.Add($"thread #{i} (managed id {threadId}{(reused ? ", reused" : string.Empty)})");
            }

            managers.Add(own);
        }

        Assert.True(reusedThreadIds > 0, "Precondition: no short-lived thread reused a dead thread's managed id, so the seed's scenario did not happen.");
        Assert.True(leaks.Count == 0, $"Threads that are not descendants inherited the dead thread's manager or node: {string.Join(", ", leaks)}.");
        Assert.Equal(Threads, managers.Distinct().Count());
        Assert.Equal(Threads, managers.Select(m => m.Owner).Distinct().Count());
        Assert.All(managers, m => Assert.Same(scope.Node, m.Owner!.Parent));
    }

    // ---- Invariant 5: no leaks --------------------------------------------------------------------------------

    [Fact]
    public void GetOrCreateManager_FlowEnded_NodeAndNotStartedManagerAreCollected()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_FlowEnded_NodeAndNotStartedManagerAreCollected));
        var (node, manager) = AttachInEndedFlow(TestIds.New("io"), start: false);

        FullGc.Collect();

        Assert.False(node.IsAlive, "the node of a flow that ended is still alive");
        Assert.False(manager.IsAlive, "a manager that never ran, attached by a flow that ended, is still alive");
        Assert.Empty(scope.Node.Children);
    }

    [Fact]
    public void GetOrCreateManager_FlowEndedAndManagerStopped_NodeAndManagerAreCollected()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_FlowEndedAndManagerStopped_NodeAndManagerAreCollected));
        var (node, manager) = AttachInEndedFlow(TestIds.New("io"), start: true);

        FullGc.Collect();

        Assert.False(node.IsAlive, "the node of a flow that ended is still alive after its manager stopped");
        Assert.False(manager.IsAlive, "a stopped manager attached by a flow that ended is still alive");
    }

    [Fact]
    public void GetOrCreateManager_FlowEndedWhileManagerRuns_NodeStaysAliveUntilManagerStops()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_FlowEndedWhileManagerRuns_NodeStaysAliveUntilManagerStops));
        var (node, manager, worker) = StartInEndedFlow(TestIds.New("io"));

        FullGc.Collect();
        Assert.True(node.IsAlive, "a running manager's node was collected");
        Assert.True(manager.IsAlive, "a running manager was collected");
        // Counted in a helper: a snapshot list held in this frame would keep the node alive (debug code keeps temporaries).
        Assert.Equal(1, LiveChildCount(scope.Node));

        StopAndJoin(manager, worker);
        FullGc.Collect();

        Assert.False(node.IsAlive, "the node is still alive after its manager stopped");
        Assert.False(manager.IsAlive, "the manager is still alive after it stopped");
        Assert.Empty(scope.Node.Children);
    }

    [Fact]
    public void GetOrCreateManager_In100kShortLivedFlows_LeavesMemoryFlat()
    {
        const int Flows = 100_000;
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_In100kShortLivedFlows_LeavesMemoryFlat));
        var id = TestIds.New("io");

        // Warm up (JIT, thread-pool threads, the weak lists' first growth) before the baseline.
        AttachInShortLivedFlows(2_000, id);
        FullGc.Collect();
        var before = GC.GetTotalMemory(forceFullCollection: true);

        AttachInShortLivedFlows(Flows, id);
        FullGc.Collect();
        var after = GC.GetTotalMemory(forceFullCollection: true);

        // A retained node with its manager costs several hundred bytes: 100k of them would add tens of MB.
        // The bound leaves room for the weak lists' dead entries (pruned lazily) and unrelated noise.
        const long Bound = 12L * 1024 * 1024;
        Assert.True(after - before < Bound, $"Managed heap grew by {(after - before) / 1024} KiB over {Flows} flows (bound {Bound / 1024} KiB).");
        Assert.Empty(scope.Node.Children);
    }

    // ---- Invariant 6: thread safety -------------------------------------------------------------------------

    [Fact]
    public void AllCalls_RacingFromManyThreads_ThrowNothingAndStayConsistent()
    {
        const int Threads = 8;
        const int Operations = 1_500;
        using var scope = Lineage.BeginScope(nameof(AllCalls_RacingFromManyThreads_ThrowNothingAndStayConsistent));
        var shared = scope.Node;
        var ids = Enumerable.Range(0, 6).Select(i => TestIds.New($"race{i}")).ToArray();
        using var start = new Barrier(Threads);

        var racers = Enumerable.Range(0, Threads)
            .Select(seed => TestThreads.StartChild(
                () =>
                {
                    var random = new Random(seed);
                    Bounded.SignalAndWait(start, "racers' start");
                    for (var i = 0; i < Operations; i++)
                    {
                        var id = ids[random.Next(ids.Length)];
                        switch (random.Next(11))
                        {
                            case 0:
                                Lineage.GetOrCreateManager(id);
                                break;
                            case 1:
                                Lineage.CreateManager(id);
                                break;
                            case 2:
                                Lineage.TryGetManager(id, out _);
                                break;
                            case 3:
                                try
                                {
                                    Lineage.GetManager(id);
                                }
                                catch (ManagerNotFoundException)
                                {
                                    // Expected while no flow above this one attached the id.
                                }

                                break;
                            case 4:
                                // Half the time a new id, so the shared node keeps growing while others read it.
                                var sharedId = random.Next(2) == 0 ? id : $"{id}-{seed}-{i}";
                                Assert.Same(shared.GetOrCreateManager(sharedId), shared.GetOrCreateManager(sharedId));
                                break;
                            case 5:
                                shared.TryGetManager(id, out _);
                                break;
                            case 6:
                                foreach (var (key, manager) in shared.Managers)
                                {
                                    Assert.Equal(key, manager.Id);
                                }

                                break;
                            case 7:
                                _ = shared.Children.Count;
                                break;
                            case 8:
                                using (Lineage.BeginScope())
                                {
                                    Lineage.GetOrCreateManager(id);
                                }

                                break;
                            case 9:
                                Bounded.OnNewThread(() => Lineage.GetOrCreateManager(id), "nested-racer");
                                break;
                            default:
                                if (random.Next(20) == 0)
                                {
                                    _ = Lineage.Describe();
                                }

                                break;
                        }
                    }

                    return seed;
                },
                $"racer-{seed}"))
            .ToArray();

        foreach (var racer in racers)
        {
            Bounded.Result(racer, "a racer");
        }

        foreach (var (id, manager) in shared.Managers)
        {
            Assert.Same(manager, shared.GetOrCreateManager(id));
            Assert.Same(manager, Lineage.GetManager(id));
            Assert.Same(shared, manager.Owner);
        }
    }

    // ---- Lookups and Current ------------------------------------------------------------------------------

    [Fact]
    public void Current_AfterLookupsFoundOrNot_IsUnchanged()
    {
        using var scope = Lineage.BeginScope(nameof(Current_AfterLookupsFoundOrNot_IsUnchanged));
        var known = TestIds.New("known");
        var missing = TestIds.New("missing");
        Lineage.GetOrCreateManager(known);

        var currents = Bounded.OnNewThread(() =>
        {
            var seen = new List<LineageNode> { Lineage.Current };
            Lineage.GetManager(known);
            seen.Add(Lineage.Current);
            Lineage.TryGetManager(known, out _);
            seen.Add(Lineage.Current);
            Lineage.TryGetManager(missing, out _);
            seen.Add(Lineage.Current);
            Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(missing));
            seen.Add(Lineage.Current);
            Lineage.GetOrCreateManager(known); // found: a lookup too
            seen.Add(Lineage.Current);
            Lineage.Current.TryGetManager(missing, out _);
            Lineage.Root.TryGetManager(missing, out _);
            seen.Add(Lineage.Current);
            return seen;
        });

        Assert.All(currents, current => Assert.Same(scope.Node, current));
        Assert.Empty(scope.Node.Children);
    }

    [Fact]
    public void Current_OnThreadWithNothingSet_IsRoot()
    {
        var current = Bounded.Result(TestThreads.StartUnrelated(() => Lineage.Current), "unrelated thread");

        Assert.Same(Lineage.Root, current);
        Assert.Null(Lineage.Root.Parent);
    }

    // ---- Diagnostics --------------------------------------------------------------------------------------

    [Fact]
    public void Describe_NestedNodesWithManagers_RendersIndentedTreeWithNamesAndIds()
    {
        var outerName = TestIds.New("describe-outer");
        var innerName = TestIds.New("describe-inner");
        var outerId = TestIds.New("outer-io");
        var innerId = TestIds.New("inner-io");
        using var outer = Lineage.BeginScope(outerName);
        Lineage.GetOrCreateManager(outerId);
        using var inner = Lineage.BeginScope(innerName);
        Lineage.GetOrCreateManager(innerId);

        var lines = Lineage.Describe().Split('\n');
        var outerLine = IndexOfLineContaining(lines, outerName);
        var innerLine = IndexOfLineContaining(lines, innerName);
        var outerIdLine = IndexOfLineContaining(lines, outerId);
        var innerIdLine = IndexOfLineContaining(lines, innerId);

        Assert.True(outerLine < innerLine, "the inner scope's node is listed before its parent");
        Assert.True(Indentation(lines[innerLine]) > Indentation(lines[outerLine]), "a child node is not indented deeper than its parent");
        Assert.True(outerIdLine > outerLine, "a manager is listed before its node");
        Assert.True(innerIdLine > innerLine, "a manager is listed before its node");
        Assert.True(Indentation(lines[innerIdLine]) > Indentation(lines[outerIdLine]), "managers are not indented with their nodes");
    }

    [Fact]
    public void Describe_ManagerStartedThenStopped_RendersItsState()
    {
        using var scope = Lineage.BeginScope(nameof(Describe_ManagerStartedThenStopped_RendersItsState));
        var id = TestIds.New("stateful");
        using var manager = Lineage.GetOrCreateManager(id);

        var notStarted = LineContaining(Lineage.Describe(), id);
        manager.Start(1);
        var running = LineContaining(Lineage.Describe(), id);
        manager.Stop();
        var stopped = LineContaining(Lineage.Describe(), id);

        Assert.NotEqual(notStarted, running);
        Assert.NotEqual(running, stopped);
    }

    [Fact]
    public void Describe_EndedScopeStillReferenced_MarksItsNodeEnded()
    {
        var endedName = TestIds.New("describe-ended");
        var liveName = TestIds.New("describe-live");
        using var live = Lineage.BeginScope(liveName);
        var ended = Lineage.BeginScope(endedName);
        ended.Dispose();

        var description = Lineage.Describe();

        Assert.EndsWith("(ended)", LineContaining(description, endedName).TrimEnd(), StringComparison.Ordinal);
        Assert.DoesNotContain("(ended)", LineContaining(description, liveName), StringComparison.Ordinal);
        GC.KeepAlive(ended);
    }

    [Fact]
    public void Describe_ChainOf5000NestedScopes_RendersEachNodeOnLineOfBoundedLengthWithoutOverflowingTheStack()
    {
        const int Depth = 5_000;
        var prefix = TestIds.New("chain");

        // On a thread of its own with the default stack size: a recursive walk would overflow it.
        var (lines, restored) = Bounded.OnNewThread(
            () =>
            {
                var before = Lineage.Current;
                var scopes = new List<LineageScope>(Depth);
                for (var i = 0; i < Depth; i++)
                {
                    scopes.Add(Lineage.BeginScope($"{prefix}-{i}"));
                }

                var description = Lineage.Describe();
                scopes[0].Dispose(); // the outermost first: it pops every scope of the chain at once
                for (var i = Depth - 1; i > 0; i--)
                {
                    scopes[i].Dispose();
                }

                var chainLines = description.Split('\n').Where(line => line.Contains(prefix, StringComparison.Ordinal)).ToList();
                return (chainLines, ReferenceEquals(before, Lineage.Current));
            },
            "deep-chain");

        Assert.True(restored, "disposing the chain did not restore the Current from before it");
        Assert.Equal(Depth, lines.Count);
        Assert.All(lines.Select((line, i) => (line, i)), entry => Assert.Contains($"'{prefix}-{entry.i}'", entry.line, StringComparison.Ordinal));
        // Linear: every line stays short however deep its node (indentation of 2 spaces per level would make the
        // deepest ones 10,000 characters long, and the whole chain about 25 million).
        var longest = lines.Max(line => line.Length);
        Assert.True(longest < 250, $"the longest line of the chain has {longest} characters");
        Assert.True(lines.Sum(line => line.Length) < Depth * 250, "the chain's description grows faster than the chain");
    }

    [Fact]
    public void AllInstances_LiveAttachedAndFreeStandingManagers_AreListed()
    {
        using var scope = Lineage.BeginScope(nameof(AllInstances_LiveAttachedAndFreeStandingManagers_AreListed));
        var attached = Lineage.GetOrCreateManager(TestIds.New("attached"));
        using var freeStanding = new ThreadPoolManager(TestIds.New("free"));
        using var running = Lineage.CreateManager(TestIds.New("running"));
        running.Start(1);

        var all = ThreadPoolManager.AllInstances;

        Assert.Contains(attached, all);
        Assert.Contains(freeStanding, all);
        Assert.Contains(running, all);
        Assert.Null(freeStanding.Owner);
    }

    // ---- Helpers (not inlined, so that the JIT keeps no reference to what they allocate) ---------------------

    /// <summary>
    /// On a chain of <paramref name="nearerNodes"/> nested threads, each attaching another id to its own node, looks
    /// <paramref name="id"/> up from the innermost: strict, try, get-or-create; and returns its node.
    /// </summary>
    private static (ThreadPoolManager Strict, bool Tried, ThreadPoolManager? Found, ThreadPoolManager GetOrCreated, LineageNode Nearest) LookUpBelowNodesWithOtherIds(string id, int nearerNodes) =>
        Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("other"));
            if (nearerNodes > 1)
            {
                return LookUpBelowNodesWithOtherIds(id, nearerNodes - 1);
            }

            var strict = Lineage.GetManager(id);
            var tried = Lineage.TryGetManager(id, out var found);
            return (strict, tried, found, Lineage.GetOrCreateManager(id), Lineage.Current);
        });

    private static T BlockOn<T>(Task<T> task) => task.Result;

    /// <summary>Starts a child flow that, once <paramref name="attached"/> is set, looks <paramref name="id"/> up (null if not found).</summary>
    private static Task<ThreadPoolManager?> StartChildWaitingFor(string id, ManualResetEventSlim attached) =>
        TestThreads.StartChild(() =>
        {
            Bounded.Wait(attached, "the parent's later attach");
            return Lineage.TryGetManager(id, out var seen) ? seen : null;
        });

    private static async Task<(LineageNode Current, int Thread)> ResumeAfterAsync(Task signal)
    {
        await signal;
        return (Lineage.Current, Environment.CurrentManagedThreadId);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (int ThreadId, ThreadPoolManager Manager, bool DescendantSaw) AttachOnShortLivedThreadWithDescendant(string id) =>
        Bounded.OnNewThread(
            () =>
            {
                var manager = Lineage.GetOrCreateManager(id);
                var descendantSaw = Bounded.OnNewThread(() => Lineage.TryGetManager(id, out var seen) && ReferenceEquals(seen, manager), "descendant");
                return (Environment.CurrentManagedThreadId, manager, descendantSaw);
            },
            "attaching-thread");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (int ThreadId, bool Saw, ThreadPoolManager Own) LookUpAndAttachOnShortLivedThread(string id) =>
        // A child of the test's flow (an ancestor of the dead thread's node), joined so its id can be recycled.
        Bounded.OnNewThread(
            () => (Environment.CurrentManagedThreadId, Lineage.TryGetManager(id, out _), Lineage.GetOrCreateManager(id)),
            "short-lived");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Node, WeakReference Manager) AttachInEndedFlow(string id, bool start) =>
        Bounded.OnNewThread(() =>
        {
            var manager = Lineage.GetOrCreateManager(id);
            if (start)
            {
                manager.Start(1);
                var worker = Bounded.Result(manager.Submit(() => Thread.CurrentThread), "worker thread");
                manager.Stop();
                // Stop returns once the pool has drained; the worker thread itself may still be finishing.
                Bounded.Join(worker, "the stopped pool's worker");
            }

            return (new WeakReference(Lineage.Current), new WeakReference(manager));
        });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (WeakReference Node, WeakReference Manager, WeakReference Worker) StartInEndedFlow(string id) =>
        Bounded.OnNewThread(() =>
        {
            var manager = Lineage.GetOrCreateManager(id);
            manager.Start(1);
            var worker = Bounded.Result(manager.Submit(() => Thread.CurrentThread), "worker thread");
            return (new WeakReference(Lineage.Current), new WeakReference(manager), new WeakReference(worker));
        });

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int LiveChildCount(LineageNode node) => node.Children.Count;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void StopAndJoin(WeakReference manager, WeakReference worker)
    {
        ((ThreadPoolManager)manager.Target!).Stop();
        if (worker.Target is Thread thread)
        {
            Bounded.Join(thread, "the stopped pool's worker");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AttachInShortLivedFlows(int count, string id)
    {
        const int Batch = 1_000;
        var flows = new Task[Batch];
        for (var done = 0; done < count; done += Batch)
        {
            for (var i = 0; i < Batch; i++)
            {
                // Each Task.Run is a flow of its own that inherits the scope's node and attaches to a new node.
                flows[i] = Task.Run(() => { Lineage.GetOrCreateManager(id); });
            }

            Bounded.Wait(Task.WhenAll(flows), "a batch of short-lived flows");
        }

        Array.Clear(flows);
    }

    private static int IndexOfLineContaining(string[] lines, string text)
    {
        var index = Array.FindIndex(lines, line => line.Contains(text, StringComparison.Ordinal));
        Assert.True(index >= 0, $"Describe() does not mention '{text}'.");
        return index;
    }

    private static string LineContaining(string description, string text)
    {
        var lines = description.Split('\n');
        return lines[IndexOfLineContaining(lines, text)];
    }

    private static int Indentation(string line) => line.Length - line.TrimStart().Length;

    /// <summary>Runs flows as <see cref="Runner"/> says; disposing it stops the pool or the scheduler's thread.</summary>
    private sealed class FlowRunner : IDisposable
    {
        private readonly SingleThreadScheduler? _scheduler;
        private readonly ThreadPoolManager? _pool;

        public FlowRunner(Runner runner, string name)
        {
            if (runner == Runner.OneThreadTaskScheduler)
            {
                _scheduler = new SingleThreadScheduler(name);
            }
            else if (runner == Runner.OneWorkerPool)
            {
                _pool = new ThreadPoolManager(TestIds.New(name));
                _pool.Start(1);
            }
        }

        public Task<T> Run<T>(Func<T> work) => _pool?.Submit(work) ?? _scheduler?.Run(work) ?? Task.Run(work);

        public Task<T> RunAsync<T>(Func<Task<T>> work) => _pool?.Submit(work) ?? _scheduler?.RunAsync(work) ?? Task.Run(work);

        public void Dispose()
        {
            _pool?.Dispose();
            _scheduler?.Dispose();
        }
    }
}
