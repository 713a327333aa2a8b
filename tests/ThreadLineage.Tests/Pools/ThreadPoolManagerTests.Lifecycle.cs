using System.Collections.Concurrent;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <content>State and <c>Start</c>: docs/pools.md, "Lifecycle" and "Per-worker initialization".</content>
public partial class ThreadPoolManagerTests
{
    [Fact]
    public void IsRunning_BeforeStartAfterStartAndOnceStopBegins_FalseTrueFalse()
    {
        using var manager = new ThreadPoolManager(NewId("is-running"));
        Assert.False(manager.IsRunning);

        manager.Start(1);
        Assert.True(manager.IsRunning);

        using var gate = new Gate();
        var blocker = Block(manager, gate);
        manager.Stop(wait: false);

        // The stop has begun but the only worker is still blocked: the manager no longer counts as running.
        Assert.False(blocker.IsCompleted);
        Assert.False(manager.IsRunning);
        gate.Open();
        Bounded.Wait(blocker, "the blocker");
    }

    [Fact]
    public void MaxWorkers_BeforeFirstStart_IsZero()
    {
        using var manager = new ThreadPoolManager(NewId("max-workers"));
        Assert.Equal(0, manager.MaxWorkers);

        manager.Start(3);

        Assert.Equal(3, manager.MaxWorkers);
    }

    [Fact]
    public void Constructor_NullId_UsesDefaultId()
    {
        using var manager = new ThreadPoolManager();

        Assert.Equal(ThreadPoolManager.DefaultId, manager.Id);
        Assert.Equal("default", ThreadPoolManager.DefaultId);
        Assert.Null(manager.Owner);
        Assert.Null(manager.TaskType);
    }

    [Fact]
    public async Task Stop_NeverStarted_DoesNothing()
    {
        using var manager = new ThreadPoolManager(NewId("stop-unstarted"));

        manager.Stop();
        manager.Stop(wait: false);
        manager.Stop(wait: true, cancelPending: true);
        await Bounded.WaitAsync(manager.StopAsync(), "StopAsync on a manager that never started");

        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
        Assert.Equal(default, manager.GetStatistics());
        manager.Start(1);
        Assert.Equal(7, Bounded.Result(manager.Submit(() => 7), "work after the stops"));
    }

    [Fact]
    public void Dispose_Twice_DoesNothing()
    {
        var manager = new ThreadPoolManager(NewId("dispose-twice"));
        manager.Start(1);

        manager.Dispose();
        manager.Dispose();

        Assert.False(manager.IsRunning);
    }

    [Fact]
    public async Task DisposeAsync_Twice_DoesNothing()
    {
        var manager = new ThreadPoolManager(NewId("dispose-async-twice"));
        manager.Start(1);

        await Bounded.WaitAsync(manager.DisposeAsync().AsTask(), "the first DisposeAsync");
        await Bounded.WaitAsync(manager.DisposeAsync().AsTask(), "the second DisposeAsync");
        manager.Dispose();

        Assert.False(manager.IsRunning);
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_AfterDispose_ThrowsObjectDisposedException(SubmitKind kind)
    {
        var manager = new ThreadPoolManager(NewId("submit-disposed"));
        manager.Start(1);
        manager.Dispose();
        var ran = false;

        var exception = ThrowsSync<ObjectDisposedException>(() => SubmitAny(manager, kind, () => ran = true));

        Assert.IsAssignableFrom<InvalidOperationException>(exception);
        Assert.False(ran);
    }

    // Before 007f364, the disposed message did not name the manager.
    [Fact]
    public void Submit_AfterDispose_MessageNamesTheManager()
    {
        var manager = new ThreadPoolManager(NewId("submit-disposed-message"));
        manager.Start(1);
        manager.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => { _ = manager.Submit(() => { }); });
        Assert.Contains(manager.Id, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_AfterDispose_ThrowsObjectDisposedException()
    {
        var manager = new ThreadPoolManager(NewId("start-disposed"));
        manager.Dispose();

        Assert.Throws<ObjectDisposedException>(() => manager.Start(1));
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public void Start_WhileRunning_ThrowsInvalidOperationExceptionAndKeepsRunning()
    {
        using var manager = new ThreadPoolManager(NewId("start-twice"));
        manager.Start(2);

        var exception = Assert.Throws<InvalidOperationException>(() => manager.Start(3));

        Assert.Contains(manager.Id, exception.Message, StringComparison.Ordinal);
        Assert.True(manager.IsRunning);
        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal(2, manager.GetStatistics().Workers);
        Assert.Equal(1, Bounded.Result(manager.Submit(() => 1), "work after the refused start"));
    }

    [Fact]
    public void Start_AfterStop_RunsWorkAgain()
    {
        using var manager = new ThreadPoolManager(NewId("restart"));
        manager.Start(1);
        Bounded.Wait(manager.Submit(() => { }), "first run's work");
        Bounded.Stop(manager);

        manager.Start(2);

        Assert.True(manager.IsRunning);
        Assert.Equal(2, manager.MaxWorkers);
        var name = Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name), "second run's work");
        Assert.StartsWith(manager.Id + "-", name, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Start_RightAfterStopWithoutWait_KeepsMaxWorkersAndFifoAcrossBothRuns(int maxWorkers)
    {
        // A restart while the previous run drains: the new run's items start after the old run's queued ones, and
        // never more than MaxWorkers items of the manager run at once (a one-worker pool stays an event loop).
        using var manager = new ThreadPoolManager(NewId("restart-draining"));
        manager.Start(maxWorkers);
        var tracker = new ConcurrencyTracker();
        var order = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var gate = new Gate();
        var running = 0;
        void Track(int label, bool wait) => tracker.Run(() =>
        {
            Interlocked.Increment(ref running);
            order.Enqueue(label);
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

        manager.Start(maxWorkers);
        using var newItemStarted = new ManualResetEventSlim();
        var restarted = Enumerable.Range(100, 5).Select(i => manager.Submit(() =>
        {
            newItemStarted.Set();
            Track(i, wait: false);
        })).ToArray();

        // Give a wrongly eager new run the chance to show itself before the old run resumes. A correct one starts
        // nothing here, so this wait always runs out; it shapes the interleaving, nothing depends on its length.
        newItemStarted.Wait(TimeSpan.FromMilliseconds(200));
        gate.Open();
        Bounded.Wait(Task.WhenAll(old.Concat(restarted)), "both runs' items");

        Assert.True(tracker.Max <= maxWorkers, $"{tracker.Max} items ran at once across the two runs (MaxWorkers {maxWorkers}).");
        var labels = order.ToList();
        var lastOld = labels.FindLastIndex(static label => label < 100);
        var firstNew = labels.FindIndex(static label => label >= 100);
        Assert.True(maxWorkers > 1 || lastOld < firstNew, $"an item submitted after the restart started before the old run's queue: {string.Join(",", labels)}.");
        Assert.True(labels.IndexOf(5) < firstNew, $"the old run's last queued item started after a new one: {string.Join(",", labels)}.");
    }

    [Fact]
    public void Start_DefaultPrefix_NamesWorkersIdDashNumber()
    {
        using var manager = new WorkerTrackingManager(NewId("names-default"));

        manager.Start(3);

        var names = manager.StartedWorkers.Select(thread => thread.Name).Order(StringComparer.Ordinal);
        Assert.Equal([$"{manager.Id}-1", $"{manager.Id}-2", $"{manager.Id}-3"], names);
    }

    [Fact]
    public void Start_ThreadNamePrefix_NamesWorkersPrefixDashNumber()
    {
        using var manager = new WorkerTrackingManager(NewId("names-prefix"));

        manager.Start(2, threadNamePrefix: "render");

        var names = manager.StartedWorkers.Select(thread => thread.Name).Order(StringComparer.Ordinal);
        Assert.Equal(["render-1", "render-2"], names);
        Assert.StartsWith("render-", Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name), "work"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Work sees <c>Thread.IsBackground == isBackground</c>, through both <c>Start</c> overloads and after an <c>await</c>
    /// (the seed's <c>daemon</c> flag had no effect).
    /// </summary>
    [Theory]
    [InlineData(true, false)]
    [InlineData(false, false)]
    [InlineData(true, true)]
    [InlineData(false, true)]
    public void Start_IsBackgroundFlag_WorkRunsWithMatchingIsBackground(bool isBackground, bool useOptions)
    {
        using var manager = new ThreadPoolManager(NewId("is-background"));
        if (useOptions)
        {
            manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, IsBackground = isBackground });
        }
        else
        {
            manager.Start(2, isBackground: isBackground);
        }

        var seen = Bounded.Result(
            manager.Submit(async () =>
            {
                var before = Thread.CurrentThread.IsBackground;
                await Task.Yield();
                return (Before: before, After: Thread.CurrentThread.IsBackground);
            }),
            "work");

        Assert.Equal(isBackground, manager.IsBackground);
        Assert.Equal(isBackground, seen.Before);
        Assert.Equal(isBackground, seen.After);
    }

    [Fact]
    public void Start_Workers_AreDedicatedThreadsNotThreadPoolThreads()
    {
        using var manager = new ThreadPoolManager(NewId("dedicated"));
        manager.Start(2);

        var tasks = Enumerable.Range(0, 8).Select(_ => manager.Submit(() => Thread.CurrentThread.IsThreadPoolThread)).ToArray();

        Assert.All(Bounded.Result(Task.WhenAll(tasks), "work"), Assert.False);
    }

    [Fact]
    public void OnWorkerStarted_EachWorker_RunsOnceBeforeTakingWork()
    {
        var initialized = new ConcurrentDictionary<Thread, int>();
        using var manager = new WorkerTrackingManager(NewId("on-worker-started"))
        {
            OnStart = () => initialized.AddOrUpdate(Thread.CurrentThread, 1, (_, count) => count + 1),
        };
        manager.Start(3);

        var tasks = Enumerable.Range(0, 30)
            .Select(_ => manager.Submit(() => initialized.ContainsKey(Thread.CurrentThread)))
            .ToArray();

        Assert.All(Bounded.Result(Task.WhenAll(tasks), "work"), Assert.True);
        Bounded.Stop(manager);
        Assert.Equal(3, manager.StartedWorkers.Count);
        Assert.Equal(3, initialized.Count);
        Assert.All(initialized.Values, count => Assert.Equal(1, count));
        Assert.All(initialized.Keys, thread => Assert.StartsWith(manager.Id + "-", thread.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void OnWorkerStarted_Throws_StartThrowsAggregateExceptionLeavesNoWorkerAndCanStartAgain()
    {
        var calls = 0;
        var failure = new InvalidOperationException("planned OnWorkerStarted failure");
        using var manager = new WorkerTrackingManager(NewId("on-worker-started-throws"))
        {
            // The second worker of the first start fails; the others succeed and must exit again.
            OnStart = () =>
            {
                if (Interlocked.Increment(ref calls) == 2)
                {
                    throw failure;
                }
            },
        };

        var exception = Assert.Throws<AggregateException>(() => manager.Start(3));

        Assert.Same(failure, Assert.Single(exception.InnerExceptions));
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.GetStatistics().Workers);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
        var firstRun = manager.StartedWorkers;
        Assert.Equal(3, firstRun.Count);
        foreach (var thread in firstRun)
        {
            Bounded.Join(thread, $"{thread.Name} of the failed start");
        }

        manager.Start(2);

        Assert.True(manager.IsRunning);
        Assert.Equal(5, Bounded.Result(manager.Submit(() => 5), "work after the restart"));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Start_MaxWorkersBelowOne_ThrowsArgumentOutOfRangeAndStartsNothing(int maxWorkers)
    {
        using var manager = new WorkerTrackingManager(NewId("bad-max-workers"));

        var exception = Assert.Throws<ArgumentOutOfRangeException>(() => manager.Start(maxWorkers));

        Assert.Equal("maxWorkers", exception.ParamName);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
        Assert.Empty(manager.StartedWorkers);
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
        manager.Start(1);
        Assert.True(manager.IsRunning);
    }
}
