using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace ThreadLineage.Tests.Pools;

/// <content>Execution context: docs/pools.md, "Context".</content>
public partial class ThreadPoolManagerTests
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    [Fact]
    public void Submit_AsyncLocalSetBeforeSubmit_VisibleInWorkAndAfterItsAwaits()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-async-local"));
        manager.Start(2);
        var local = new AsyncLocal<string?> { Value = "submitter" };

        var sync = manager.Submit(() => local.Value);
        var async = manager.Submit(async () =>
        {
            var before = local.Value;
            await Task.Yield();
            return (Before: before, After: local.Value);
        });

        Assert.Equal("submitter", Bounded.Result(sync, "sync work"));
        Assert.Equal(("submitter", "submitter"), Bounded.Result(async, "async work"));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Submit_AsyncLocalSetInsideItem_DoesNotLeakToNextItemOnSameWorker(bool flowExecutionContext)
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-no-leak"));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = flowExecutionContext });
        var local = new AsyncLocal<string?>();

        var first = manager.Submit(() =>
        {
            local.Value = "set by the first item";
            return Thread.CurrentThread;
        });
        var second = manager.Submit(() => (Thread: Thread.CurrentThread, Value: local.Value));

        var firstThread = Bounded.Result(first, "the first item");
        var seen = Bounded.Result(second, "the second item");
        Assert.Same(firstThread, seen.Thread);
        Assert.Null(seen.Value);
    }

    // Before 007f364, a task created under SuppressFlow (no captured context) leaked an item's AsyncLocals to the next item.
    [Fact]
    public void Submit_UnderSuppressFlow_AsyncLocalSetInsideItem_DoesNotLeakToNextItem()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-suppressed"));
        manager.Start(1);
        Task first, second;
        string? seenBySecond = "unset";
        using (ExecutionContext.SuppressFlow())
        {
            first = manager.Submit(() => s_ambient.Value = "leaked");
            second = manager.Submit(() => seenBySecond = s_ambient.Value);
        }

        Bounded.Wait(Task.WhenAll(first, second), "both items");
        Assert.Null(seenBySecond);
    }

    // Before 007f364, an item run inline by a nested wait with flow off did not keep the waiter's context.
    [Fact]
    public void Submit_NestedWaitRunsItemInlineWithFlowOff_WaitersAsyncLocalsIntact()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-inline-flow-off"));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });
        var outer = manager.Submit(() =>
        {
            s_ambient.Value = "waiter";
            var inner = manager.Submit(() =>
            {
                var seen = s_ambient.Value;
                s_ambient.Value = "inner";
                return seen;
            });
            var innerSaw = inner.Result; // runs inline on this worker
            return (innerSaw, after: s_ambient.Value);
        });

        var (innerSaw, after) = Bounded.Result(outer, "outer work");
        Assert.Null(innerSaw);
        Assert.Equal("waiter", after);
    }

    [Fact]
    public void Submit_CurrentCulture_FlowsToWork()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-culture"));
        manager.Start(1);
        var previous = (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture);
        var culture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        var uiCulture = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        try
        {
            CultureInfo.CurrentCulture = culture;
            CultureInfo.CurrentUICulture = uiCulture;

            var seen = Bounded.Result(manager.Submit(() => (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture)), "work");

            Assert.Same(culture, seen.Item1);
            Assert.Same(uiCulture, seen.Item2);
        }
        finally
        {
            (CultureInfo.CurrentCulture, CultureInfo.CurrentUICulture) = previous;
        }
    }

    [Fact]
    public void Submit_ActivityCurrent_FlowsToWork()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-activity"));
        manager.Start(1);
        using var activity = new Activity(TestIds.New("activity")).Start();

        Assert.Same(activity, Bounded.Result(manager.Submit(() => Activity.Current), "work"));
    }

    [Fact]
    public void Submit_InScope_WorkSeesSubmittersLineage()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-lineage"));
        manager.Start(2);
        using var scope = Lineage.BeginScope("submitter");

        var sync = manager.Submit(() => Lineage.Current);
        var async = manager.Submit(async () =>
        {
            await Task.Yield();
            return Lineage.Current;
        });

        Assert.Same(scope.Node, Bounded.Result(sync, "sync work"));
        Assert.Same(scope.Node, Bounded.Result(async, "async work"));
    }

    [Fact]
    public void Submit_FlowExecutionContextOffOnRootManager_WorkSeesRootNotSubmittersContext()
    {
        // Attached to the root under an id unique to this run, so no other test resolves it.
        using var manager = Lineage.Root.GetOrCreateManager($"pool-context-flow-off-root-{Guid.NewGuid():N}");
        Assert.Same(Lineage.Root, manager.Owner);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });
        var local = new AsyncLocal<string?> { Value = "submitter" };
        using var scope = Lineage.BeginScope("submitter");

        var sync = manager.Submit(() => (Node: Lineage.Current, Value: local.Value));
        var async = manager.Submit(async () =>
        {
            await Task.Yield();
            return (Node: Lineage.Current, Value: local.Value);
        });

        foreach (var seen in new[] { Bounded.Result(sync, "sync work"), Bounded.Result(async, "async work") })
        {
            Assert.Same(Lineage.Root, seen.Node);
            Assert.Null(seen.Value);
        }
    }

    [Fact]
    public void Submit_FlowExecutionContextOffOnScopeManager_WorkSeesOwnerNotSubmittersNode()
    {
        using var ownerScope = Lineage.BeginScope("owner");
        var manager = Lineage.GetOrCreateManager(TestIds.New("context-flow-off-scope"));
        Assert.Same(ownerScope.Node, manager.Owner);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });

        LineageNode seen;
        using (var submitterScope = Lineage.BeginScope("submitter"))
        {
            Assert.NotSame(ownerScope.Node, Lineage.Current);
            seen = Bounded.Result(manager.Submit(() => Lineage.Current), "work");
        }

        // Disposing ownerScope stops the manager.
        Assert.Same(ownerScope.Node, seen);
    }

    [Fact]
    public void Start_AsyncLocalOfStarter_IsNotKeptAliveByWorkers()
    {
        using var manager = new ThreadPoolManager(TestIds.New("context-unsafe-start"));

        var payload = StartWhileAsyncLocalHolds(manager);
        Bounded.Wait(manager.Submit(() => { }), "work on the running pool");
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.True(manager.IsRunning);
        Assert.False(payload.IsAlive, "A running worker keeps the starter's AsyncLocal value alive (was it started with Thread.Start instead of UnsafeStart?).");
    }

    /// <summary>Starts <paramref name="manager"/> while an AsyncLocal holds a fresh object, clears it, and returns a weak reference to it.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference StartWhileAsyncLocalHolds(ThreadPoolManager manager)
    {
        var local = new AsyncLocal<object?>();
        var payload = new object();
        local.Value = payload;
        manager.Start(2);
        local.Value = null;
        return new WeakReference(payload);
    }
}
