using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// <see cref="ThreadPoolManagerOptions"/>: documented defaults, validation by <c>Start</c> (every problem in one
/// exception, nothing started), and the copy <c>Start</c> takes (DESIGN.md §2 "Options").
/// </summary>
public class ThreadPoolManagerOptionsTests
{
    private static int s_nextId;

    [Fact]
    public void Constructor_Defaults_AreTheDocumentedValues()
    {
        var options = new ThreadPoolManagerOptions();

        Assert.Equal(Environment.ProcessorCount, options.MaxWorkers);
        Assert.Null(options.TaskType);
        Assert.False(options.IsBackground);
        Assert.Null(options.ThreadNamePrefix);
        Assert.True(options.FlowExecutionContext);
        Assert.True(options.LogExceptions);
        Assert.Null(options.LoggerFactory);
    }

    [Fact]
    public void Start_DefaultOptions_StartsProcessorCountWorkersNamedAfterId()
    {
        using var manager = new ThreadPoolManager(NewId("defaults"));

        manager.Start(new ThreadPoolManagerOptions());

        Assert.Equal(Environment.ProcessorCount, manager.MaxWorkers);
        Assert.Equal(Environment.ProcessorCount, manager.GetStatistics().Workers);
        Assert.Null(manager.TaskType);
        Assert.False(manager.IsBackground);
        Assert.StartsWith(manager.Id + "-", Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name), "work"), StringComparison.Ordinal);
    }

    [Fact]
    public void Start_OptionsWithSeveralProblems_ThrowsOneArgumentExceptionListingAllAndStartsNothing()
    {
        using var manager = new WorkerTrackingManager(NewId("invalid"));
        var options = new ThreadPoolManagerOptions { MaxWorkers = 0, TaskType = string.Empty, ThreadNamePrefix = "   " };

        var exception = Assert.ThrowsAny<ArgumentException>(() => manager.Start(options));

        Assert.Contains(nameof(ThreadPoolManagerOptions.MaxWorkers), exception.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ThreadPoolManagerOptions.TaskType), exception.Message, StringComparison.Ordinal);
        Assert.Contains(nameof(ThreadPoolManagerOptions.ThreadNamePrefix), exception.Message, StringComparison.Ordinal);
        Assert.Contains(manager.Id, exception.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
        Assert.Empty(manager.StartedWorkers);
        Assert.Equal(0, manager.GetStatistics().Workers);
        Assert.Throws<InvalidOperationException>(() => { _ = manager.Submit(() => { }); });

        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1 });
        Assert.True(manager.IsRunning);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    public void Start_MaxWorkersBelowOne_ThrowsArgumentExceptionNamingIt(int maxWorkers)
    {
        using var manager = new ThreadPoolManager(NewId("max-workers"));

        var exception = Assert.ThrowsAny<ArgumentException>(() => manager.Start(new ThreadPoolManagerOptions { MaxWorkers = maxWorkers }));

        Assert.Contains(nameof(ThreadPoolManagerOptions.MaxWorkers), exception.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public void Start_NullOptions_ThrowsArgumentNullException()
    {
        using var manager = new ThreadPoolManager(NewId("null"));

        var exception = Assert.Throws<ArgumentNullException>(() => manager.Start(null!));

        Assert.Equal("options", exception.ParamName);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
    }

    [Fact]
    public void Start_OptionsChangedAfterStart_RunningPoolUnaffected()
    {
        using var manager = new ThreadPoolManager(NewId("copied"));
        var options = new ThreadPoolManagerOptions { MaxWorkers = 2, TaskType = "render", ThreadNamePrefix = "before" };
        manager.Start(options);

        options.MaxWorkers = 5;
        options.TaskType = "other";
        options.ThreadNamePrefix = "after";
        options.IsBackground = true;

        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal("render", manager.TaskType);
        Assert.False(manager.IsBackground);
        Assert.Throws<UnknownTaskTypeException>(() => { _ = manager.Submit(() => { }, "other"); });
        var name = Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name, "render"), "work");
        Assert.StartsWith("before-", name, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_SameOptionsForTwoManagers_EachGetsItsOwnSettings()
    {
        var options = new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "shared" };
        using var first = new ThreadPoolManager(NewId("shared-a"));
        using var second = new ThreadPoolManager(NewId("shared-b"));

        first.Start(options);
        options.MaxWorkers = 2;
        second.Start(options);

        Assert.Equal(1, first.MaxWorkers);
        Assert.Equal(2, second.MaxWorkers);
        Assert.Equal("shared", first.TaskType);
        Assert.Equal("shared", second.TaskType);
        // The default prefix is each manager's own id.
        Assert.StartsWith(first.Id + "-", Bounded.Result(first.Submit(() => Thread.CurrentThread.Name, "shared"), "work"), StringComparison.Ordinal);
        Assert.StartsWith(second.Id + "-", Bounded.Result(second.Submit(() => Thread.CurrentThread.Name, "shared"), "work"), StringComparison.Ordinal);
    }

    private static string NewId(string name) => $"pool-options-{name}-{Interlocked.Increment(ref s_nextId)}";
}
