namespace ThreadLineage.Tests.Pools;

/// <summary>Bugs found while building the demo and docs, each pinned by the test that showed it.</summary>
public class RegressionTests
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    [Fact]
    public void Submit_WithAlreadyCanceledToken_ReturnsCanceledTaskAndNeverRuns()
    {
        using var manager = new ThreadPoolManager("regression-canceled");
        manager.Start(1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var ran = false;

        var action = manager.Submit(() => { ran = true; }, cancellationToken: cts.Token);
        var func = manager.Submit(() => ran = true, cancellationToken: cts.Token);
        var asyncWork = manager.Submit(async () => { ran = true; await Task.Yield(); }, cancellationToken: cts.Token);

        Assert.Equal(TaskStatus.Canceled, action.Status);
        Assert.Equal(TaskStatus.Canceled, func.Status);
        Assert.True(SpinWait.SpinUntil(() => asyncWork.IsCompleted, Bounded.Timeout));
        Assert.Equal(TaskStatus.Canceled, asyncWork.Status);
        manager.Stop();
        Assert.False(ran);
        Assert.Equal(3, manager.GetStatistics().Canceled);
    }

    [Fact]
    public void Submit_UnderSuppressFlow_DoesNotLeakAsyncLocalsToTheNextItem()
    {
        using var manager = new ThreadPoolManager("regression-suppressed");
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

    [Fact]
    public void InlineNestedWait_WithFlowOff_LeavesTheWaitersContextIntact()
    {
        using var manager = new ThreadPoolManager("regression-inline-context");
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
    public void Submit_AfterDispose_MessageNamesTheManager()
    {
        var manager = new ThreadPoolManager("regression-disposed");
        manager.Start(1);
        manager.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => { _ = manager.Submit(() => { }); });
        Assert.Contains("regression-disposed", error.Message);
    }

    [Fact]
    public void WaitForIdleAsync_WhenTheLastBusyWorkerRetires_Completes()
    {
        for (var round = 0; round < 300; round++)
        {
            using var manager = new ThreadPoolManager("regression-idle-retire");
            manager.Start(2);
            manager.SetMaxWorkers(1);
            Bounded.Wait(manager.WaitForIdleAsync(), $"idle after shrinking (round {round})");
        }
    }

    [Fact]
    public void RunInCaller_PostAndSubmit_LeaveTheCallersContextAndLineageUntouched() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("caller");
        using var manager = new ThreadPoolManager("regression-caller-isolation");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = QueueFullMode.RunInCaller });
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        _ = manager.Submit(() => { started.Set(); release.Wait(Bounded.Timeout); });
        Bounded.Wait(started, "blocker");
        _ = manager.Submit(() => { }); // fills the queue

        var id = $"leak-{Guid.NewGuid():N}";
        s_ambient.Value = "caller";
        manager.Post(() =>
        {
            s_ambient.Value = "posted";
            Lineage.CreateManager(id);
        });
        Assert.Equal("caller", s_ambient.Value);
        Assert.False(Lineage.TryGetManager(id, out _), "a manager attached by work run in the caller must not land on the caller's node");

        var submitted = manager.Submit(() =>
        {
            s_ambient.Value = "submitted";
            Lineage.CreateManager(id);
        });
        Assert.True(submitted.IsCompletedSuccessfully);
        Assert.Equal("caller", s_ambient.Value);
        Assert.False(Lineage.TryGetManager(id, out _));
        Assert.Same(scope.Node, Lineage.Current);
        release.Set();
        return true;
    });

    [Fact]
    public void RunInCaller_WithFlowOff_RunsInThePoolsOwnContext() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("caller");
        var id = $"flow-off-{Guid.NewGuid():N}";
        var manager = Lineage.Root.GetOrCreateManager(id);
        try
        {
            manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = QueueFullMode.RunInCaller, FlowExecutionContext = false });
            using var release = new ManualResetEventSlim();
            using var started = new ManualResetEventSlim();
            _ = manager.Submit(() => { started.Set(); release.Wait(Bounded.Timeout); });
            Bounded.Wait(started, "blocker");
            _ = manager.Submit(() => { });

            s_ambient.Value = "caller";
            (string? Ambient, LineageNode Node) seen = default;
            var inCaller = manager.Submit(() => seen = (s_ambient.Value, Lineage.Current));
            Assert.True(inCaller.IsCompletedSuccessfully);
            Assert.Null(seen.Ambient);
            Assert.Same(Lineage.Root, seen.Node);
            Assert.Equal("caller", s_ambient.Value);
            release.Set();
        }
        finally
        {
            manager.Dispose();
        }

        return true;
    });
}
