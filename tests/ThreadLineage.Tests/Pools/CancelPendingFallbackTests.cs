using ThreadLineage.Internal;
using ThreadLineage.Pools;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// <c>Stop(cancelPending: true)</c> with and without the runtime's fast path (docs/pools.md, "How <c>cancelPending</c> cancels
/// queued work"). The fast path is taken away through an internal seam: the manager's <see cref="TaskCanceler"/> is replaced
/// by one whose accessor throws <see cref="MissingMethodException"/>, as the runtime's does where <c>Task.InternalCancel</c> is
/// missing. The seam is per manager, so tests running in parallel keep the real one.
/// </summary>
public class CancelPendingFallbackTests
{
    [Fact]
    public void TaskCanceler_OnThisRuntime_HasTheFastPath()
    {
        Assert.True(TaskCanceler.Runtime.IsAvailable, "Task.InternalCancel is missing: queued submissions are canceled through the slower fallback");

        var task = new Task(static () => { });
        Assert.True(TaskCanceler.Runtime.TryRequestCancellation(task));
        Assert.True(task.IsCanceled, "a request on a task that was never started cancels it at once");
    }

    [Fact]
    public void TaskCanceler_MemberMissing_FailsOnceAtTheProbe_AndSwitchesToTheFallbackForGood()
    {
        var canceler = MissingMember(out var calls);

        Assert.False(canceler.IsAvailable);
        Assert.Equal(1, calls());
        Assert.False(canceler.TryRequestCancellation(new Task(static () => { })));
        Assert.False(canceler.TryRequestCancellation(new Task(static () => { })));
        Assert.Equal(1, calls());
    }

    [Fact]
    public void Submit_WithoutTheFastPath_CreatesEachItemWithATokenOfItsOwn_AndWithItOnlyThen()
    {
        using var fallback = new ThreadPoolManager(TestIds.New("cancel-fallback-token"));
        fallback.Canceler = MissingMember(out _);
        fallback.Start(1);
        using var normal = new ThreadPoolManager(TestIds.New("cancel-fast-token"));
        normal.Start(1);

        using var caller = new CancellationTokenSource();
        var owned = fallback.Submit(static () => { }, cancellationToken: caller.Token);
        var plain = normal.Submit(static () => { }, cancellationToken: caller.Token);
        Bounded.Wait(Task.WhenAll(owned, plain), "the items");

        Assert.NotNull(((IPoolWorkItem)owned).Cancellation);
        Assert.Null(((IPoolWorkItem)plain).Cancellation);
    }

    [Fact]
    public void CallersToken_WithoutTheFastPath_KeepsItsMeaning()
    {
        using var manager = new ThreadPoolManager(TestIds.New("cancel-fallback-caller"));
        manager.Canceler = MissingMember(out _);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LogExceptions = false });
        var ran = 0;

        // Already canceled at Submit: born canceled, never queued.
        using var before = new CancellationTokenSource();
        before.Cancel();
        var bornCanceled = manager.Submit(() => { Interlocked.Increment(ref ran); }, cancellationToken: before.Token);
        Assert.Equal(TaskStatus.Canceled, bornCanceled.Status);

        // Canceled while queued: the work never runs, the task ends canceled.
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        using var whileQueued = new CancellationTokenSource();
        var queuedAction = manager.Submit(() => { Interlocked.Increment(ref ran); }, cancellationToken: whileQueued.Token);
        var queuedFunc = manager.Submit(() => Interlocked.Increment(ref ran), cancellationToken: whileQueued.Token);
        whileQueued.Cancel();
        gate.Open();
        Bounded.WaitFinal(Task.WhenAll(blocker, queuedAction, queuedFunc), "the queued items");
        Assert.Equal(TaskStatus.Canceled, queuedAction.Status);
        Assert.Equal(TaskStatus.Canceled, queuedFunc.Status);
        Assert.Equal(0, Volatile.Read(ref ran));

        // The work acknowledges its caller's token: canceled, not faulted. Another token's exception is a fault.
        using var during = new CancellationTokenSource();
        var acknowledged = manager.Submit(
            () =>
            {
                during.Cancel();
                during.Token.ThrowIfCancellationRequested();
            },
            cancellationToken: during.Token);
        using var other = new CancellationTokenSource();
        using var unrelated = new CancellationTokenSource();
        var foreign = manager.Submit(
            () =>
            {
                unrelated.Cancel();
                unrelated.Token.ThrowIfCancellationRequested();
                return 1;
            },
            cancellationToken: other.Token);
        Bounded.WaitFinal(Task.WhenAll(acknowledged, foreign), "the items that throw");
        Assert.Equal(TaskStatus.Canceled, acknowledged.Status);
        Assert.Equal(TaskStatus.Faulted, foreign.Status);
        Assert.IsType<OperationCanceledException>(foreign.Exception!.InnerException);

        Bounded.Stop(manager);
        var statistics = manager.GetStatistics();
        Assert.Equal((1L, 1L, 4L), (statistics.Completed, statistics.Faulted, statistics.Canceled));
    }

    [Fact]
    public void NestedWait_WithoutTheFastPath_StillRunsTheQueuedItemInline()
    {
        using var manager = new ThreadPoolManager(TestIds.New("cancel-fallback-nested"));
        manager.Canceler = MissingMember(out _);
        manager.Start(1);
        using var caller = new CancellationTokenSource();

        var outer = manager.Submit(() => manager.Submit(static () => 7, cancellationToken: caller.Token).Result + 1);

        Assert.Equal(8, Bounded.Result(outer, "a nested wait on the only worker"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void StopCancelPending_WithoutTheFastPath_CancelsEveryQueuedSubmission_RunsNone_AndCanStartAgain(bool borrowing, bool stopAsyncToken)
    {
        using var scope = Lineage.BeginScope("cancel-fallback");
        var hostId = TestIds.New("cancel-fallback-host");
        var host = Lineage.CreateManager(hostId);
        host.Start(1);
        var manager = Lineage.CreateManager(TestIds.New("cancel-fallback"));
        manager.Canceler = MissingMember(out _);
        var options = borrowing
            ? new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId }
            : new ThreadPoolManagerOptions { MaxWorkers = 1 };
        manager.Start(options);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var ran = 0;
        using var callers = new CancellationTokenSource();
        var queued = new Task[]
        {
            manager.Submit(() => { Interlocked.Increment(ref ran); }),
            manager.Submit(() => { Interlocked.Increment(ref ran); }, cancellationToken: callers.Token),
            manager.Submit(() => Interlocked.Increment(ref ran)),
            manager.Submit(() => Interlocked.Increment(ref ran), cancellationToken: callers.Token),
            manager.Submit(async () =>
            {
                Interlocked.Increment(ref ran);
                await Task.Yield();
            }),
            manager.Submit(
                async () =>
                {
                    Interlocked.Increment(ref ran);
                    await Task.Yield();
                    return 1;
                },
                cancellationToken: callers.Token),
        };
        manager.Post(() => Interlocked.Increment(ref ran));

        using var grace = new CancellationTokenSource();
        var stop = stopAsyncToken
            ? manager.StopAsync(grace.Token)
            : Bounded.OnLongRunningThread(() => manager.Stop(wait: true, cancelPending: true));
        if (stopAsyncToken)
        {
            // StopAsync drains until its token fires; then what is still queued is canceled, as with cancelPending.
            grace.Cancel();
        }

        // The stop cancels what is queued at once, while the running item still holds its worker.
        foreach (var task in queued)
        {
            Bounded.WaitFinal(task, "a queued submission to end");
        }

        Assert.All(queued, static task => Assert.Equal(TaskStatus.Canceled, task.Status));
        Assert.False(stop.IsCompleted, "the stop waits for the running item");
        gate.Open();
        Bounded.Wait(stop, "the stop");
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
        Assert.Equal(0, Volatile.Read(ref ran));
        var statistics = manager.GetStatistics();
        Assert.Equal((1L, 0L, 7L), (statistics.Completed, statistics.Faulted, statistics.Canceled));

        // Nothing broke: the manager (and the host it borrows from) start and run work again.
        manager.Start(options);
        Assert.Equal(5, Bounded.Result(manager.Submit(static () => 5), "work after the restart"));
        Assert.True(host.IsRunning);
    }

    /// <summary>A canceler whose accessor fails as the runtime's does when <c>Task.InternalCancel</c> is missing.</summary>
    private static TaskCanceler MissingMember(out Func<int> calls)
    {
        var count = 0;
        calls = () => Volatile.Read(ref count);
        return new TaskCanceler(_ =>
        {
            Interlocked.Increment(ref count);
            throw new MissingMethodException("System.Threading.Tasks.Task", "InternalCancel");
        });
    }
}
