using System.Collections.Concurrent;

namespace ThreadLineage.Tests.Pools;

/// <content>
/// Lifecycle interleavings: Start, Stop, StopAsync and disposal under every interleaving the contract names
/// (docs/shutdown.md, "What each call does" and "The two promises behind everything"): every task reaches a final
/// state, and no worker thread survives a stop that has completed. (Stop(wait: true) draining the queue is with the
/// other shutdown tests; a scope disposed while its managers are busy is in LineageScopeTests.)
/// </content>
public partial class ThreadPoolManagerTests
{
    public enum StopKind
    {
        Stop,
        StopAsync,
        Dispose,
        DisposeAsync,
    }

    public static TheoryData<StopKind> WaitingStops => [StopKind.Stop, StopKind.StopAsync, StopKind.Dispose, StopKind.DisposeAsync];

    [Fact]
    public void StopWaitFalse_ReturnsAtOnce_QueuedWorkStillRuns()
    {
        var manager = NewTrackedManager("stop-nowait");
        manager.Start(1);
        using var gate = new ManualResetEventSlim();
        var running = manager.Submit(() => gate.Wait());
        var queued = Enumerable.Range(0, 5).Select(i => manager.Submit(() => i)).ToArray();

        // The running item is blocked on our gate: a Stop(wait: false) that waited would never return.
        Bounded.Wait(TestThreads.StartChild(() => manager.Stop(wait: false)), "Stop(wait: false) to return while work runs");
        Assert.False(manager.IsRunning);
        Assert.Throws<InvalidOperationException>(() => { _ = manager.Submit(() => { }); });

        gate.Set();
        Bounded.Wait(Task.WhenAll([running, .. queued]), "the queued work of a stopped pool");
        Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));

        manager.Stop(wait: true);
        manager.AssertNoWorkerAlive("after the final Stop(wait: true)");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void StopCancelPending_QueuedWorkEndsCanceled_RunningWorkCompletes(bool wait)
    {
        var manager = NewTrackedManager("stop-cancel");
        manager.Start(1);
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var ran = 0;
        var running = manager.Submit(() => { started.Set(); gate.Wait(); });
        Bounded.Wait(started, "the running item to start");
        var queued = new List<Task>
        {
            manager.Submit(() => { Interlocked.Increment(ref ran); }),
            manager.Submit(() => Interlocked.Increment(ref ran)),
            manager.Submit(async () => { Interlocked.Increment(ref ran); await Task.Yield(); }),
            manager.Submit(async () => { Interlocked.Increment(ref ran); await Task.Yield(); return 1; }),
        };
        manager.Post(() => Interlocked.Increment(ref ran));
        manager.Post(static state => Interlocked.Increment(ref state[0]), new int[1]);

        var stopping = TestThreads.StartChild(() => manager.Stop(wait, cancelPending: true));
        if (wait)
        {
            Bounded.Until(() => !manager.IsRunning, "the stop has begun");
            Assert.False(stopping.IsCompleted, "Stop(wait: true, cancelPending: true) returned while an item still ran");
            gate.Set();
            Bounded.Wait(stopping, "Stop(wait: true, cancelPending: true)");
            // The contract: with cancelPending, pending tasks are Canceled by the time Stop(wait: true) returns.
            Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
            manager.AssertNoWorkerAlive("after Stop(wait: true, cancelPending: true) returned");
        }
        else
        {
            Bounded.Wait(stopping, "Stop(wait: false, cancelPending: true)");
            gate.Set();
            Bounded.Wait(Task.WhenAll(queued).ContinueWith(static _ => { }, TaskScheduler.Default), "the canceled tasks");
            Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
            manager.Stop(wait: true);
            manager.AssertNoWorkerAlive("after the final Stop(wait: true)");
        }

        Bounded.Wait(running, "the running item");
        Assert.Equal(0, Volatile.Read(ref ran));
        var statistics = manager.GetStatistics();
        Assert.Equal(1, statistics.Completed);
        Assert.Equal(6, statistics.Canceled);
    }

    [Fact]
    public async Task StopAsync_TokenAlreadyCanceled_CancelsQueuedWork_WaitsForRunningWork()
    {
        var manager = NewTrackedManager("stopasync-before");
        manager.Start(1);
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var running = manager.Submit(() => { started.Set(); gate.Wait(); return 1; });
        Bounded.Wait(started, "the running item to start");
        var queued = Enumerable.Range(0, 5).Select(i => manager.Submit(() => i)).ToArray();

        var stopping = manager.StopAsync(new CancellationToken(canceled: true));

        // The running item is blocked on our gate, so the drain cannot have finished.
        Assert.False(stopping.IsCompleted, "StopAsync completed while an item was still running");
        Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
        gate.Set();
        await Bounded.WaitAsync(stopping, "StopAsync");
        Assert.Equal(TaskStatus.RanToCompletion, stopping.Status);
        Assert.Equal(1, await running);
        manager.AssertNoWorkerAlive("after StopAsync completed");
    }

    [Fact]
    public async Task StopAsync_TokenFiresDuringDrain_CancelsTheRest_WaitsForRunningWork()
    {
        var manager = NewTrackedManager("stopasync-during");
        manager.Start(1);
        using var firstGate = new ManualResetEventSlim();
        using var secondGate = new ManualResetEventSlim();
        using var secondStarted = new ManualResetEventSlim();
        var first = manager.Submit(() => { firstGate.Wait(); return 1; });
        var second = manager.Submit(() => { secondStarted.Set(); secondGate.Wait(); return 2; });
        var rest = Enumerable.Range(0, 8).Select(i => manager.Submit(() => i)).ToArray();

        using var cts = new CancellationTokenSource();
        var stopping = manager.StopAsync(cts.Token);
        firstGate.Set();
        Bounded.Wait(secondStarted, "the drain to reach the second item");

        await cts.CancelAsync();

        Assert.All(rest, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
        Assert.False(stopping.IsCompleted, "StopAsync completed while the second item was still running");
        secondGate.Set();
        await Bounded.WaitAsync(stopping, "StopAsync");
        Assert.Equal(1, await first);
        Assert.Equal(2, await second);
        manager.AssertNoWorkerAlive("after StopAsync completed");
        var statistics = manager.GetStatistics();
        Assert.Equal((2L, 8L), (statistics.Completed, statistics.Canceled));
    }

    [Fact]
    public async Task StopAsync_TokenFiresAfterDrain_ChangesNothing_ManagerStartsAgain()
    {
        var manager = NewTrackedManager("stopasync-after");
        manager.Start(2);
        var tasks = Enumerable.Range(0, 10).Select(i => manager.Submit(() => i)).ToArray();
        using var cts = new CancellationTokenSource();

        await Bounded.WaitAsync(manager.StopAsync(cts.Token), "StopAsync");
        await cts.CancelAsync();

        Assert.All(tasks, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        manager.AssertNoWorkerAlive("after StopAsync completed");
        manager.Start(1);
        Assert.Equal(5, await Bounded.ResultAsync(manager.Submit(() => 5), "work after a restart"));
        await Bounded.WaitAsync(manager.StopAsync(cts.Token), "StopAsync with a token canceled before it was called");
        manager.AssertNoWorkerAlive("after the second StopAsync completed");
        Assert.Equal((11L, 0L), (manager.GetStatistics().Completed, manager.GetStatistics().Canceled));
    }

    [Fact]
    public void Start_AfterStop_RunsAgain_StatisticsAccumulateAcrossRuns()
    {
        var manager = NewTrackedManager("restart");
        for (var run = 1; run <= 5; run++)
        {
            manager.Start(run % 3 + 1, threadNamePrefix: $"restart-run{run}");
            Assert.True(manager.IsRunning);
            Assert.Equal(run % 3 + 1, manager.MaxWorkers);
            var tasks = Enumerable.Range(0, 10).Select(i => manager.Submit(() => i)).ToArray();
            manager.Stop(wait: true);
            Assert.All(tasks, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
            manager.AssertNoWorkerAlive($"after Stop(wait: true) of run {run}");
            Assert.Equal(10 * run, manager.GetStatistics().Completed);
        }
    }

    [Fact]
    public void Start_RightAfterStopWaitFalse_NewRunWorksOnceTheOldRunHasDrained()
    {
        var manager = NewTrackedManager("restart-draining");
        manager.Start(1, threadNamePrefix: "old-run");
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var threadOf = new ConcurrentDictionary<int, string>();
        var blocker = manager.Submit(() => { started.Set(); gate.Wait(); threadOf[0] = Thread.CurrentThread.Name!; });
        var oldQueued = Enumerable.Range(1, 3).Select(i => manager.Submit(() => { threadOf[i] = Thread.CurrentThread.Name!; })).ToArray();
        Bounded.Wait(started, "the old run's first item to start");

        manager.Stop(wait: false);
        manager.Start(1, threadNamePrefix: "new-run");

        // The new run's work waits while the old one is still blocked with queued work (FIFO and MaxWorkers hold
        // across both runs), then runs on the new run's worker.
        var fresh = manager.Submit(() => Thread.CurrentThread.Name);
        Assert.False(fresh.IsCompleted);

        gate.Set();
        Bounded.Wait(Task.WhenAll([blocker, .. oldQueued]), "the old run's queued work");
        Assert.All(threadOf.Values, static name => Assert.StartsWith("old-run-", name));
        Assert.StartsWith("new-run-", Bounded.Result(fresh, "work on the new run after the old run drained"));

        manager.Stop(wait: true);
        foreach (var thread in manager.StartedWorkers)
        {
            Bounded.Join(thread, thread.Name ?? "worker");
        }

        Assert.Equal(5, manager.GetStatistics().Completed);
    }

    /// <summary>
    /// docs/shutdown.md: a waiting stop returns once the worker threads have terminated, and Dispose = Stop(). After a restart
    /// that includes the workers of the previous run, which may still be draining (docs/pools.md, "Shutdown").
    /// </summary>
    [Theory]
    [MemberData(nameof(WaitingStops))]
    public void WaitingStop_AfterRestart_WaitsForThePreviousRunStillDraining(StopKind kind)
    {
        var manager = NewTrackedManager($"restart-wait-{kind}");
        manager.Start(1, threadNamePrefix: $"old-{kind}");
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var blocker = manager.Submit(() => { started.Set(); gate.Wait(); });
        var queued = manager.Submit(() => 1);
        Bounded.Wait(started, "the old run's item to start");
        manager.Stop(wait: false);
        manager.Start(1, threadNamePrefix: $"new-{kind}");

        string? stateAtReturn = null;
        var stopping = TestThreads.StartChild(() =>
        {
            StopAndWait(manager, kind);
            stateAtReturn = $"blocked item {blocker.Status}, queued item {queued.Status}, live workers [{string.Join(", ", manager.LiveWorkerNames())}]";
        });

        // Give a stop that does not wait for the previous run the time to return, then open the gate: a stop that
        // waits returns only after that.
        _ = stopping.Wait(TimeSpan.FromMilliseconds(500));
        gate.Set();
        Bounded.Wait(stopping, $"{kind}");

        _output.WriteLine($"{kind} returned with: {stateAtReturn}");
        Assert.True(
            blocker.IsCompleted && queued.IsCompleted && !stateAtReturn!.Contains("old-", StringComparison.Ordinal),
            $"{kind} returned while the previous run was still draining: {stateAtReturn}. " +
            "Expected it to wait for every worker of the manager, including those of the run stopped with Stop(wait: false).");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Dispose_DrainsAndRefusesWork_SecondDisposeDoesNothing(bool async)
    {
        var manager = NewTrackedManager($"dispose-{async}");
        manager.Start(2);
        var tasks = Enumerable.Range(0, 10).Select(i => manager.Submit(() => i)).ToArray();

        if (async)
        {
            await Bounded.WaitAsync(manager.DisposeAsync().AsTask(), "DisposeAsync");
            await Bounded.WaitAsync(manager.DisposeAsync().AsTask(), "a second DisposeAsync");
        }
        else
        {
            manager.Dispose();
            manager.Dispose();
        }

        Assert.All(tasks, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        manager.AssertNoWorkerAlive("after disposal");
        Assert.False(manager.IsRunning);
        Assert.Throws<ObjectDisposedException>(() => { _ = manager.Submit(() => { }); });
        Assert.Throws<ObjectDisposedException>(() => manager.Start(1));
        manager.Stop();
        await manager.StopAsync();
    }

    [Fact]
    public async Task Stop_OnAManagerThatNeverStarted_DoesNothing()
    {
        var manager = NewTrackedManager("never-started");
        manager.Stop();
        manager.Stop(wait: false, cancelPending: true);
        await manager.StopAsync(new CancellationToken(canceled: true));
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
        Assert.Empty(manager.StartedWorkers);
        manager.Start(1);
        Assert.Equal(3, await Bounded.ResultAsync(manager.Submit(() => 3), "work"));
        await manager.DisposeAsync();
        manager.AssertNoWorkerAlive("after DisposeAsync");
    }

    public static TheoryData<int, string> OwnWorkerStops => new()
    {
        { 1, "Stop" }, { 3, "Stop" }, { 1, "StopCancelPending" }, { 3, "StopCancelPending" }, { 1, "Dispose" }, { 3, "Dispose" },
    };

    [Theory]
    [MemberData(nameof(OwnWorkerStops))]
    public void Stop_FromOneOfThePoolsOwnWorkers_DoesNotDeadlock(int maxWorkers, string how)
    {
        var manager = NewTrackedManager($"own-stop-{how}-{maxWorkers}");
        manager.Start(maxWorkers);
        using var gate = new ManualResetEventSlim();
        var workersWhenStopReturned = -1;
        var stopper = manager.Submit(() =>
        {
            gate.Wait();
            switch (how)
            {
                case "Stop":
                    manager.Stop(wait: true);
                    break;
                case "StopCancelPending":
                    manager.Stop(wait: true, cancelPending: true);
                    break;
                default:
                    manager.Dispose();
                    break;
            }

            workersWhenStopReturned = manager.GetStatistics().Workers;
        });
        var queued = Enumerable.Range(0, 10).Select(i => manager.Submit(() => i)).ToArray();
        gate.Set();

        Bounded.Wait(stopper, $"{how} called from the pool's own worker");
        Bounded.Wait(Task.WhenAll(queued).ContinueWith(static _ => { }, TaskScheduler.Default), "the queued work");
        Assert.Equal(1, workersWhenStopReturned);
        if (how != "StopCancelPending")
        {
            Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        }
        else if (maxWorkers == 1)
        {
            // The only worker was running the stopper, so nothing queued had started.
            Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
        }

        // The calling worker exits once its item returns; a stop from outside waits for it.
        manager.Stop(wait: true);
        manager.AssertNoWorkerAlive("after the outside Stop(wait: true)");
    }

    [Fact]
    public async Task StopAsync_AwaitedFromThePoolsOwnAsyncWork_Completes()
    {
        var manager = NewTrackedManager("own-stopasync");
        manager.Start(2);
        var work = manager.Submit(async () =>
        {
            await manager.StopAsync();
            return manager.IsRunning;
        });

        Assert.False(await Bounded.ResultAsync(work, "async work that awaits its own pool's StopAsync"));
        manager.AssertNoWorkerAlive("after StopAsync completed inside the pool's own work");
    }

    [Fact]
    public void ConcurrentStops_FromManyThreads_AllReturn_NothingLost_NoWorkerSurvivesAWaitingStop()
    {
        const int rounds = 25;
        const int stoppers = 8;
        var violations = new ConcurrentQueue<string>();
        for (var round = 0; round < rounds; round++)
        {
            var manager = NewTrackedManager($"concurrent-stop-{round}");
            var random = new Random(round);
            manager.Start(random.Next(1, 4));
            using var gate = new ManualResetEventSlim();
            var tasks = new List<Task> { manager.Submit(() => gate.Wait()) };
            tasks.AddRange(Enumerable.Range(0, 20).Select(i => manager.Submit(() => i)));
            using var barrier = new Barrier(stoppers + 1);
            var threads = Enumerable.Range(0, stoppers).Select(i => TestThreads.StartChild(
                () =>
                {
                    var kind = (i + round) % 6;
                    barrier.SignalAndWait();
                    switch (kind)
                    {
                        case 0:
                            manager.Stop(wait: true);
                            break;
                        case 1:
                            manager.Stop(wait: true, cancelPending: true);
                            break;
                        case 2:
                            manager.Stop(wait: false);
                            return;
                        case 3:
                            manager.Stop(wait: false, cancelPending: true);
                            return;
                        case 4:
                            Bounded.Wait(manager.StopAsync(), "StopAsync");
                            break;
                        default:
                            manager.Dispose();
                            break;
                    }

                    var alive = manager.LiveWorkerNames();
                    if (alive.Count > 0)
                    {
                        violations.Enqueue($"round {round}: stop kind {kind} returned with live workers {string.Join(", ", alive)}");
                    }
                },
                $"stopper-{i}")).ToArray();

            barrier.SignalAndWait();
            gate.Set();
            Bounded.Wait(Task.WhenAll(threads), $"round {round}: {stoppers} concurrent stops");
            Bounded.Wait(Task.WhenAll(tasks).ContinueWith(static _ => { }, TaskScheduler.Default), $"round {round}: every task final");
            var statistics = manager.GetStatistics();
            Assert.Equal(tasks.Count, statistics.Completed + statistics.Faulted + statistics.Canceled);
            manager.AssertNoWorkerAlive($"round {round}: after all stops returned");
        }

        _output.WriteLine($"{rounds} rounds of {stoppers} concurrent stops.");
        Assert.True(violations.IsEmpty, string.Join(Environment.NewLine, violations));
    }

    public static TheoryData<string> SuspendedStops => ["Stop", "StopCancelPending", "StopAsync", "StopAsyncCanceled"];

    [Theory]
    [MemberData(nameof(SuspendedStops))]
    public async Task AsyncWorkSuspendedWhenThePoolStops_IsNotWaitedFor_AndCompletesWhenItResumes(string how)
    {
        var manager = NewTrackedManager($"suspended-{how}");
        manager.Start(1);
        var outside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var suspended = new ManualResetEventSlim();
        var work = manager.Submit(async () =>
        {
            suspended.Set();
            await outside.Task;
            return Thread.CurrentThread.Name;
        });
        Bounded.Wait(suspended, "the async work to start");

        // The work waits for an event only the test raises: a stop that waited for it would never return.
        var stopping = how switch
        {
            "Stop" => TestThreads.StartChild(() => manager.Stop(wait: true)),
            "StopCancelPending" => TestThreads.StartChild(() => manager.Stop(wait: true, cancelPending: true)),
            "StopAsync" => manager.StopAsync(),
            _ => manager.StopAsync(new CancellationToken(canceled: true)),
        };
        await Bounded.WaitAsync(stopping, $"{how} while async work is suspended");
        manager.AssertNoWorkerAlive($"after {how} returned");
        Assert.False(work.IsCompleted);

        outside.SetResult();
        var resumedOn = await Bounded.ResultAsync(work, "the suspended work to resume after the stop");
        Assert.DoesNotContain(manager.Id, resumedOn ?? "", StringComparison.Ordinal);
        Bounded.Until(() => manager.GetStatistics().Completed == 1, "the resumed work is counted");
    }

    [Fact]
    public void Dispose_WhileStartRunsOnWorkerStarted_WaitsForTheStartingWorkers()
    {
        var manager = NewTrackedManager("dispose-during-start");
        using var gate = new ManualResetEventSlim();
        using var entered = new ManualResetEventSlim();
        manager.OnStart = () =>
        {
            entered.Set();
            gate.Wait();
        };

        var starting = TestThreads.StartChild(() => manager.Start(2));
        Bounded.Wait(entered, "OnWorkerStarted to run");
        List<string>? aliveAtReturn = null;
        var disposing = TestThreads.StartChild(() =>
        {
            manager.Dispose();
            aliveAtReturn = manager.LiveWorkerNames();
        });

        _ = disposing.Wait(TimeSpan.FromMilliseconds(500));
        gate.Set();
        Bounded.Wait(disposing, "Dispose");
        var error = Assert.ThrowsAny<Exception>(() => Bounded.Wait(starting, "Start"));
        var disposed = Assert.IsType<ObjectDisposedException>(error.InnerException ?? error);
        Assert.Contains(manager.Id, disposed.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
        Assert.True(
            aliveAtReturn!.Count == 0,
            $"Dispose returned while {aliveAtReturn.Count} worker(s) of the concurrent Start were alive: {string.Join(", ", aliveAtReturn)}.");
    }

    private static void StopAndWait(ThreadPoolManager manager, StopKind kind)
    {
        switch (kind)
        {
            case StopKind.Stop:
                manager.Stop(wait: true);
                break;
            case StopKind.StopAsync:
                Bounded.Wait(manager.StopAsync(), "StopAsync");
                break;
            case StopKind.Dispose:
                manager.Dispose();
                break;
            default:
                Bounded.Wait(manager.DisposeAsync().AsTask(), "DisposeAsync");
                break;
        }
    }
}
