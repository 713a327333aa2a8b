using ThreadLineage.Tests.Support;
using Xunit.Abstractions;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// The contract of <see cref="ThreadPoolManager"/> (docs/pools.md), split by aspect into partial files:
/// lifecycle, submission, cancellation, context, shutdown, lifecycle interleavings, faults and bad input; this file
/// holds the shared helpers, statistics and diagnostics.
/// </summary>
/// <remarks>
/// Isolation: every manager has a unique id, is free-standing unless the lineage matters, and is stopped by
/// <c>using</c>. Gates are declared after their manager so that they open before it drains. Every wait is
/// bounded (<see cref="Bounded"/>, <see cref="Gate"/>); nothing asserts on time.
/// </remarks>
public partial class ThreadPoolManagerTests(ITestOutputHelper output)
{
    private readonly ITestOutputHelper _output = output;

    /// <summary>The four <c>Submit</c> overloads, for theories that hold for each of them.</summary>
    public enum SubmitKind
    {
        Action,
        Func,
        AsyncAction,
        AsyncFunc,
    }

    public static TheoryData<SubmitKind> AllSubmitKinds => [SubmitKind.Action, SubmitKind.Func, SubmitKind.AsyncAction, SubmitKind.AsyncFunc];

    [Fact]
    public void GetStatistics_BeforeStart_AllZero()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-unstarted"));

        Assert.Equal(default, manager.GetStatistics());
    }

    [Fact]
    public void GetStatistics_AfterStopWait_OutcomeCountersExact()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-exact"));
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }, "stats"));
        manager.Start(1, taskType: "stats");
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager, "stats");
        using var cancel = new CancellationTokenSource();
        var tasks = new List<Task> { blocker };
        for (var i = 0; i < 3; i++)
        {
            tasks.Add(manager.Submit(() => { }, "stats"));
        }

        for (var i = 0; i < 2; i++)
        {
            tasks.Add(manager.Submit(Throw(new InvalidOperationException("planned")), "stats"));
        }

        tasks.Add(manager.Submit(() => { }, "stats", cancel.Token));
        tasks.Add(manager.Submit(() => 1, "stats", cancel.Token));
        ThrowsSync<UnknownTaskTypeException>(() => manager.Submit(() => { }, "other"));
        cancel.Cancel();
        gate.Open();

        Bounded.Stop(manager);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }, "stats"));

        var statistics = manager.GetStatistics();
        Assert.Equal(4, statistics.Completed);
        Assert.Equal(2, statistics.Faulted);
        Assert.Equal(2, statistics.Canceled);
        Assert.Equal(3, statistics.Rejected);
        Assert.All(tasks, task => Assert.True(task.IsCompleted));
    }

    [Fact]
    public void GetStatistics_AsyncWork_CountedByItsFinalOutcome()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-async"));
        manager.Start(2);
        var ok = manager.Submit(async () => await Task.Yield());
        var value = manager.Submit(async () =>
        {
            await Task.Yield();
            return 1;
        });
        var faulted = manager.Submit(async () =>
        {
            await Task.Yield();
            throw new InvalidOperationException("planned");
        });
        Bounded.WaitFinal(Task.WhenAll(ok, value, faulted), "async work");

        Bounded.Stop(manager);

        var statistics = manager.GetStatistics();
        Assert.Equal(2, statistics.Completed);
        Assert.Equal(1, statistics.Faulted);
        Assert.Equal(0, statistics.Canceled);
    }

    [Fact]
    public void GetStatistics_AcrossRestart_CountersAreCumulative()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-restart"));
        manager.Start(1);
        Bounded.Wait(manager.Submit(() => { }), "first run's work");
        Bounded.WaitFinal(manager.Submit(Throw(new InvalidOperationException("planned"))), "first run's fault");
        Bounded.Stop(manager);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));

        manager.Start(2);
        Bounded.Wait(Task.WhenAll(manager.Submit(() => { }), manager.Submit(() => 2)), "second run's work");
        Bounded.Stop(manager);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));

        var statistics = manager.GetStatistics();
        Assert.Equal(3, statistics.Completed);
        Assert.Equal(1, statistics.Faulted);
        Assert.Equal(2, statistics.Rejected);
    }

    [Fact]
    public void GetStatistics_RunningThenStopped_WorkersEqualsMaxWorkersThenZero()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-workers"));
        manager.Start(3);

        Assert.Equal(3, manager.MaxWorkers);
        Assert.Equal(3, manager.GetStatistics().Workers);

        Bounded.Stop(manager);

        Assert.Equal(0, manager.GetStatistics().Workers);
    }

    [Fact]
    public void GetStatistics_WhileGateBlocksWorker_ShowsBusyWorkersAndQueuedItems()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-busy"));
        manager.Start(1);
        Assert.Equal(0, manager.GetStatistics().BusyWorkers);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var queued = new[] { manager.Submit(() => { }), manager.Submit(() => { }), manager.Submit(() => { }) };

        var blocked = manager.GetStatistics();
        Assert.Equal(1, blocked.Workers);
        Assert.Equal(1, blocked.BusyWorkers);
        Assert.Equal(3, blocked.QueuedItems);

        gate.Open();
        Bounded.Wait(Task.WhenAll([blocker, .. queued]), "the blocker and the queued items");
        Bounded.Stop(manager);

        var stopped = manager.GetStatistics();
        Assert.Equal(0, stopped.BusyWorkers);
        Assert.Equal(0, stopped.QueuedItems);
        Assert.Equal(4, stopped.Completed);
    }

    /// <summary>
    /// A stopping run's busy worker and queue are still the manager's, and counted, until they are gone; restarted
    /// meanwhile, they are counted next to the new run's two idle workers.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GetStatistics_WhileAStoppedRunDrains_CountsItsBusyWorkerAndQueueUntilTheyAreGone(bool restartedMeanwhile)
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-draining"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var queued = new[] { manager.Submit(() => { }), manager.Submit(() => { }) };
        manager.Stop(wait: false);

        if (restartedMeanwhile)
        {
            manager.Start(2);
        }

        Assert.Equal(restartedMeanwhile, manager.IsRunning);
        Assert.Equal(restartedMeanwhile ? (3, 1, 2) : (1, 1, 2), Figures(manager.GetStatistics()));
        gate.Open();
        Bounded.Stop(manager);
        Bounded.Wait(Task.WhenAll([blocker, .. queued]), "the drained items");
        Assert.Equal((0, 0, 0), Figures(manager.GetStatistics()));
        Assert.Equal(3, manager.GetStatistics().Completed);
    }

    [Fact]
    public void Rejected_CountsEverySynchronousRefusal_AndNothingElse()
    {
        using var manager = new ThreadPoolManager(TestIds.New("stats-rejected"));
        var refusals = 0;
        void Refused(Func<object?> call)
        {
            Assert.ThrowsAny<InvalidOperationException>(() => { _ = call(); });
            refusals++;
        }

        // Never started: Submit, Post and GetScheduler are refused.
        Refused(() => manager.Submit(() => { }));
        Refused(() =>
        {
            manager.Post(() => { });
            return null;
        });
        Refused(() => manager.GetScheduler());
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "job", QueueCapacity = 1, QueueFullMode = QueueFullMode.Reject });

        // Wrong task type (UnknownTaskTypeException), and a full queue in Reject mode (ThreadPoolFullException).
        Refused(() => manager.Submit(() => { }, "other"));
        Refused(() =>
        {
            manager.Post(() => { });
            return null;
        });
        Refused(() => manager.GetScheduler("other"));
        using (var gate = new Gate())
        {
            var blocker = gate.HoldWorker(manager, "job");
            var queued = manager.Submit(() => { }, "job");
            Refused(() => manager.Submit(() => { }, "job"));
            Refused(() =>
            {
                manager.Post(() => { }, "job");
                return null;
            });

            // Stopping, then stopped, then disposed.
            manager.Stop(wait: false);
            Refused(() => manager.Submit(() => { }, "job"));
            gate.Open();
            Bounded.Wait(Task.WhenAll(blocker, queued), "the accepted items");
        }

        Bounded.Stop(manager);
        Refused(() =>
        {
            manager.Post(() => { }, "job");
            return null;
        });
        manager.Dispose();
        Refused(() => manager.Submit(() => { }, "job"));

        // Not refusals: invalid arguments, a canceled token, work that fails.
        ThrowsSync<ArgumentNullException>(() => manager.Submit((Action)null!));
        Assert.Throws<ArgumentNullException>(() => manager.Post(null!));
        var statistics = manager.GetStatistics();
        Assert.Equal(refusals, statistics.Rejected);
        Assert.Equal(11, statistics.Rejected);
        Assert.Equal(2, statistics.Completed);
    }

    [Fact]
    public void AllInstances_LiveManager_IsListed()
    {
        using var manager = new ThreadPoolManager(TestIds.New("all-instances"));

        Assert.Contains(manager, ThreadPoolManager.AllInstances);

        manager.Start(1);
        Assert.Contains(manager, ThreadPoolManager.AllInstances);
    }

    [Fact]
    public void ToString_RunningThenStopped_ContainsIdWorkerCountStateAndOwner()
    {
        var id = TestIds.New("to-string");
        using var scope = Lineage.BeginScope("to-string-scope");
        var manager = Lineage.GetOrCreateManager(id);
        manager.Start(3);

        var running = manager.ToString();
        Assert.Contains(id, running, StringComparison.Ordinal);
        Assert.Contains("3", running.Replace(id, string.Empty, StringComparison.Ordinal).Replace(scope.Node.ToString(), string.Empty, StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("running", running, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(scope.Node.ToString(), running, StringComparison.Ordinal);

        Bounded.Stop(manager);

        var stopped = manager.ToString();
        Assert.Contains(id, stopped, StringComparison.Ordinal);
        Assert.Contains("stop", stopped, StringComparison.OrdinalIgnoreCase);
        Assert.NotEqual(running, stopped);
    }

    /// <summary>Asserts that <paramref name="submit"/> throws <typeparamref name="T"/> synchronously, before any task exists.</summary>
    private static T ThrowsSync<T>(Func<Task> submit)
        where T : Exception => Assert.Throws<T>(() => { _ = submit(); });

    /// <summary>
    /// Synchronous work that throws <paramref name="exception"/>. (A bare <c>() => throw e</c> lambda binds to the
    /// <c>Func&lt;Task&gt;</c> overload, as with <c>Task.Run</c>, which would make it async work.)
    /// </summary>
    private static Action Throw(Exception exception) => () => throw exception;

    /// <summary>The figures of the moment: workers, busy workers, queued items.</summary>
    private static (int Workers, int Busy, int Queued) Figures(ThreadPoolStatistics statistics) =>
        (statistics.Workers, statistics.BusyWorkers, statistics.QueuedItems);

    /// <summary>A manager with a unique id that records its worker threads, to check that none survives a stop.</summary>
    private static WorkerTrackingManager NewTrackedManager(string name) => new(TestIds.New(name));

    /// <summary>Submits <paramref name="body"/> through the chosen overload; async kinds run it after a real yield.</summary>
    private static Task SubmitAny(ThreadPoolManager manager, SubmitKind kind, Action body, string? taskType = null, CancellationToken cancellationToken = default) =>
        kind switch
        {
            SubmitKind.Action => manager.Submit(body, taskType, cancellationToken),
            SubmitKind.Func => manager.Submit(
                () =>
                {
                    body();
                    return 42;
                },
                taskType,
                cancellationToken),
            SubmitKind.AsyncAction => manager.Submit(
                async () =>
                {
                    await Task.Yield();
                    body();
                },
                taskType,
                cancellationToken),
            SubmitKind.AsyncFunc => manager.Submit(
                async () =>
                {
                    await Task.Yield();
                    body();
                    return 42;
                },
                taskType,
                cancellationToken),
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
}
