using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// The worker hooks <see cref="ThreadPoolManagerOptions.WorkerStarted"/> and <see cref="ThreadPoolManagerOptions.WorkerStopping"/>
/// (docs/pools.md, "Worker hooks"): where and when each runs, and what a throwing one does.
/// </summary>
/// <remarks>
/// Each hook records the thread it ran on and the manager it was given; tests compare those records with the threads
/// that ran the work. Every wait is bounded; nothing asserts on time.
/// </remarks>
public class WorkerHooksTests
{
    [Fact]
    public void WorkerStarted_RunsOnEachNewWorkerBeforeItTakesWork_IncludingWorkersAddedOnDemand()
    {
        var hooks = new HookLog();
        using var manager = new ThreadPoolManager(TestIds.New("hooks-on-demand"));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 3, MinWorkers = 1, WorkerStarted = hooks.Started });

        // Start returns once its MinWorkers workers have run the hook.
        Assert.Single(hooks.StartedThreads);
        using var gate = new Gate();
        var ranAfterTheHook = new ConcurrentQueue<bool>();
        var items = gate.HoldWorkers(
            manager,
            3,
            "three items running at once, two of them on workers added on demand",
            () => ranAfterTheHook.Enqueue(hooks.StartedThreads.Contains(Thread.CurrentThread)));
        gate.Open();
        Bounded.Wait(Task.WhenAll(items), "the items");
        Bounded.Stop(manager);

        Assert.Equal(3, ranAfterTheHook.Count);
        Assert.All(ranAfterTheHook, Assert.True);
        Assert.Equal(3, hooks.StartedThreads.Distinct().Count());
        Assert.Equal(3, hooks.StartedThreads.Count);
        Assert.All(hooks.Managers, m => Assert.Same(manager, m));
    }

    [Fact]
    public void WorkerStarted_RunsAfterAnOnWorkerStartedOverride_OnTheSameThread()
    {
        var order = new ConcurrentQueue<(Thread Thread, string Hook)>();
        using var manager = new WorkerTrackingManager(TestIds.New("hooks-order"))
        {
            OnStart = () => order.Enqueue((Thread.CurrentThread, "override")),
        };

        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkerStarted = _ => order.Enqueue((Thread.CurrentThread, "option")) });

        foreach (var thread in manager.StartedWorkers)
        {
            Assert.Equal(["override", "option"], order.Where(e => e.Thread == thread).Select(static e => e.Hook));
        }
    }

    [Fact]
    public void WorkerStarted_OnAManagerResolvedFromTheLineage_GetsThatManager_InItsOwnersLineage()
    {
        using var scope = Lineage.BeginScope("hooks-lineage");
        var id = TestIds.New("hooks-lineage");
        var manager = Lineage.GetOrCreateManager(id);
        var seen = new ConcurrentQueue<(ThreadPoolManager Given, LineageNode Current, bool Resolves)>();

        manager.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            WorkerStarted = given => seen.Enqueue((given, Lineage.Current, Lineage.TryGetManager(id, out var found) && ReferenceEquals(found, given))),
        });

        Assert.Equal(2, seen.Count);
        Assert.All(seen, s =>
        {
            Assert.Same(manager, s.Given);
            Assert.Same(scope.Node, s.Current);
            Assert.True(s.Resolves, "the hook resolves its own manager through the worker's lineage");
        });
        Assert.Same(manager, Lineage.GetManager(id));
    }

    [Fact]
    public void WorkerStarted_Throws_StartThrowsAggregateException_NothingLeftRunning_AndCanStartAgain()
    {
        var logs = new RecordingLogger();
        var hooks = new HookLog();
        var failure = new InvalidOperationException("planned WorkerStarted failure");
        var calls = 0;
        using var manager = new ThreadPoolManager(TestIds.New("hooks-start-throws"));
        var options = new ThreadPoolManagerOptions
        {
            MaxWorkers = 3,
            LoggerFactory = logs,
            WorkerStarted = m =>
            {
                hooks.Started(m);
                if (Interlocked.Increment(ref calls) == 2)
                {
                    throw failure;
                }
            },
            WorkerStopping = hooks.Stopping,
        };

        var exception = Assert.Throws<AggregateException>(() => manager.Start(options));

        Assert.Same(failure, Assert.Single(exception.InnerExceptions));
        // The option threw, not an OnWorkerStarted override: the message names both, so it points at the option too.
        Assert.Contains("the worker-start hook (OnWorkerStarted or the WorkerStarted option) threw on 1 of 3 workers", exception.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.GetStatistics().Workers);
        Assert.Throws<InvalidOperationException>(() => { _ = manager.Submit(static () => { }); });
        Assert.Equal(3, hooks.StartedThreads.Count);
        foreach (var thread in hooks.StartedThreads)
        {
            Bounded.Join(thread, $"{thread.Name} of the failed start");
        }

        // The two workers that had started exit through WorkerStopping; the one whose hook threw never took work.
        Assert.Equal(2, hooks.StoppingThreads.Count);
        var logged = Assert.Single(logs.Entries, static e => e.EventId.Name == "WorkerStartFailed" && e.Level == LogLevel.Error);
        Assert.Contains("WorkerStarted option", logged.Message, StringComparison.Ordinal);

        manager.Start(options);
        Assert.True(manager.IsRunning);
        Assert.Equal(5, Bounded.Result(manager.Submit(static () => 5), "work after the second start"));
    }

    [Fact]
    public void WorkerStarted_ThrowsOnAWorkerAddedOnDemand_IsLogged_AndThePoolKeepsRunning()
    {
        var logs = new RecordingLogger();
        var fail = false;
        using var manager = new ThreadPoolManager(TestIds.New("hooks-on-demand-throws"));
        manager.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            MinWorkers = 1,
            LoggerFactory = logs,
            WorkerStarted = _ =>
            {
                if (Volatile.Read(ref fail))
                {
                    throw new InvalidOperationException("planned on-demand failure");
                }
            },
        });
        Volatile.Write(ref fail, true);
        using var gate = new Gate();
        var busy = gate.HoldWorker(manager);

        // No free worker: this submission adds one, whose WorkerStarted throws.
        var waiting = manager.Submit(static () => 2);
        Bounded.Until(() => logs.Entries.Any(static e => e.EventId.Name == "OnDemandWorkerStartFailed"), "the failed on-demand start is logged");

        Assert.True(manager.IsRunning);
        gate.Open();
        Assert.Equal(2, Bounded.Result(waiting, "the item queued when the on-demand worker failed"));
        Bounded.Wait(busy, "the busy item");
    }

    public static TheoryData<string> WaitingStops => ["Stop", "StopAsync", "Dispose", "DisposeAsync"];

    [Theory]
    [MemberData(nameof(WaitingStops))]
    public void WorkerStopping_RunsOnEachWorkerAsItExits_BeforeAWaitingStopReturns(string stop)
    {
        var hooks = new HookLog();
        var manager = new ThreadPoolManager(TestIds.New("hooks-stopping"));
        try
        {
            manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 3, WorkerStarted = hooks.Started, WorkerStopping = hooks.Stopping });
            Bounded.Wait(Task.WhenAll(Enumerable.Range(0, 6).Select(_ => manager.Submit(static () => { }))), "some work");
            Assert.Empty(hooks.StoppingThreads);

            switch (stop)
            {
                case "Stop":
                    Bounded.Stop(manager);
                    break;
                case "StopAsync":
                    Bounded.Wait(manager.StopAsync(), "StopAsync");
                    break;
                case "Dispose":
                    Bounded.OnNewThread(manager.Dispose, "disposing");
                    break;
                default:
                    Bounded.Wait(manager.DisposeAsync().AsTask(), "DisposeAsync");
                    break;
            }

            // Every worker that started has run WorkerStopping, on its own thread, once, by the time the stop returned.
            Assert.Equal(3, hooks.StoppingThreads.Count);
            Assert.Equal(hooks.StartedThreads.OrderBy(static t => t.ManagedThreadId), hooks.StoppingThreads.OrderBy(static t => t.ManagedThreadId));
            Assert.All(hooks.Managers, m => Assert.Same(manager, m));
            Assert.All(hooks.StoppingThreads, static t => Assert.False(t.IsAlive));
        }
        finally
        {
            manager.Dispose();
        }
    }

    [Fact]
    public void WorkerStopping_RunsWhenAWorkerRetiresWithIdleTimeout_WhileThePoolKeepsRunning()
    {
        var hooks = new HookLog();
        using var manager = new ThreadPoolManager(TestIds.New("hooks-retire"));
        manager.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            MinWorkers = 1,
            IdleTimeout = TimeSpan.FromMilliseconds(20),
            WorkerStarted = hooks.Started,
            WorkerStopping = hooks.Stopping,
        });
        using var gate = new Gate();
        var items = gate.HoldWorkers(manager, 2, "two items on two workers");
        gate.Open();
        Bounded.Wait(Task.WhenAll(items), "the items");

        Bounded.Until(() => hooks.StoppingThreads.Count == 1, "the worker above MinWorkers to retire");
        var retired = Assert.Single(hooks.StoppingThreads);
        Assert.Contains(retired, hooks.StartedThreads);
        Bounded.Join(retired, "the retired worker");
        Assert.True(manager.IsRunning);
        Assert.Equal(1, manager.GetStatistics().Workers);

        Bounded.Stop(manager);
        Assert.Equal(2, hooks.StoppingThreads.Count);
    }

    [Fact]
    public void WorkerStopping_Throws_IsLoggedForEachWorker_TheStopReturns_AndThePoolStartsAgain()
    {
        var logs = new RecordingLogger();
        var failure = new InvalidOperationException("planned WorkerStopping failure");
        using var manager = new ThreadPoolManager(TestIds.New("hooks-stopping-throws"));
        var options = new ThreadPoolManagerOptions { MaxWorkers = 2, LoggerFactory = logs, WorkerStopping = _ => throw failure };
        manager.Start(options);
        Bounded.Wait(manager.Submit(static () => { }), "some work");

        Bounded.Stop(manager);

        var logged = logs.Entries.Where(static e => e.EventId.Name == "WorkerStoppingFailed").ToList();
        Assert.Equal(2, logged.Count);
        Assert.All(logged, e =>
        {
            Assert.Equal(4, e.EventId.Id);
            Assert.Equal(LogLevel.Error, e.Level);
            Assert.Same(failure, e.Exception);
            Assert.Contains(manager.Id, e.Message, StringComparison.Ordinal);
        });
        Assert.Equal(0, manager.GetStatistics().Workers);
        manager.Start(options);
        Assert.Equal(3, Bounded.Result(manager.Submit(static () => 3), "work after the restart"));
    }

    /// <summary>What the hooks saw: the threads they ran on and the managers they were given.</summary>
    private sealed class HookLog
    {
        private readonly ConcurrentQueue<Thread> _started = new();
        private readonly ConcurrentQueue<Thread> _stopping = new();
        private readonly ConcurrentQueue<ThreadPoolManager> _managers = new();

        public IReadOnlyList<Thread> StartedThreads => [.. _started];

        public IReadOnlyList<Thread> StoppingThreads => [.. _stopping];

        public IReadOnlyList<ThreadPoolManager> Managers => [.. _managers];

        public void Started(ThreadPoolManager manager)
        {
            _started.Enqueue(Thread.CurrentThread);
            _managers.Enqueue(manager);
        }

        public void Stopping(ThreadPoolManager manager)
        {
            _stopping.Enqueue(Thread.CurrentThread);
            _managers.Enqueue(manager);
        }
    }
}
