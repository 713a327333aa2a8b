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
        var blockers = Enumerable.Range(0, maxWorkers).Select(_ => gate.HoldWorker(manager)).ToArray();
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
                    var manager = new WorkerTrackingManager(TestIds.New("stop-exits"));
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
    public async Task StopAsync_QueuedWork_CompletesAfterDraining()
    {
        await using var manager = new ThreadPoolManager(TestIds.New("stop-async"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
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
        await using var manager = new ThreadPoolManager(TestIds.New("stop-async-token"));
        manager.Start(1);
        using var gate = new Gate();
        var running = gate.HoldWorker(manager);
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

    [Fact]
    public void Submit_RacingStopAndRestart_EveryTaskReachesFinalStateAndCountersAreConserved()
    {
        const int Seed = 20_240_917;
        const int Submitters = 3;
        const int PerSubmitter = 400;
        using var manager = new ThreadPoolManager(TestIds.New("race"));
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
}
