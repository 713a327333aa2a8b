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
    public void Stop_NoWait_ReturnsAtOnceAndQueuedWorkStillRuns()
    {
        var manager = NewTrackedManager("stop-no-wait");
        manager.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();

        // The only worker is blocked at the gate: a Stop(wait: false) that waited would never return.
        Bounded.Wait(TestThreads.StartChild(() => manager.Stop(wait: false)), "Stop(wait: false) to return while work runs");

        // It returned while the only worker is still blocked: it did not wait for the queue.
        Assert.False(blocker.IsCompleted);
        Assert.All(queued, task => Assert.False(task.IsCompleted));
        Assert.False(manager.IsRunning);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
        gate.Open();
        Assert.Equal(Enumerable.Range(0, 10), Bounded.Result(Task.WhenAll(queued), "the queued work of a stopped pool"));
        Bounded.Wait(blocker, "the blocker");
        Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));

        manager.Stop(wait: true);
        manager.AssertNoWorkerAlive("after the final Stop(wait: true)");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Stop_CancelPending_QueuedWorkEndsCanceled_RunningWorkCompletes(bool wait)
    {
        var manager = NewTrackedManager("stop-cancel");
        manager.Start(1);
        using var gate = new Gate();
        var running = gate.HoldWorker(manager);
        var ran = 0;
        var queued = new List<Task>
        {
            manager.Submit(() => { Interlocked.Increment(ref ran); }),
            manager.Submit(() => Interlocked.Increment(ref ran)),
            // The async work counts before its first await: it must not even start.
            manager.Submit(async () => { Interlocked.Increment(ref ran); await Task.Yield(); }),
            manager.Submit(async () => { Interlocked.Increment(ref ran); await Task.Yield(); return 1; }),
        };
        manager.Post(() => Interlocked.Increment(ref ran));
        manager.Post(static state => Interlocked.Increment(ref state[0]), new int[1]);

        var stopping = TestThreads.StartChild(() => manager.Stop(wait, cancelPending: true));
        if (wait)
        {
            // The queued work is canceled while the running item still holds the only worker, so by the time
            // Stop(wait: true, cancelPending: true) returns (the contract); and the stop waits for the running item.
            Bounded.WaitFinal(Task.WhenAll(queued), "the pending work to be canceled while the running item holds the only worker");
            Assert.False(stopping.IsCompleted, "Stop(wait: true, cancelPending: true) returned while an item still ran");
            gate.Open();
            Bounded.Wait(stopping, "Stop(wait: true, cancelPending: true)");
            Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
            manager.AssertNoWorkerAlive("after Stop(wait: true, cancelPending: true) returned");
        }
        else
        {
            Bounded.Wait(stopping, "Stop(wait: false, cancelPending: true)");
            gate.Open();
            Bounded.WaitFinal(Task.WhenAll(queued), "the canceled tasks");
            Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
            manager.Stop(wait: true);
            manager.AssertNoWorkerAlive("after the final Stop(wait: true)");
        }

        Bounded.Wait(running, "the running item");
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
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
        using var gate = new Gate();
        var running = gate.HoldWorker(manager);
        var queued = Enumerable.Range(0, 5).Select(i => manager.Submit(() => i)).ToArray();

        var stopping = manager.StopAsync(new CancellationToken(canceled: true));

        // The running item is blocked on our gate, so the drain cannot have finished.
        Assert.False(stopping.IsCompleted, "StopAsync completed while an item was still running");
        Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
        gate.Open();
        await Bounded.WaitAsync(stopping, "StopAsync");
        Assert.Equal(TaskStatus.RanToCompletion, stopping.Status);
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
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
        var first = manager.Submit(() =>
        {
            Bounded.Wait(firstGate, "the first gate");
            return 1;
        });
        var second = manager.Submit(() =>
        {
            secondStarted.Set();
            Bounded.Wait(secondGate, "the second gate");
            return 2;
        });
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
            // Odd runs name their workers after the manager (the default prefix), even runs with a prefix of their own.
            var prefix = run % 2 == 0 ? $"restart-run{run}" : null;
            manager.Start(run % 3 + 1, threadNamePrefix: prefix);
            Assert.True(manager.IsRunning);
            Assert.Equal(run % 3 + 1, manager.MaxWorkers);
            var tasks = Enumerable.Range(0, 10).Select(_ => manager.Submit(() => Thread.CurrentThread.Name)).ToArray();
            manager.Stop(wait: true);
            Assert.All(tasks, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
            Assert.All(Bounded.Result(Task.WhenAll(tasks), $"the work of run {run}"), name => Assert.StartsWith((prefix ?? manager.Id) + "-", name, StringComparison.Ordinal));
            manager.AssertNoWorkerAlive($"after Stop(wait: true) of run {run}");
            Assert.Equal(10 * run, manager.GetStatistics().Completed);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Start_RightAfterStopWithoutWait_NewRunWorksOnceTheOldRunHasDrained_KeepsMaxWorkersAndFifo(int maxWorkers)
    {
        // A restart while the previous run drains: the new run's items wait while the old run is blocked with queued
        // work, start after the old run's queued ones, and run on the new run's workers; never more than MaxWorkers
        // items of the manager run at once (a one-worker pool stays an event loop).
        var manager = NewTrackedManager("restart-draining");
        manager.Start(maxWorkers, threadNamePrefix: "old-run");
        var tracker = new ConcurrencyTracker();
        var order = new ConcurrentQueue<(int Label, string Thread)>();
        using var gate = new Gate();
        var running = 0;
        void Track(int label, bool wait) => tracker.Run(() =>
        {
            Interlocked.Increment(ref running);
            order.Enqueue((label, Thread.CurrentThread.Name!));
            if (wait)
            {
                gate.Wait("the gate");
            }
            else
            {
                Thread.SpinWait(10_000);
            }

            Interlocked.Decrement(ref running);
        });

        // Every worker of the old run blocks at the gate, with more of its items queued behind.
        var old = Enumerable.Range(0, maxWorkers).Select(i => manager.Submit(() => Track(-1 - i, wait: true))).ToList();
        old.AddRange(Enumerable.Range(1, 5).Select(i => manager.Submit(() => Track(i, wait: false))));
        Bounded.Until(() => Volatile.Read(ref running) == maxWorkers, "every worker of the old run holds an item");
        manager.Stop(wait: false);

        manager.Start(maxWorkers, threadNamePrefix: "new-run");
        using var newItemStarted = new ManualResetEventSlim();
        var restarted = Enumerable.Range(100, 5).Select(i => manager.Submit(() =>
        {
            newItemStarted.Set();
            Track(i, wait: false);
        })).ToArray();
        Assert.DoesNotContain(restarted, static t => t.IsCompleted);

        // Give a wrongly eager new run the chance to show itself before the old run resumes. A correct one starts
        // nothing here, so this wait always runs out; it shapes the interleaving, nothing depends on its length.
        newItemStarted.Wait(TimeSpan.FromMilliseconds(200));
        gate.Open();
        Bounded.Wait(Task.WhenAll(old.Concat(restarted)), "both runs' items");

        Assert.True(tracker.Max <= maxWorkers, $"{tracker.Max} items ran at once across the two runs (MaxWorkers {maxWorkers}).");
        var labels = order.Select(static entry => entry.Label).ToList();
        var lastOld = labels.FindLastIndex(static label => label < 100);
        var firstNew = labels.FindIndex(static label => label >= 100);
        Assert.True(maxWorkers > 1 || lastOld < firstNew, $"an item submitted after the restart started before the old run's queue: {string.Join(",", labels)}.");
        Assert.True(labels.IndexOf(5) < firstNew, $"the old run's last queued item started after a new one: {string.Join(",", labels)}.");
        Assert.All(order, static entry => Assert.StartsWith(entry.Label < 100 ? "old-run-" : "new-run-", entry.Thread, StringComparison.Ordinal));

        manager.Stop(wait: true);
        foreach (var thread in manager.StartedWorkers)
        {
            Bounded.Join(thread, thread.Name ?? "worker");
        }

        Assert.Equal(maxWorkers + 10, manager.GetStatistics().Completed);
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
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var queued = manager.Submit(() => 1);
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
        gate.Open();
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
    public async Task Dispose_RunningPool_DrainsLikeStop_RefusesWork_SecondDisposeDoesNothing(bool async)
    {
        var manager = NewTrackedManager($"dispose-{async}");
        manager.Start(2);
        using var gate = new Gate();
        var blockers = Enumerable.Range(0, 2).Select(_ => gate.HoldWorker(manager)).ToArray();
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();

        if (async)
        {
            // DisposeAsync drains like StopAsync: it does not block its caller, and completes once the pool has drained.
            var dispose = manager.DisposeAsync().AsTask();
            Assert.False(manager.IsRunning);
            Assert.False(dispose.IsCompleted);
            gate.Open();
            await Bounded.WaitAsync(dispose, "DisposeAsync");
            await Bounded.WaitAsync(manager.DisposeAsync().AsTask(), "a second DisposeAsync");
        }
        else
        {
            // Dispose drains like Stop(wait: true): the gate opens only once the stop has begun.
            var opener = OpenWhenStopBegins(manager, gate);
            Bounded.OnNewThread(manager.Dispose, "disposer");
            Bounded.Wait(opener, "the gate opener");
        }

        manager.Dispose();

        Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.All(blockers, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.GetStatistics().Workers);
        manager.AssertNoWorkerAlive("after disposal");
        ThrowsSync<ObjectDisposedException>(() => manager.Submit(() => { }));
        Assert.Throws<ObjectDisposedException>(() => manager.Start(1));
        manager.Stop();
        await manager.StopAsync();
    }

    [Fact]
    public async Task Stop_NeverStarted_DoesNothing()
    {
        var manager = NewTrackedManager("never-started");

        manager.Stop();
        manager.Stop(wait: false);
        manager.Stop(wait: false, cancelPending: true);
        manager.Stop(wait: true, cancelPending: true);
        await Bounded.WaitAsync(manager.StopAsync(), "StopAsync on a manager that never started");
        await Bounded.WaitAsync(manager.StopAsync(new CancellationToken(canceled: true)), "StopAsync with a canceled token on a manager that never started");

        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
        Assert.Equal(default, manager.GetStatistics());
        Assert.Empty(manager.StartedWorkers);
        manager.Start(1);
        Assert.Equal(7, await Bounded.ResultAsync(manager.Submit(() => 7), "work after the stops"));
        await manager.DisposeAsync();
        manager.AssertNoWorkerAlive("after DisposeAsync");
    }

    public static TheoryData<int, string> OwnWorkerStops => new()
    {
        { 1, "Stop" }, { 3, "Stop" }, { 1, "StopCancelPending" }, { 3, "StopCancelPending" }, { 1, "Dispose" }, { 3, "Dispose" },
    };

    [Theory]
    [MemberData(nameof(OwnWorkerStops))]
    public void Stop_FromOneOfThePoolsOwnWorkers_DoesNotDeadlock_OtherWorkersDrainTheQueue(int maxWorkers, string how)
    {
        var manager = NewTrackedManager($"own-stop-{how}-{maxWorkers}");
        // Background, stopped without waiting on failure: a deadlock must fail the test, not hang the test host.
        manager.Start(maxWorkers, isBackground: true);
        try
        {
            using var stopperStarted = new Gate();
            using var releaseStopper = new Gate();
            Task[] queued = [];
            var workersWhenStopReturned = -1;
            var drainedWhenStopReturned = false;
            var stopper = manager.Submit(() =>
            {
                stopperStarted.Open();
                releaseStopper.Wait("the test to release the stopping item");
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
                drainedWhenStopReturned = queued.All(static task => task.IsCompleted);
            });
            stopperStarted.Wait("the stopping item to start");

            // The other workers are held at a gate, so the work is still queued when the stop begins.
            using var gate = new Gate();
            var blockers = Enumerable.Range(0, maxWorkers - 1).Select(_ => gate.HoldWorker(manager)).ToArray();
            queued = Enumerable.Range(0, 10).Select(i => manager.Submit(() => i)).ToArray();
            releaseStopper.Open();
            gate.Open();

            Bounded.Wait(stopper, $"{how} called from the pool's own worker");
            Bounded.WaitFinal(Task.WhenAll(queued), "the queued work");
            Bounded.Wait(Task.WhenAll(blockers), "the blockers");
            Assert.Equal(1, workersWhenStopReturned);
            Assert.False(manager.IsRunning);
            if (how != "StopCancelPending")
            {
                Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
                // The stop waits for the other workers, which exit only once the queue is empty.
                Assert.True(maxWorkers == 1 || drainedWhenStopReturned, $"{how} returned before the other workers ran the queued work.");
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
        finally
        {
            manager.Stop(wait: false);
        }
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
            var tasks = new List<Task> { manager.Submit(() => Bounded.Wait(gate, "the gate")) };
            tasks.AddRange(Enumerable.Range(0, 20).Select(i => manager.Submit(() => i)));
            using var barrier = new Barrier(stoppers + 1);
            var threads = Enumerable.Range(0, stoppers).Select(i => TestThreads.StartChild(
                () =>
                {
                    var kind = (i + round) % 6;
                    Bounded.SignalAndWait(barrier, "the other stoppers");
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

            Bounded.SignalAndWait(barrier, "the stoppers");
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
    public async Task Stop_AsyncWorkSuspendedOnOutsideEvent_NotWaitedFor_CompletesWhenItResumes(string how)
    {
        var manager = NewTrackedManager($"suspended-{how}");
        manager.Start(1);
        var outside = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var started = new Gate();
        var work = manager.Submit(async () =>
        {
            started.Open();
            var value = await outside.Task;
            var resumedOn = Thread.CurrentThread.Name;
            await Task.Yield();
            return (Value: value * 2, ResumedOn: resumedOn);
        });
        started.Wait("the async work to start");
        Bounded.Until(() => manager.GetStatistics().BusyWorkers == 0, "the async work to suspend");

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

        outside.SetResult(21);
        var (value, resumedOn) = await Bounded.ResultAsync(work, "the suspended work to resume after the stop");
        Assert.Equal(42, value);
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
            Bounded.Wait(gate, "the gate");
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

    /// <summary>Opens <paramref name="gate"/> from another thread as soon as a stop of <paramref name="manager"/> has begun.</summary>
    private static Task OpenWhenStopBegins(ThreadPoolManager manager, Gate gate) =>
        Task.Factory.StartNew(
            () =>
            {
                Bounded.Until(() => !manager.IsRunning, "the stop to begin");
                gate.Open();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);

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
