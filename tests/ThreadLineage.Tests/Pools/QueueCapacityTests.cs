namespace ThreadLineage.Tests.Pools;

/// <summary>Bounded queues: QueueCapacity with QueueFullMode Wait, Reject and RunInCaller.</summary>
public sealed class QueueCapacityTests : IDisposable
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    private readonly ManualResetEventSlim _release = new();
    private readonly ManualResetEventSlim _started = new();

    public void Dispose()
    {
        _release.Set();
        _release.Dispose();
        _started.Dispose();
    }

    [Fact]
    public void Submit_Reject_WhenFull_ThrowsAndQueuesNothing()
    {
        using var manager = StartBlocked("cap-reject", QueueFullMode.Reject, capacity: 2);
        var queued = new[] { manager.Submit(() => 1), manager.Submit(() => 2) };
        var before = manager.GetStatistics();

        var error = Assert.Throws<ThreadPoolFullException>(() => { _ = manager.Submit(() => 3); });
        Assert.Throws<ThreadPoolFullException>(() => manager.Post(() => { }));

        Assert.Contains("cap-reject", error.Message);
        var after = manager.GetStatistics();
        Assert.Equal(before.QueuedItems, after.QueuedItems);
        Assert.Equal(before.Rejected + 2, after.Rejected);

        _release.Set();
        Assert.Equal([1, 2], Bounded.Result(Task.WhenAll(queued), "queued items"));
    }

    [Fact]
    public void Submit_RunInCaller_WhenFull_HasRunOnTheCallingThreadWhenItReturns()
    {
        using var manager = StartBlocked("cap-caller", QueueFullMode.RunInCaller, capacity: 1);
        var queued = manager.Submit(() => 1);

        var caller = Environment.CurrentManagedThreadId;
        var ranOn = -1;
        var inCaller = manager.Submit(() => ranOn = Environment.CurrentManagedThreadId);

        Assert.True(inCaller.IsCompletedSuccessfully, "RunInCaller work has run when Submit returns");
        Assert.Equal(caller, ranOn);

        var posted = -1;
        manager.Post(() => posted = Environment.CurrentManagedThreadId);
        Assert.Equal(caller, posted);

        _release.Set();
        Assert.Equal(1, Bounded.Result(queued, "queued item"));
    }

    // Before bef6abd, work run in the caller was not isolated like pool work (the caller's context and lineage).
    [Fact]
    public void PostAndSubmit_RunInCallerWhenFull_LeaveTheCallersContextAndLineageUntouched() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("caller");
        using var manager = new ThreadPoolManager("cap-caller-isolation");
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

    // Before bef6abd, work run in the caller with flow off ran in the caller's context.
    [Fact]
    public void Submit_RunInCallerWhenFullWithFlowOff_RunsInThePoolsOwnContext() => Bounded.OnNewThread(() =>
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

    [Fact]
    public void Submit_Wait_WhenFull_BlocksUntilThereIsRoom()
    {
        using var manager = StartBlocked("cap-wait", QueueFullMode.Wait, capacity: 1);
        var queued = manager.Submit(() => 1);

        var submitting = Bounded.OnLongRunningThread(() => manager.Submit(() => 2));
        Assert.False(submitting.Wait(TimeSpan.FromMilliseconds(100)), "a full queue in Wait mode blocks the submitter");

        _release.Set();
        var second = Bounded.Result(submitting, "the blocked submission to return");
        Assert.Equal(2, Bounded.Result(second, "second item"));
        Assert.Equal(1, Bounded.Result(queued, "first item"));
    }

    [Fact]
    public void Submit_Wait_TokenFiresWhileWaiting_TaskEndsCanceledAndNothingRuns()
    {
        using var manager = StartBlocked("cap-wait-cancel", QueueFullMode.Wait, capacity: 1);
        _ = manager.Submit(() => 1);
        using var cts = new CancellationTokenSource();
        var ran = false;
        var submitting = Bounded.OnLongRunningThread(() => manager.Submit(() => ran = true, cancellationToken: cts.Token));
        Assert.False(submitting.Wait(TimeSpan.FromMilliseconds(50)));

        cts.Cancel();
        var task = Bounded.Result(submitting, "the canceled submission to return");

        Assert.Equal(TaskStatus.Canceled, task.Status);
        _release.Set();
        manager.Stop();
        Assert.False(ran);
    }

    [Fact]
    public void Submit_Wait_FromOwnWorkerWhenFull_RunsInCallerInsteadOfDeadlocking()
    {
        using var manager = new ThreadPoolManager("cap-wait-own");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = QueueFullMode.Wait });
        var outer = manager.Submit(() =>
        {
            var filler = manager.Submit(() => 1);
            var worker = Environment.CurrentManagedThreadId;
            var inner = manager.Submit(() => Environment.CurrentManagedThreadId);
            return (inner.IsCompleted && inner.Result == worker, filler);
        });

        var (ranInline, filler) = Bounded.Result(outer, "outer work");
        Assert.True(ranInline, "the pool's own worker should run the item itself when the queue is full");
        Assert.Equal(1, Bounded.Result(filler, "filler"));
    }

    [Fact]
    public void QueueCapacity_CountsQueuedItemsNotRunningOnes()
    {
        using var manager = StartBlocked("cap-count", QueueFullMode.Reject, capacity: 1);
        // One item runs (blocked), one is queued: the capacity of one is used by the queued item only.
        var queued = manager.Submit(() => 2);
        Assert.Throws<ThreadPoolFullException>(() => { _ = manager.Submit(() => 3); });
        _release.Set();
        Assert.Equal(2, Bounded.Result(queued, "queued item"));
        Assert.Equal(4, Bounded.Result(manager.Submit(() => 4), "item after the queue drained"));
    }

    [Fact]
    public void Stop_WhileSubmitterWaitsForRoom_NothingIsLost()
    {
        var manager = StartBlocked("cap-stop", QueueFullMode.Wait, capacity: 1);
        var first = manager.Submit(() => 1);
        var submitting = Bounded.OnLongRunningThread(() => manager.Submit(() => 2));
        Assert.False(submitting.Wait(TimeSpan.FromMilliseconds(50)));

        var stopping = Bounded.OnLongRunningThread(() => manager.Stop(wait: true));
        _release.Set();
        Bounded.Wait(stopping, "Stop to drain");
        var second = Bounded.Result(submitting, "the waiting submission");
        Assert.Equal(1, Bounded.Result(first, "first"));
        Assert.Equal(2, Bounded.Result(second, "second"));
        manager.Dispose();
    }

    private ThreadPoolManager StartBlocked(string id, QueueFullMode mode, int capacity)
    {
        var manager = new ThreadPoolManager(id);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = capacity, QueueFullMode = mode });
        _ = manager.Submit(() => { _started.Set(); _release.Wait(Bounded.Timeout); });
        Bounded.Wait(_started, "the blocking item to start");
        return manager;
    }
}
