namespace ThreadLineage.Tests.Pools;

/// <summary>MinWorkers, IdleTimeout and SetMaxWorkers: the pool grows on demand and shrinks when idle.</summary>
public class ElasticityTests
{
    [Fact]
    public void Start_WithMinWorkers_CreatesOnlyTheMinimumUpFront()
    {
        using var manager = new ThreadPoolManager("elastic-min");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 4, MinWorkers = 1 });
        Assert.Equal(1, manager.GetStatistics().Workers);
        Assert.Equal(4, manager.MaxWorkers);
    }

    [Fact]
    public void Submit_WhenAllWorkersBusy_GrowsUpToMaxWorkers()
    {
        using var manager = new ThreadPoolManager("elastic-grow");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 3, MinWorkers = 1 });
        using var release = new Gate();
        var threads = new System.Collections.Concurrent.ConcurrentBag<int>();
        var tasks = release.HoldWorkers(manager, 3, "three items to run at once on three workers", () => threads.Add(Environment.CurrentManagedThreadId));

        Assert.Equal(3, manager.GetStatistics().Workers);
        Assert.Equal(3, threads.Distinct().Count());
        release.Open();
        Bounded.Wait(Task.WhenAll(tasks), "the three items");
    }

    [Fact]
    public void IdleTimeout_WorkersAboveMinimumRetire_AndThePoolStillWorks()
    {
        using var manager = new ThreadPoolManager("elastic-idle");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 3, MinWorkers = 1, IdleTimeout = TimeSpan.FromMilliseconds(50) });
        using var release = new Gate();
        var tasks = release.HoldWorkers(manager, 3, "the pool to grow to three workers");
        release.Open();
        Bounded.Wait(Task.WhenAll(tasks), "the three items");

        Assert.True(
            SpinWait.SpinUntil(() => manager.GetStatistics().Workers == 1, Bounded.Timeout),
            $"workers above MinWorkers should retire after the idle timeout; still {manager.GetStatistics().Workers}");

        // A submission after retirement is served (by the remaining worker or a new one).
        Assert.Equal(7, Bounded.Result(manager.Submit(() => 7), "work after retirement"));
    }

    [Fact]
    public void IdleTimeout_ManySubmissionsRacingRetirement_AllComplete()
    {
        using var manager = new ThreadPoolManager("elastic-race");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 4, MinWorkers = 1, IdleTimeout = TimeSpan.FromMilliseconds(1) });
        var random = new Random(1234);
        var tasks = new List<Task>();
        for (var round = 0; round < 200; round++)
        {
            var burst = random.Next(1, 8);
            for (var i = 0; i < burst; i++)
            {
                tasks.Add(manager.Submit(() => Thread.SpinWait(50)));
            }

            // Let workers go idle (and retire) between bursts now and then.
            if (random.Next(4) == 0)
            {
                Bounded.Wait(manager.WaitForIdleAsync(), "idle between bursts");
            }
        }

        Bounded.Wait(Task.WhenAll(tasks), "every item of the bursts");
        manager.Stop();
        Assert.Equal(tasks.Count, manager.GetStatistics().Completed);
    }

    [Fact]
    public void SetMaxWorkers_Up_LetsMoreItemsRunAtOnce()
    {
        using var manager = new ThreadPoolManager("elastic-up");
        manager.Start(1);
        using var release = new ManualResetEventSlim();
        using var bothStarted = new CountdownEvent(2);
        var first = manager.Submit(() => { bothStarted.Signal(); release.Wait(Bounded.Timeout); });
        var second = manager.Submit(() => { bothStarted.Signal(); release.Wait(Bounded.Timeout); });

        manager.SetMaxWorkers(2);

        Assert.True(bothStarted.Wait(Bounded.Timeout), "after growing to two workers both items should run at once");
        Assert.Equal(2, manager.MaxWorkers);
        release.Set();
        Bounded.Wait(Task.WhenAll(first, second), "both items");
    }

    [Fact]
    public void SetMaxWorkers_Down_RetiresExtraWorkers()
    {
        using var manager = new ThreadPoolManager("elastic-down");
        manager.Start(3);
        Assert.Equal(3, manager.GetStatistics().Workers);

        manager.SetMaxWorkers(1);

        Assert.True(
            SpinWait.SpinUntil(() => manager.GetStatistics().Workers == 1, Bounded.Timeout),
            $"extra workers should retire after shrinking; still {manager.GetStatistics().Workers}");
        Assert.Equal(1, manager.MaxWorkers);
        Assert.Equal(3, Bounded.Result(manager.Submit(() => 3), "work after shrinking"));
    }

    [Fact]
    public void SetMaxWorkers_BadArguments_Throw()
    {
        using var manager = new ThreadPoolManager("elastic-bad");
        Assert.Throws<InvalidOperationException>(() => manager.SetMaxWorkers(2));
        manager.Start(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => manager.SetMaxWorkers(0));
    }

    [Fact]
    public void Start_WithBadElasticOptions_ReportsEveryProblem()
    {
        using var manager = new ThreadPoolManager("elastic-options");
        var error = Assert.Throws<ArgumentException>(() => manager.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            MinWorkers = 3,
            IdleTimeout = TimeSpan.FromSeconds(-2),
            QueueCapacity = 0,
        }));
        Assert.Contains("MinWorkers", error.Message);
        Assert.Contains("IdleTimeout", error.Message);
        Assert.Contains("QueueCapacity", error.Message);
        Assert.Contains("elastic-options", error.Message);
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public async Task WaitForIdleAsync_CompletesOnlyWhenQueueIsEmptyAndNothingRuns()
    {
        await using var manager = new ThreadPoolManager("idle-wait");
        manager.Start(1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        _ = manager.Submit(() => { started.Set(); release.Wait(Bounded.Timeout); });
        _ = manager.Submit(() => { });
        Bounded.Wait(started, "first item start");

        var idle = manager.WaitForIdleAsync();
        Assert.False(idle.IsCompleted);

        release.Set();
        await Bounded.WaitAsync(idle, "idle");
        Assert.Equal(0, manager.GetStatistics().QueuedItems);
        Assert.True(manager.WaitForIdleAsync().IsCompleted);
    }

    [Fact]
    public async Task WaitForIdleAsync_Canceled_EndsCanceled()
    {
        await using var manager = new ThreadPoolManager("idle-cancel");
        manager.Start(1);
        using var release = new ManualResetEventSlim();
        _ = manager.Submit(() => release.Wait(Bounded.Timeout));
        using var cts = new CancellationTokenSource();
        var idle = manager.WaitForIdleAsync(cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => idle);
        release.Set();
    }

    [Fact]
    public void WaitForIdleAsync_NotRunning_CompletesAtOnce()
    {
        using var manager = new ThreadPoolManager("idle-stopped");
        Assert.True(manager.WaitForIdleAsync().IsCompletedSuccessfully);
    }

    // Before bef6abd, idle waiters were not released when the last busy worker retired.
    [Fact]
    public void WaitForIdleAsync_WhenTheLastBusyWorkerRetires_Completes()
    {
        for (var round = 0; round < 300; round++)
        {
            using var manager = new ThreadPoolManager("elastic-idle-retire");
            manager.Start(2);
            manager.SetMaxWorkers(1);
            Bounded.Wait(manager.WaitForIdleAsync(), $"idle after shrinking (round {round})");
        }
    }
}
