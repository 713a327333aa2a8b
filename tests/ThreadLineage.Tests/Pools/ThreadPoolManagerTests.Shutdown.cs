using System.Collections.Concurrent;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <content>Stop, StopAsync and disposal: docs/pools.md, "Shutdown"; docs/shutdown.md, "Nothing is lost".</content>
public partial class ThreadPoolManagerTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Stop_Wait_RunsAllQueuedWorkBeforeReturning_NoWorkerAlive(int maxWorkers)
    {
        using var manager = NewTrackedManager("stop-drains");
        manager.Start(maxWorkers);
        using var gate = new Gate();
        var blockers = Enumerable.Range(0, maxWorkers).Select(_ => Block(manager, gate)).ToArray();
        var ran = 0;
        var queued = Enumerable.Range(0, 100).Select(_ => manager.Submit(() => Interlocked.Increment(ref ran))).ToArray();

        // Every worker is blocked at the gate, so the work is still queued when Stop is called; the gate opens only
        // once the stop has begun and has been seen not to return.
        var stopping = TestThreads.StartChild(() => manager.Stop(wait: true), "stopper");
        Bounded.Until(() => !manager.IsRunning, "the stop to begin");
        Assert.False(stopping.IsCompleted, "Stop(wait: true) returned while work was still queued behind a closed gate");
        gate.Open();
        Bounded.Wait(stopping, "Stop(wait: true)");

        // Stop(wait: true) has returned: everything queued has run, and every worker has exited.
        Assert.Equal(100, Volatile.Read(ref ran));
        Assert.All(queued, task => Assert.Equal(TaskStatus.RanToCompletion, task.Status));
        Assert.All(blockers, task => Assert.Equal(TaskStatus.RanToCompletion, task.Status));
        Assert.Equal(100 + maxWorkers, manager.GetStatistics().Completed);
        Assert.Equal(0, manager.GetStatistics().Workers);
        manager.AssertNoWorkerAlive("after Stop(wait: true) returned");
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
    }

    [Fact]
    public void Stop_Wait_WorkerThreadsHaveExitedWhenItReturns()
    {
        // Stop and check on the same thread: checking from another thread after joining it would give the
        // workers time to finish exiting. Many cycles, because the window in which a worker that has signalled
        // its exit is still alive is short (~0.2% of cycles here). A Stop(wait: true) that joins its workers
        // never fails this by chance.
        const int Cycles = 3000;
        var stillAlive = Bounded.OnNewThread(
            () =>
            {
                var alive = new List<string>();
                for (var cycle = 0; cycle < Cycles; cycle++)
                {
                    var manager = new WorkerTrackingManager(NewId("stop-exits"));
                    manager.Start(1);
                    manager.Stop(wait: true);
                    alive.AddRange(manager.StartedWorkers.Where(thread => thread.IsAlive).Select(thread => $"{thread.Name} (cycle {cycle})"));
                }

                return alive;
            },
            "stop-exits-cycles");

        Assert.True(
            stillAlive.Count == 0,
            $"Stop(wait: true) returned while workers were still alive in {stillAlive.Count} of {Cycles} cycles: {string.Join(", ", stillAlive.Take(5))}");
    }

    [Fact]
    public void Stop_NoWait_ReturnsAtOnceAndQueuedWorkStillRuns()
    {
        using var manager = new ThreadPoolManager(NewId("stop-no-wait"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = Block(manager, gate);
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();

        manager.Stop(wait: false);

        // Returned while the only worker is still blocked: it did not wait for the queue.
        Assert.False(blocker.IsCompleted);
        Assert.All(queued, task => Assert.False(task.IsCompleted));
        Assert.False(manager.IsRunning);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
        gate.Open();
        Assert.Equal(Enumerable.Range(0, 10), Bounded.Result(Task.WhenAll(queued), "the queued work"));
        Bounded.Wait(blocker, "the blocker");
    }

    [Fact]
    public void Stop_WaitFromOwnWorker_DoesNotDeadlockAndOtherWorkerDrainsQueue()
    {
        var manager = new ThreadPoolManager(NewId("stop-from-worker"));
        // Background, stopped without waiting on failure: a deadlock must fail the test, not hang the test host.
        manager.Start(2, isBackground: true);
        try
        {
            using var stopperStarted = new Gate();
            using var releaseStopper = new Gate();
            Task[] queued = [];
            var stopper = manager.Submit(() =>
            {
                stopperStarted.Open();
                releaseStopper.Wait("the test to release the stopping item");
                manager.Stop(wait: true);
                return queued.All(task => task.IsCompleted);
            });
            stopperStarted.Wait("the stopping item to start");
            using var gate = new Gate();
            var blocker = Block(manager, gate);
            queued = Enumerable.Range(0, 5).Select(_ => manager.Submit(() => { })).ToArray();

            releaseStopper.Open();
            gate.Open();

            Assert.True(Bounded.Result(stopper, "Stop(wait: true) called from one of the pool's workers"), "Stop returned before the queued work ran.");
            Assert.False(manager.IsRunning);
            Bounded.Wait(blocker, "the blocker");
        }
        finally
        {
            manager.Stop(wait: false);
        }
    }

    [Fact]
    public void Stop_WaitCancelPending_PendingCanceledByReturnAndRunningWorkCompletes()
    {
        using var manager = new ThreadPoolManager(NewId("stop-cancel-pending"));
        manager.Start(1);
        using var gate = new Gate();
        var running = Block(manager, gate);
        var ran = 0;
        var pending = new Task[]
        {
            manager.Submit(() => { Interlocked.Increment(ref ran); }),
            manager.Submit(() => Interlocked.Increment(ref ran)),
            manager.Submit(async () =>
            {
                await Task.Yield();
                Interlocked.Increment(ref ran);
            }),
            manager.Submit(async () =>
            {
                await Task.Yield();
                return Interlocked.Increment(ref ran);
            }),
        };
        // Queued work that has not started is canceled while the running item still holds the only worker;
        // only then does the running item finish.
        var opener = Task.Run(() =>
        {
            Bounded.WaitFinal(Task.WhenAll(pending), "the pending work to be canceled");
            gate.Open();
        });

        Bounded.Stop(manager, cancelPending: true);

        Assert.All(pending, task => Assert.Equal(TaskStatus.Canceled, task.Status));
        Assert.Equal(0, Volatile.Read(ref ran));
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
        Assert.Equal(4, manager.GetStatistics().Canceled);
        Assert.Equal(1, manager.GetStatistics().Completed);
        Bounded.Wait(opener, "the gate opener");
    }

    [Fact]
    public void Stop_NoWaitCancelPending_PendingCanceledAndRunningWorkCompletes()
    {
        using var manager = new ThreadPoolManager(NewId("stop-no-wait-cancel"));
        manager.Start(1);
        using var gate = new Gate();
        var running = Block(manager, gate);
        var ran = false;
        var pending = manager.Submit(() => ran = true);

        manager.Stop(wait: false, cancelPending: true);
        gate.Open();
        Bounded.Stop(manager);

        Assert.Equal(TaskStatus.Canceled, pending.Status);
        Assert.False(ran);
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
    }

    [Fact]
    public async Task StopAsync_QueuedWork_CompletesAfterDraining()
    {
        await using var manager = new ThreadPoolManager(NewId("stop-async"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = Block(manager, gate);
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();

        var stop = manager.StopAsync();

        Assert.False(manager.IsRunning);
        Assert.False(stop.IsCompleted);
        gate.Open();
        await Bounded.WaitAsync(stop, "StopAsync");
        Assert.All(queued, task => Assert.Equal(TaskStatus.RanToCompletion, task.Status));
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
        Assert.Equal(0, manager.GetStatistics().Workers);
    }

    [Fact]
    public async Task StopAsync_TokenFiresWhileWorkQueued_PendingCanceledAndRunningWorkStillAwaited()
    {
        await using var manager = new ThreadPoolManager(NewId("stop-async-token"));
        manager.Start(1);
        using var gate = new Gate();
        var running = Block(manager, gate);
        var ran = 0;
        var pending = Enumerable.Range(0, 5).Select(_ => manager.Submit(() => Interlocked.Increment(ref ran))).ToArray();
        using var cancel = new CancellationTokenSource();

        var stop = manager.StopAsync(cancel.Token);
        await cancel.CancelAsync();

        Assert.False(stop.IsCompleted);
        Assert.False(running.IsCompleted);
        gate.Open();
        await Bounded.WaitAsync(stop, "StopAsync after its token fired");
        Assert.All(pending, task => Assert.Equal(TaskStatus.Canceled, task.Status));
        Assert.Equal(0, Volatile.Read(ref ran));
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
        Assert.Equal(0, manager.GetStatistics().Workers);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Stop_AsyncWorkSuspendedOnOutsideEvent_NotWaitedForAndStillCompletes(bool cancelPending)
    {
        using var manager = new ThreadPoolManager(NewId("stop-suspended"));
        manager.Start(1);
        var outside = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var started = new Gate();
        var task = manager.Submit(async () =>
        {
            started.Open();
            var value = await outside.Task;
            await Task.Yield();
            return value * 2;
        });
        started.Wait("the async work to start");
        Bounded.Until(() => manager.GetStatistics().BusyWorkers == 0, "the async work to suspend");

        Bounded.Stop(manager, cancelPending);

        Assert.False(task.IsCompleted);
        outside.SetResult(21);
        Assert.Equal(42, Bounded.Result(task, "the async work resumed after the stop"));
        Bounded.Until(() => manager.GetStatistics().Completed == 1, "the resumed work to be counted");
    }

    [Fact]
    public void Dispose_RunningPool_StopsAndDrainsLikeStop()
    {
        var manager = new ThreadPoolManager(NewId("dispose-drains"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = Block(manager, gate);
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();
        var opener = OpenWhenStopBegins(manager, gate);

        Bounded.OnNewThread(
            () =>
            {
                manager.Dispose();
                return true;
            },
            "disposer");

        Assert.All(queued, task => Assert.Equal(TaskStatus.RanToCompletion, task.Status));
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.GetStatistics().Workers);
        Bounded.Wait(opener, "the gate opener");
    }

    [Fact]
    public async Task DisposeAsync_RunningPool_StopsAndDrainsLikeStopAsync()
    {
        var manager = new ThreadPoolManager(NewId("dispose-async-drains"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = Block(manager, gate);
        var queued = Enumerable.Range(0, 10).Select(n => manager.Submit(() => n)).ToArray();

        var dispose = manager.DisposeAsync().AsTask();

        Assert.False(manager.IsRunning);
        Assert.False(dispose.IsCompleted);
        gate.Open();
        await Bounded.WaitAsync(dispose, "DisposeAsync");
        Assert.All(queued, task => Assert.Equal(TaskStatus.RanToCompletion, task.Status));
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
        Assert.Equal(0, manager.GetStatistics().Workers);
        ThrowsSync<ObjectDisposedException>(() => manager.Submit(() => { }));
    }

    [Fact]
    public void Submit_RacingStopAndRestart_EveryTaskReachesFinalStateAndCountersAreConserved()
    {
        const int Seed = 20_240_917;
        const int Submitters = 3;
        const int PerSubmitter = 400;
        using var manager = new ThreadPoolManager(NewId("race"));
        manager.Start(2);
        var accepted = new ConcurrentQueue<(Task Task, bool Throws)>();
        var refused = 0;
        using var go = new Barrier(Submitters + 1);
        var submitters = Enumerable.Range(0, Submitters).Select(s => new Thread(() =>
        {
            var random = new Random(Seed + s + 1);
            go.SignalAndWait(Bounded.Timeout);
            for (var i = 0; i < PerSubmitter; i++)
            {
                var throws = random.Next(5) == 0;
                var isAsync = random.Next(2) == 0;
                try
                {
                    var task = isAsync
                        ? manager.Submit(async () =>
                        {
                            await Task.Yield();
                            if (throws)
                            {
                                throw new InvalidOperationException("planned");
                            }
                        })
                        : manager.Submit(() =>
                        {
                            if (throws)
                            {
                                throw new InvalidOperationException("planned");
                            }
                        });
                    accepted.Enqueue((task, throws));
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused);
                }
            }
        })
        { IsBackground = true, Name = $"race-submitter-{s}" }).ToArray();
        foreach (var thread in submitters)
        {
            thread.Start();
        }

        var lifecycle = new Random(Seed);
        go.SignalAndWait(Bounded.Timeout);
        for (var cycle = 0; cycle < 20; cycle++)
        {
            if (lifecycle.Next(2) == 0)
            {
                manager.Stop(wait: false, cancelPending: lifecycle.Next(4) == 0);
            }
            else
            {
                Bounded.Stop(manager, cancelPending: lifecycle.Next(4) == 0);
            }

            manager.Start(1 + lifecycle.Next(2));
        }

        foreach (var thread in submitters)
        {
            Bounded.Join(thread, thread.Name!);
        }

        Bounded.Stop(manager);
        var tasks = accepted.ToArray();
        Bounded.WaitFinal(Task.WhenAll(tasks.Select(entry => entry.Task)), $"every accepted task (seed {Seed})");
        Bounded.Until(
            () =>
            {
                var statistics = manager.GetStatistics();
                return statistics.Completed + statistics.Faulted + statistics.Canceled == tasks.Length;
            },
            $"every accepted task to be counted (seed {Seed})");

        var final = manager.GetStatistics();
        Assert.Equal(Submitters * PerSubmitter, tasks.Length + Volatile.Read(ref refused));
        Assert.Equal(Volatile.Read(ref refused), final.Rejected);
        Assert.Equal(tasks.Count(entry => entry.Task.Status == TaskStatus.RanToCompletion), final.Completed);
        Assert.Equal(tasks.Count(entry => entry.Task.IsFaulted), final.Faulted);
        Assert.Equal(tasks.Count(entry => entry.Task.IsCanceled), final.Canceled);
        Assert.All(tasks, entry => Assert.False(entry.Throws ? entry.Task.Status == TaskStatus.RanToCompletion : entry.Task.IsFaulted));
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
}
