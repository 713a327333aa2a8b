using System.Collections.Concurrent;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <content>State and <c>Start</c>: docs/pools.md, "Lifecycle" and "Per-worker initialization".</content>
public partial class ThreadPoolManagerTests
{
    [Fact]
    public void IsRunning_BeforeStartAfterStartAndOnceStopBegins_FalseTrueFalse()
    {
        using var manager = new ThreadPoolManager(TestIds.New("is-running"));
        Assert.False(manager.IsRunning);

        manager.Start(1);
        Assert.True(manager.IsRunning);

        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
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
        using var manager = new ThreadPoolManager(TestIds.New("max-workers"));
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

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_AfterDispose_ThrowsObjectDisposedException(SubmitKind kind)
    {
        var manager = new ThreadPoolManager(TestIds.New("submit-disposed"));
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
        var manager = new ThreadPoolManager(TestIds.New("submit-disposed-message"));
        manager.Start(1);
        manager.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => { _ = manager.Submit(() => { }); });
        Assert.Contains(manager.Id, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_AfterDispose_ThrowsObjectDisposedException()
    {
        var manager = new ThreadPoolManager(TestIds.New("start-disposed"));
        manager.Dispose();

        Assert.Throws<ObjectDisposedException>(() => manager.Start(1));
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public void Start_WhileRunning_ThrowsInvalidOperationExceptionAndKeepsRunning()
    {
        using var manager = new ThreadPoolManager(TestIds.New("start-twice"));
        manager.Start(2);

        var exception = Assert.Throws<InvalidOperationException>(() => manager.Start(3));

        Assert.Contains(manager.Id, exception.Message, StringComparison.Ordinal);
        Assert.True(manager.IsRunning);
        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal(2, manager.GetStatistics().Workers);
        Assert.Equal(1, Bounded.Result(manager.Submit(() => 1), "work after the refused start"));
    }

    [Fact]
    public void Start_DefaultPrefix_NamesWorkersIdDashNumber()
    {
        using var manager = new WorkerTrackingManager(TestIds.New("names-default"));

        manager.Start(3);

        var names = manager.StartedWorkers.Select(thread => thread.Name).Order(StringComparer.Ordinal);
        Assert.Equal([$"{manager.Id}-1", $"{manager.Id}-2", $"{manager.Id}-3"], names);
    }

    [Fact]
    public void Start_ThreadNamePrefix_NamesWorkersPrefixDashNumber()
    {
        using var manager = new WorkerTrackingManager(TestIds.New("names-prefix"));

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
        using var manager = new ThreadPoolManager(TestIds.New("is-background"));
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
        using var manager = new ThreadPoolManager(TestIds.New("dedicated"));
        manager.Start(2);

        var tasks = Enumerable.Range(0, 8).Select(_ => manager.Submit(() => Thread.CurrentThread.IsThreadPoolThread)).ToArray();

        Assert.All(Bounded.Result(Task.WhenAll(tasks), "work"), Assert.False);
    }

    [Fact]
    public void OnWorkerStarted_EachWorker_RunsOnceBeforeTakingWork()
    {
        var initialized = new ConcurrentDictionary<Thread, int>();
        using var manager = new WorkerTrackingManager(TestIds.New("on-worker-started"))
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

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    public void Start_MaxWorkersBelowOne_ThrowsArgumentOutOfRangeAndStartsNothing(int maxWorkers)
    {
        using var manager = new WorkerTrackingManager(TestIds.New("bad-max-workers"));

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
