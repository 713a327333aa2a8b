using System.Collections.Concurrent;

// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// <see cref="Lineage.BeginScope(string?)"/> and <see cref="LineageScope"/> (docs/lineage.md, "Scopes").
/// Each test runs inside an outer scope of its own, so what it attaches never reaches the shared root.
/// </summary>
public class LineageScopeTests
{
    [Fact]
    public void BeginScope_WithName_CreatesNamedChildOfCurrentAndMakesItCurrent()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_WithName_CreatesNamedChildOfCurrentAndMakesItCurrent));
        var name = TestIds.New("request");

        using var scope = Lineage.BeginScope(name);

        Assert.Equal(name, scope.Node.Name);
        Assert.Same(outer.Node, scope.Node.Parent);
        Assert.Same(scope.Node, Lineage.Current);
        Assert.Empty(scope.Node.Managers);
        Assert.Contains(scope.Node, outer.Node.Children);
    }

    [Fact]
    public void BeginScope_WithoutName_CreatesUnnamedNode()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_WithoutName_CreatesUnnamedNode));

        using var scope = Lineage.BeginScope();

        Assert.Null(scope.Node.Name);
        Assert.Same(outer.Node, scope.Node.Parent);
    }

    [Fact]
    public void BeginScope_InInheritedFlow_CreatesChildOfInheritedNode()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_InInheritedFlow_CreatesChildOfInheritedNode));

        var (parent, current) = Bounded.OnNewThread(() =>
        {
            using var scope = Lineage.BeginScope("inner");
            return (scope.Node.Parent, Lineage.Current);
        });

        Assert.Same(outer.Node, parent);
        Assert.Same(outer.Node, current.Parent);
    }

    [Fact]
    public void BeginScope_FlowsStartedInside_InheritTheScopeNode()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_FlowsStartedInside_InheritTheScopeNode));
        var id = TestIds.New("io");
        using var scope = Lineage.BeginScope("job");
        var attached = Lineage.GetOrCreateManager(id);

        var (current, seen) = Bounded.OnNewThread(() => (Lineage.Current, Lineage.GetManager(id)));
        var seenByTask = Bounded.Result(Task.Run(() => Lineage.GetManager(id)), "Task.Run child");

        Assert.Same(scope.Node, current);
        Assert.Same(attached, seen);
        Assert.Same(attached, seenByTask);
    }

    [Fact]
    public void BeginScope_ChildStartedBeforeLaterAttach_SeesManagersAttachedToScopeNodeLater()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_ChildStartedBeforeLaterAttach_SeesManagersAttachedToScopeNodeLater));
        var id = TestIds.New("io");
        using var scope = Lineage.BeginScope("job");
        using var attached = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            Bounded.Wait(attached, "the scope's attach");
            return Lineage.GetManager(id);
        });

        var manager = Lineage.GetOrCreateManager(id);
        attached.Set();

        Assert.Same(manager, Bounded.Result(child, "child"));
    }

    [Fact]
    public void GetOrCreateManager_AfterCallingAsyncMethodThatYieldedInsideItsOwnScope_StillAttachesToCallersScopeNode()
    {
        // The caller never leaves its thread: an async method it calls begins a scope of its own and yields
        // (a real await). The caller still owns its scope's node, so a child flow it started inside the scope
        // sees what the caller attaches afterwards (docs/lineage.md, "Flows started before a flow got its own node":
        // give a thread its own node before it starts children, with Lineage.BeginScope()).
        using var outer = Lineage.BeginScope(nameof(GetOrCreateManager_AfterCallingAsyncMethodThatYieldedInsideItsOwnScope_StillAttachesToCallersScopeNode));
        using var scope = Lineage.BeginScope("caller");
        var id = TestIds.New("io");
        using var attached = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            Bounded.Wait(attached, "the caller's attach");
            return Lineage.TryGetManager(id, out var seen) ? seen : null;
        });
        var resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var callee = CalleeWithOwnScopeAsync(resume.Task);
        var currentAfterCall = Lineage.Current;
        var manager = Lineage.GetOrCreateManager(id);
        attached.Set();
        resume.SetResult();
        Bounded.Wait(callee, "the async callee");

        Assert.Same(scope.Node, currentAfterCall);
        Assert.Same(scope.Node, manager.Owner);
        Assert.Same(manager, Bounded.Result(child, "child started inside the scope"));
    }

    [Fact]
    public void GetOrCreateManager_InsideScope_AttachesToTheScopeNodeItself()
    {
        using var outer = Lineage.BeginScope(nameof(GetOrCreateManager_InsideScope_AttachesToTheScopeNodeItself));
        using var scope = Lineage.BeginScope("job");

        var first = Lineage.GetOrCreateManager(TestIds.New("a"));
        var second = Lineage.CreateManager(TestIds.New("b"));

        Assert.Same(scope.Node, first.Owner);
        Assert.Same(scope.Node, second.Owner);
        Assert.Same(scope.Node, Lineage.Current);
        Assert.Empty(scope.Node.Children);
    }

    [Fact]
    public void BeginScope_Nested_InnerNodeIsChildOfOuterNode()
    {
        using var outer = Lineage.BeginScope(nameof(BeginScope_Nested_InnerNodeIsChildOfOuterNode));
        var id = TestIds.New("io");
        var outerManager = Lineage.GetOrCreateManager(id);

        using var inner = Lineage.BeginScope("inner");

        Assert.Same(outer.Node, inner.Node.Parent);
        Assert.Same(outerManager, Lineage.GetManager(id));
        Assert.False(inner.Node.TryGetManager(id, out _));
    }

    [Fact]
    public void Dispose_NestedScopes_RestoresEachPreviousCurrent()
    {
        var original = Lineage.Current;
        var outer = Lineage.BeginScope(nameof(Dispose_NestedScopes_RestoresEachPreviousCurrent));
        var inner = Lineage.BeginScope("inner");

        inner.Dispose();
        var afterInner = Lineage.Current;
        outer.Dispose();

        Assert.Same(outer.Node, afterInner);
        Assert.Same(original, Lineage.Current);
    }

    [Fact]
    public void Dispose_InFlowThatOwnedItsNodeBefore_FlowStillAttachesToThatNode()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_InFlowThatOwnedItsNodeBefore_FlowStillAttachesToThatNode));

        var (ownNode, afterScope, later) = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("first"));
            var ownNode = Lineage.Current;
            using (Lineage.BeginScope("inner"))
            {
                Lineage.GetOrCreateManager(TestIds.New("inside"));
            }

            return (ownNode, Lineage.Current, Lineage.GetOrCreateManager(TestIds.New("later")));
        });

        Assert.Same(ownNode, afterScope);
        Assert.Same(ownNode, later.Owner);
    }

    [Fact]
    public void Dispose_ManagerAttachedToScopeNode_IsStopped()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagerAttachedToScopeNode_IsStopped));
        var scope = Lineage.BeginScope("job");
        using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);
        using var notStarted = Lineage.GetOrCreateManager(TestIds.New("idle"));

        scope.Dispose();

        Assert.False(manager.IsRunning);
        Assert.False(notStarted.IsRunning);
    }

    [Fact]
    public void Dispose_ManagerAttachedBelowScopeByChildThread_IsStopped()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagerAttachedBelowScopeByChildThread_IsStopped));
        var scope = Lineage.BeginScope("job");
        var (child, grandchild) = Bounded.OnNewThread(() =>
        {
            var child = Lineage.GetOrCreateManager(TestIds.New("child"));
            child.Start(1);
            var grandchild = Bounded.OnNewThread(() =>
            {
                var manager = Lineage.CreateManager(TestIds.New("grandchild"));
                manager.Start(1);
                return manager;
            });
            return (child, grandchild);
        });
        using var childGuard = child;
        using var grandchildGuard = grandchild;

        scope.Dispose();

        Assert.False(child.IsRunning, "a manager attached by a child flow of the scope was not stopped");
        Assert.False(grandchild.IsRunning, "a manager attached by a grandchild flow of the scope was not stopped");
        Assert.Same(scope.Node, child.Owner!.Parent);
    }

    [Fact]
    public async Task Dispose_ManagerAttachedByScopesOwnFlowAfterRealAwait_IsStopped()
    {
        // After a real await the flow gets a new child node for what it attaches (ownership is per thread), but
        // that node is below the scope's: the scope still owns everything attached inside it.
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagerAttachedByScopesOwnFlowAfterRealAwait_IsStopped));
        var scope = Lineage.BeginScope("job");
        await Task.Delay(1);
        using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);

        scope.Dispose();

        Assert.True(IsSelfOrDescendant(manager.Owner!, scope.Node), "the manager was not attached inside the scope");
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public void Dispose_ManagerAttachedInsideScopeByTaskAfterAwait_IsStopped()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagerAttachedInsideScopeByTaskAfterAwait_IsStopped));
        var scope = Lineage.BeginScope("job");
        var manager = Bounded.Result(
            Task.Run(async () =>
            {
                await Task.Yield();
                var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
                manager.Start(1);
                return manager;
            }),
            "async flow inside the scope");
        using var guard = manager;

        scope.Dispose();

        Assert.False(manager.IsRunning);
        Assert.True(IsSelfOrDescendant(manager.Owner!, scope.Node), "the manager was not attached inside the scope");
    }

    [Fact]
    public void Dispose_ManagersAttachedBeforeScopeOrToRoot_AreNotStopped()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagersAttachedBeforeScopeOrToRoot_AreNotStopped));
        using var before = Lineage.GetOrCreateManager(TestIds.New("before"));
        before.Start(1);
        var scope = Lineage.BeginScope("job");
        using var root = Lineage.Root.GetOrCreateManager(TestIds.New("root-from-scope"));
        root.Start(1);
        using var inside = Lineage.GetOrCreateManager(TestIds.New("inside"));
        inside.Start(1);

        scope.Dispose();

        Assert.False(inside.IsRunning);
        Assert.True(before.IsRunning, "a manager attached before the scope began was stopped");
        Assert.True(root.IsRunning, "a manager attached to the root from inside the scope was stopped");
        Assert.Same(Lineage.Root, root.Owner);
    }

    [Fact]
    public void Dispose_QueuedWorkOfScopeManager_HasRunWhenDisposeReturns()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_QueuedWorkOfScopeManager_HasRunWhenDisposeReturns));
        var scope = Lineage.BeginScope("job");
        using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);
        var disposer = Thread.CurrentThread;
        using var disposeReturned = new ManualResetEventSlim();

        // The first item holds the only worker until the stop has begun and the disposing thread is blocked in
        // Dispose (or Dispose has returned without waiting), so the queued item cannot finish before that.
        var blocker = manager.Submit(() =>
        {
            Bounded.Until(() => !manager.IsRunning, "the scope's stop to begin");
            Bounded.Until(
                () => disposeReturned.IsSet || (disposer.ThreadState & ThreadState.WaitSleepJoin) != 0,
                "the disposing thread to block in Dispose");
        });
        var queued = manager.Submit(() => { });

        scope.Dispose();
        var queuedRanBeforeDisposeReturned = queued.IsCompleted;
        disposeReturned.Set();

        Assert.True(queuedRanBeforeDisposeReturned, "Dispose returned before the scope's managers drained their queues");
        Assert.Equal(TaskStatus.RanToCompletion, queued.Status);
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_WhileItsManagersAreBusy_WaitsForTheirWorkAndStopsThem(bool async)
    {
        using var gate = new ManualResetEventSlim();
        var ran = 0;
        var workers = new ConcurrentDictionary<Thread, bool>();
        ThreadPoolManager? own = null;
        ThreadPoolManager? below = null;
        Task[] tasks = [];
        LineageNode? before = null;
        LineageNode? after = null;

        // A fresh thread: the scope's flow starts from the root, and nothing else runs in it.
        var flow = TestThreads.StartChild(
            () =>
            {
                before = Lineage.Current;
                var scope = Lineage.BeginScope("busy-scope");
                own = Lineage.GetOrCreateManager(TestIds.New("scope-own"));
                own.Start(2);

                // A child flow attaches its manager to a node below the scope.
                var child = new Thread(() =>
                {
                    below = Lineage.CreateManager(TestIds.New("scope-below"));
                    below.Start(1);
                });
                child.Start();
                Bounded.Join(child, "child flow");

                tasks = [.. Enumerable.Range(0, 12).Select(i => (i % 2 == 0 ? own : below!).Submit(() =>
                {
                    workers[Thread.CurrentThread] = true;
                    Bounded.Wait(gate, "the gate");
                    Interlocked.Increment(ref ran);
                }))];

                if (async)
                {
                    scope.DisposeAsync().AsTask().GetAwaiter().GetResult();
                }
                else
                {
                    scope.Dispose();
                }

                after = Lineage.Current;
            },
            "scope-flow");

        Bounded.Until(() => own is { IsRunning: false } && below is { IsRunning: false }, "the scope's disposal has begun stopping both managers");
        Assert.False(flow.IsCompleted, "the scope's Dispose returned while its managers still had work");
        gate.Set();
        await Bounded.WaitAsync(flow, "the scope's disposal");

        Assert.Equal(12, Volatile.Read(ref ran));
        Assert.All(tasks, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        if (!async)
        {
            // DisposeAsync's restoring of Current is checked on its own, in DisposeAsync_RestoresCurrentInTheFlowThatAwaitsIt.
            Assert.Same(before, after);
        }

        Assert.All(workers.Keys, static t => Assert.False(t.IsAlive, $"worker {t.Name} is alive after the scope was disposed"));
        Assert.Equal(0, own!.GetStatistics().Workers + below!.GetStatistics().Workers);
    }

    [Fact]
    public void Dispose_SecondTimeWhileALaterScopeIsCurrent_DoesNothing() => Bounded.OnNewThread(() =>
    {
        var before = Lineage.Current;
        var first = Lineage.BeginScope(null);
        Assert.Null(first.Node.Name);
        using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);
        first.Dispose();
        manager.Start(1); // restarted after the scope ended
        var second = Lineage.BeginScope("");

        first.Dispose();

        Assert.Same(second.Node, Lineage.Current);
        Assert.True(manager.IsRunning, "a second Dispose stopped the scope's managers again");
        second.Dispose();
        Assert.Same(before, Lineage.Current);
        return true;
    });

    /// <summary>
    /// docs/lineage.md "Scopes": disposing restores the previous Current in the flow that disposes, DisposeAsync
    /// included, whether awaited directly or at the end of an <c>await using</c> block, and whether the previous
    /// Current is an outer scope's node the flow owns or the node a <see cref="Task.Run(Func{Task})"/> flow inherited.
    /// </summary>
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task DisposeAsync_RestoresCurrentInTheFlowThatAwaitsIt(bool awaitUsing, bool inTaskRun)
    {
        if (inTaskRun)
        {
            await Task.Run(() => AssertDisposeAsyncRestoresCurrent(awaitUsing));
            return;
        }

        using var outer = Lineage.BeginScope($"{nameof(DisposeAsync_RestoresCurrentInTheFlowThatAwaitsIt)}-{awaitUsing}");
        Assert.Same(outer.Node, await AssertDisposeAsyncRestoresCurrent(awaitUsing));
    }

    [Fact]
    public async Task DisposeAsync_ManagersAttachedInsideScope_AreStopped()
    {
        using var outer = Lineage.BeginScope(nameof(DisposeAsync_ManagersAttachedInsideScope_AreStopped));
        var scope = Lineage.BeginScope("job");
        await using var own = Lineage.GetOrCreateManager(TestIds.New("own"));
        own.Start(1);
        var child = Bounded.OnNewThread(() =>
        {
            var manager = Lineage.GetOrCreateManager(TestIds.New("child"));
            manager.Start(1);
            return manager;
        });
        await using var childGuard = child;
        var queued = own.Submit(() => { });

        await scope.DisposeAsync();

        Assert.False(own.IsRunning);
        Assert.False(child.IsRunning);
        Assert.Equal(TaskStatus.RanToCompletion, queued.Status);
        Assert.Equal(0, own.GetStatistics().Workers);
        Assert.Equal(0, child.GetStatistics().Workers);
    }

    [Fact]
    public async Task DisposeAsync_WhileScopeManagerIsBusy_ReturnsBeforeItDrains()
    {
        using var outer = Lineage.BeginScope(nameof(DisposeAsync_WhileScopeManagerIsBusy_ReturnsBeforeItDrains));
        var scope = Lineage.BeginScope("job");
        await using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);
        using var gate = new ManualResetEventSlim();
        // Bounded: were DisposeAsync to block until the drain, the item gives up after the timeout and the
        // assertion below fails instead of the test hanging.
        var busy = manager.Submit(() => Bounded.Wait(gate, "the test to release the busy item"));

        var disposing = scope.DisposeAsync().AsTask();
        var completedWhileBusy = disposing.IsCompleted;
        gate.Set();
        await Bounded.WaitAsync(disposing, "DisposeAsync");

        Assert.False(completedWhileBusy, "DisposeAsync blocked (or finished) before the scope's busy manager drained");
        Assert.False(manager.IsRunning);
        Assert.Equal(TaskStatus.RanToCompletion, busy.Status);
    }

    [Fact]
    public async Task DisposeAsync_ManagersAttachedBeforeScopeOrToRoot_AreNotStopped()
    {
        using var outer = Lineage.BeginScope(nameof(DisposeAsync_ManagersAttachedBeforeScopeOrToRoot_AreNotStopped));
        await using var before = Lineage.GetOrCreateManager(TestIds.New("before"));
        before.Start(1);
        var scope = Lineage.BeginScope("job");
        await using var root = Lineage.Root.GetOrCreateManager(TestIds.New("root-from-scope"));
        root.Start(1);

        await scope.DisposeAsync();

        Assert.True(before.IsRunning);
        Assert.True(root.IsRunning);
    }

    [Fact]
    public async Task DisposeAsync_SecondTime_DoesNothing()
    {
        using var outer = Lineage.BeginScope(nameof(DisposeAsync_SecondTime_DoesNothing));
        var first = Lineage.BeginScope("first");
        await using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);
        await first.DisposeAsync();
        manager.Start(1);

        await first.DisposeAsync();
        first.Dispose();

        Assert.True(manager.IsRunning, "a second DisposeAsync stopped the scope's managers again");
    }

    // ---- Disposal out of order, or from another flow (docs/lineage.md, "Ending a scope") ----------------------

    [Fact]
    public void Dispose_OuterScopeFirst_PopsTheInnerScopeTooAndDisposingInnerLaterChangesNothing()
    {
        using var test = Lineage.BeginScope(nameof(Dispose_OuterScopeFirst_PopsTheInnerScopeTooAndDisposingInnerLaterChangesNothing));
        var outer = Lineage.BeginScope("outer");
        var inner = Lineage.BeginScope("inner");

        outer.Dispose();
        var afterOuter = Lineage.Current;
        inner.Dispose();

        Assert.Same(test.Node, afterOuter);
        Assert.Same(test.Node, Lineage.Current);
    }

    [Fact]
    public void GetOrCreateManager_AfterOuterScopeDisposedFirst_AttachesToTheRestoredOwnNodeNotInsideEndedScopes()
    {
        using var test = Lineage.BeginScope(nameof(GetOrCreateManager_AfterOuterScopeDisposedFirst_AttachesToTheRestoredOwnNodeNotInsideEndedScopes));
        var outer = Lineage.BeginScope("outer");
        var inner = Lineage.BeginScope("inner");
        outer.Dispose();
        inner.Dispose();

        var manager = Lineage.GetOrCreateManager(TestIds.New("later"));

        // This flow owned the test scope's node before the outer scope began, so it owns it again.
        Assert.Same(test.Node, manager.Owner);
        Assert.Empty(outer.Node.Managers);
        Assert.Empty(inner.Node.Managers);
        Assert.Empty(inner.Node.Children);
    }

    [Fact]
    public void GetOrCreateManager_InInheritedFlowAfterOuterScopeDisposedFirst_AttachesToFreshNodeUnderRestoredCurrent()
    {
        using var test = Lineage.BeginScope(nameof(GetOrCreateManager_InInheritedFlowAfterOuterScopeDisposedFirst_AttachesToFreshNodeUnderRestoredCurrent));

        var (outer, inner, current, manager) = Bounded.OnNewThread(() =>
        {
            var outer = Lineage.BeginScope("outer");
            var inner = Lineage.BeginScope("inner");
            outer.Dispose();
            inner.Dispose();
            return (outer.Node, inner.Node, Lineage.Current, Lineage.GetOrCreateManager(TestIds.New("later")));
        });

        Assert.Same(test.Node, current);
        Assert.Same(test.Node, manager.Owner!.Parent);
        Assert.False(IsSelfOrDescendant(manager.Owner, outer), "a manager attached after the outer scope ended landed inside it");
        Assert.Empty(inner.Children);
    }

    [Fact]
    public async Task DisposeAsync_OuterScopeFirst_PopsTheInnerScopeToo()
    {
        using var test = Lineage.BeginScope(nameof(DisposeAsync_OuterScopeFirst_PopsTheInnerScopeToo));
        var outer = Lineage.BeginScope("outer");
        var inner = Lineage.BeginScope("inner");
        await using var manager = Lineage.GetOrCreateManager(TestIds.New("io"));
        manager.Start(1);

        await outer.DisposeAsync();
        var afterOuter = Lineage.Current;
        await inner.DisposeAsync();

        Assert.Same(test.Node, afterOuter);
        Assert.Same(test.Node, Lineage.Current);
        Assert.False(manager.IsRunning, "the outer scope's disposal did not stop a manager of the inner scope");
    }

    [Fact]
    public void Dispose_FromFlowWhoseCurrentIsBelowTheScopeNode_RestoresCurrentFromBeforeTheScope()
    {
        using var test = Lineage.BeginScope(nameof(Dispose_FromFlowWhoseCurrentIsBelowTheScopeNode_RestoresCurrentFromBeforeTheScope));
        var scope = Lineage.BeginScope("job");
        using var below = Lineage.BeginScope("below"); // stays undisposed: the flow is below the scope's node

        scope.Dispose();

        Assert.Same(test.Node, Lineage.Current);
    }

    [Fact]
    public void Dispose_ScopeOfAnotherFlow_StopsItsManagersAndKeepsTheDisposingFlowsCurrentAndOwnership()
    {
        // A janitor (this flow, in a scope of its own) disposes a request's scope. The request flow had its own node
        // with a manager before the scope began: the janitor must neither move there nor see that manager.
        using var test = Lineage.BeginScope(nameof(Dispose_ScopeOfAnotherFlow_StopsItsManagersAndKeepsTheDisposingFlowsCurrentAndOwnership));
        var siblingId = TestIds.New("request-sibling");
        using var handedOver = new ManualResetEventSlim();
        using var disposed = new ManualResetEventSlim();
        LineageScope? requestScope = null;
        ThreadPoolManager? requestManager = null;
        var request = TestThreads.StartChild(() =>
        {
            Lineage.GetOrCreateManager(siblingId);
            requestScope = Lineage.BeginScope("request");
            requestManager = Lineage.GetOrCreateManager(TestIds.New("io"));
            requestManager.Start(1);
            handedOver.Set();
            Bounded.Wait(disposed, "the janitor's disposal");
            return true;
        });
        using var janitor = Lineage.BeginScope("janitor");
        Bounded.Wait(handedOver, "the request's scope");
        using var managerGuard = requestManager!;
        var requestManagerStarted = requestManager!;

        try
        {
            requestScope!.Dispose();
        }
        finally
        {
            disposed.Set();
        }

        var currentAfter = Lineage.Current;
        var sawSibling = Lineage.TryGetManager(siblingId, out _);
        var attachedAfter = Lineage.GetOrCreateManager(TestIds.New("janitor-own"));
        Bounded.Result(request, "the request flow");

        Assert.False(requestManagerStarted.IsRunning, "disposing another flow's scope did not stop its managers");
        Assert.Same(janitor.Node, currentAfter);
        Assert.False(sawSibling, "the disposing flow moved into the request's branch and resolves its managers");
        Assert.Same(janitor.Node, attachedAfter.Owner);
    }

    [Fact]
    public void GetOrCreateManager_InScopesOwnFlowAfterAnotherFlowEndedTheScope_KeepsCurrentButAttachesToFreshNodeOutsideTheScope()
    {
        using var test = Lineage.BeginScope(nameof(GetOrCreateManager_InScopesOwnFlowAfterAnotherFlowEndedTheScope_KeepsCurrentButAttachesToFreshNodeOutsideTheScope));
        using var handedOver = new ManualResetEventSlim();
        using var disposed = new ManualResetEventSlim();
        LineageScope? requestScope = null;
        var request = TestThreads.StartChild(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("request-own")); // the request flow's own node, parent of its scope
            var ownNode = Lineage.Current;
            requestScope = Lineage.BeginScope("request");
            handedOver.Set();
            Bounded.Wait(disposed, "the janitor's disposal");
            var currentAfterEnd = Lineage.Current;
            var manager = Lineage.GetOrCreateManager(TestIds.New("after-end"));
            return (ownNode, currentAfterEnd, manager, CurrentAfterAttach: Lineage.Current);
        });
        Bounded.Wait(handedOver, "the request's scope");

        try
        {
            requestScope!.Dispose();
        }
        finally
        {
            disposed.Set();
        }

        var outcome = Bounded.Result(request, "the request flow");
        Assert.Same(requestScope.Node, outcome.currentAfterEnd);
        Assert.False(IsSelfOrDescendant(outcome.manager.Owner!, requestScope.Node), "a manager attached after the scope ended landed inside it");
        Assert.Same(outcome.ownNode, outcome.manager.Owner!.Parent);
        Assert.Same(outcome.manager.Owner, outcome.CurrentAfterAttach);
        Assert.Empty(requestScope.Node.Managers);
    }

    [Fact]
    public void GetOrCreateManager_InChildFlowStillInsideEndedScope_AttachesToFreshNodeUnderTheScopesPrevious()
    {
        using var test = Lineage.BeginScope(nameof(GetOrCreateManager_InChildFlowStillInsideEndedScope_AttachesToFreshNodeUnderTheScopesPrevious));
        var scope = Lineage.BeginScope("job");
        var id = TestIds.New("io");
        using var ended = new ManualResetEventSlim();
        using var attached = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            Lineage.CreateManager(TestIds.New("child-before")); // the child's own node, below the scope's
            var ownNode = Lineage.Current;
            attached.Set();
            Bounded.Wait(ended, "the scope's end");
            var currentAfterEnd = Lineage.Current;
            return (ownNode, currentAfterEnd, Manager: Lineage.GetOrCreateManager(id));
        });

        // The child attaches while the scope is still alive, then the scope ends.
        Bounded.Wait(attached, "the child's first attachment");
        scope.Dispose();
        ended.Set();
        var outcome = Bounded.Result(child, "the child flow");

        Assert.Same(scope.Node, outcome.ownNode.Parent);
        Assert.Same(outcome.ownNode, outcome.currentAfterEnd);
        Assert.False(IsSelfOrDescendant(outcome.Manager.Owner!, scope.Node), "a manager attached after the scope ended landed inside it");
        Assert.Same(test.Node, outcome.Manager.Owner!.Parent);
        Assert.Single(outcome.ownNode.Managers);
    }

    [Fact]
    public void BeginScope_InFlowStillInsideEndedScope_CreatesNodeOutsideItAndDisposeRestoresTheEndedCurrent()
    {
        using var test = Lineage.BeginScope(nameof(BeginScope_InFlowStillInsideEndedScope_CreatesNodeOutsideItAndDisposeRestoresTheEndedCurrent));
        var scope = Lineage.BeginScope("job");
        using var ended = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            Bounded.Wait(ended, "the scope's end");
            LineageNode nested;
            ThreadPoolManager manager;
            using (var inner = Lineage.BeginScope("nested"))
            {
                nested = inner.Node;
                manager = Lineage.GetOrCreateManager(TestIds.New("io"));
            }

            return (nested, manager, CurrentAfter: Lineage.Current);
        });

        scope.Dispose();
        ended.Set();
        var outcome = Bounded.Result(child, "the child flow");

        Assert.Same(test.Node, outcome.nested.Parent);
        Assert.Same(outcome.nested, outcome.manager.Owner);
        Assert.Same(scope.Node, outcome.CurrentAfter);
    }

    [Fact]
    public void GetOrCreateManager_OnEndedNodeExplicitly_AttachesThere()
    {
        using var test = Lineage.BeginScope(nameof(GetOrCreateManager_OnEndedNodeExplicitly_AttachesThere));
        var scope = Lineage.BeginScope("job");
        scope.Dispose();

        var manager = scope.Node.GetOrCreateManager(TestIds.New("explicit"));

        Assert.Same(scope.Node, manager.Owner);
        Assert.Same(test.Node, Lineage.Current);
    }

    /// <summary>
    /// Begins a scope and disposes it with <c>DisposeAsync</c> (awaited, or by an <c>await using</c> block), asserting that
    /// the scope's node was Current inside and that the Current from before is back after; returns that Current.
    /// </summary>
    private static async Task<LineageNode> AssertDisposeAsyncRestoresCurrent(bool awaitUsing)
    {
        var before = Lineage.Current;
        LineageNode inside;
        if (awaitUsing)
        {
            await using (var scope = Lineage.BeginScope("await-using"))
            {
                inside = Lineage.Current;
                Assert.Same(scope.Node, inside);
            }
        }
        else
        {
            var scope = Lineage.BeginScope("job");
            inside = Lineage.Current;
            Assert.Same(scope.Node, inside);
            await scope.DisposeAsync();
        }

        var after = Lineage.Current;
        Assert.NotSame(before, inside);
        Assert.True(
            ReferenceEquals(before, after),
            $"After DisposeAsync{(awaitUsing ? " at the end of 'await using (Lineage.BeginScope())'" : string.Empty)} Current is {after}, expected the node from before the scope ({before}).");
        return after;
    }

    private static async Task CalleeWithOwnScopeAsync(Task resume)
    {
        using var scope = Lineage.BeginScope("callee");
        await resume;
    }

    private static bool IsSelfOrDescendant(LineageNode node, LineageNode ancestor)
    {
        for (LineageNode? walk = node; walk is not null; walk = walk.Parent)
        {
            if (ReferenceEquals(walk, ancestor))
            {
                return true;
            }
        }

        return false;
    }
}
