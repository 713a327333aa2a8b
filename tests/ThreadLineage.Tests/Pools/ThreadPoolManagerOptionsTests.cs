using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// <see cref="ThreadPoolManagerOptions"/>: documented defaults, validation by <c>Start</c> (every problem in one
/// exception, nothing started), <see cref="ThreadPoolManagerOptions.Validate"/>, and the copy <c>Start</c> takes
/// (docs/pools.md, "Options" and "Validating options").
/// </summary>
public class ThreadPoolManagerOptionsTests
{
    // The options that belong to the threads, which a borrower must leave unset.
    private static readonly string[] s_threadSettings =
    [
        nameof(ThreadPoolManagerOptions.MinWorkers),
        nameof(ThreadPoolManagerOptions.IdleTimeout),
        nameof(ThreadPoolManagerOptions.IsBackground),
        nameof(ThreadPoolManagerOptions.ThreadNamePrefix),
        nameof(ThreadPoolManagerOptions.WorkerStarted),
        nameof(ThreadPoolManagerOptions.WorkerStopping),
    ];

    // The options a dedicated pool validates, in property order: every one of them is wrong in EveryDedicatedOptionInvalid.
    private static readonly string[] s_dedicatedOptions =
    [
        nameof(ThreadPoolManagerOptions.MaxWorkers),
        nameof(ThreadPoolManagerOptions.MinWorkers),
        nameof(ThreadPoolManagerOptions.IdleTimeout),
        nameof(ThreadPoolManagerOptions.QueueCapacity),
        nameof(ThreadPoolManagerOptions.QueueFullMode),
        nameof(ThreadPoolManagerOptions.TaskType),
        nameof(ThreadPoolManagerOptions.ThreadNamePrefix),
    ];

    [Fact]
    public void Constructor_Defaults_AreTheDocumentedValues()
    {
        var options = new ThreadPoolManagerOptions();

        Assert.Equal(Environment.ProcessorCount, options.MaxWorkers);
        Assert.Null(options.MinWorkers);
        Assert.Equal(Timeout.InfiniteTimeSpan, options.IdleTimeout);
        Assert.Null(options.QueueCapacity);
        Assert.Equal(QueueFullMode.Wait, options.QueueFullMode);
        Assert.Null(options.WorkersFrom);
        Assert.Null(options.WorkerStarted);
        Assert.Null(options.WorkerStopping);
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
        using var manager = new ThreadPoolManager(TestIds.New("defaults"));

        manager.Start(new ThreadPoolManagerOptions());

        Assert.Equal(Environment.ProcessorCount, manager.MaxWorkers);
        Assert.Equal(Environment.ProcessorCount, manager.GetStatistics().Workers);
        Assert.Null(manager.TaskType);
        Assert.False(manager.IsBackground);
        Assert.StartsWith(manager.Id + "-", Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name), "work"), StringComparison.Ordinal);
    }

    [Fact]
    public void Start_WithEveryOptionWrong_ThrowsOneArgumentExceptionListingAllAndStartsNothing()
    {
        using var manager = new WorkerTrackingManager(TestIds.New("every-option-wrong"));

        var error = Assert.Throws<ArgumentException>(() => manager.Start(EveryDedicatedOptionInvalid()));

        Assert.Equal("options", error.ParamName);
        foreach (var property in s_dedicatedOptions.Prepend(manager.Id))
        {
            Assert.Contains(property, error.Message, StringComparison.Ordinal);
        }

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
        using var manager = new ThreadPoolManager(TestIds.New("max-workers"));

        var exception = Assert.ThrowsAny<ArgumentException>(() => manager.Start(new ThreadPoolManagerOptions { MaxWorkers = maxWorkers }));

        Assert.Contains(nameof(ThreadPoolManagerOptions.MaxWorkers), exception.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public void Start_NullOptions_ThrowsArgumentNullException()
    {
        using var manager = new ThreadPoolManager(TestIds.New("null"));

        var exception = Assert.Throws<ArgumentNullException>(() => manager.Start(null!));

        Assert.Equal("options", exception.ParamName);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.MaxWorkers);
    }

    [Fact]
    public void Start_OptionsChangedAfterStart_RunningPoolUnaffected()
    {
        using var manager = new ThreadPoolManager(TestIds.New("copied"));
        var options = new ThreadPoolManagerOptions { MaxWorkers = 2, TaskType = "render", ThreadNamePrefix = "before" };
        manager.Start(options);

        // MaxWorkers changes to a value Start would refuse: the copy Start took is what counts.
        options.MaxWorkers = 0;
        options.TaskType = "other";
        options.ThreadNamePrefix = "after";
        options.IsBackground = true;

        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal("render", manager.TaskType);
        Assert.False(manager.IsBackground);
        Assert.Throws<UnknownTaskTypeException>(() => { _ = manager.Submit(() => { }, "other"); });
        var name = Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name, "render"), "work of the original task type");
        Assert.StartsWith("before-", name, StringComparison.Ordinal);
    }

    [Fact]
    public void Start_SameOptionsForTwoManagers_EachGetsItsOwnSettings()
    {
        var options = new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "shared" };
        using var first = new ThreadPoolManager(TestIds.New("shared-a"));
        using var second = new ThreadPoolManager(TestIds.New("shared-b"));

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

    [Fact]
    public void Validate_ValidOptions_ReturnsNoProblem()
    {
        Assert.Empty(new ThreadPoolManagerOptions().Validate());
        Assert.Empty(new ThreadPoolManagerOptions { MaxWorkers = 4, MinWorkers = 1, IdleTimeout = TimeSpan.FromSeconds(30), QueueCapacity = 1 }.Validate());
        Assert.Empty(new ThreadPoolManagerOptions { WorkersFrom = "host", MaxWorkers = 2, QueueCapacity = 10, TaskType = "job" }.Validate());
    }

    [Fact]
    public void Validate_EveryDedicatedOptionInvalid_ReturnsOneProblemPerOption_InPropertyOrder_EachNamingIt()
    {
        var problems = EveryDedicatedOptionInvalid().Validate();

        Assert.Equal(s_dedicatedOptions.Length, problems.Count);
        for (var i = 0; i < s_dedicatedOptions.Length; i++)
        {
            Assert.StartsWith(s_dedicatedOptions[i] + " ", problems[i], StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Validate_BorrowerWithEveryThreadSetting_NamesEachOfThem()
    {
        var options = new ThreadPoolManagerOptions
        {
            WorkersFrom = "host",
            MinWorkers = 1,
            IdleTimeout = TimeSpan.FromSeconds(1),
            IsBackground = true,
            ThreadNamePrefix = "borrowed",
            WorkerStarted = static _ => { },
            WorkerStopping = static _ => { },
        };

        var problem = Assert.Single(options.Validate());

        foreach (var name in s_threadSettings)
        {
            Assert.Contains(name, problem, StringComparison.Ordinal);
        }

        Assert.Contains("'host'", problem, StringComparison.Ordinal);
        Assert.Contains(nameof(ThreadPoolManagerOptions.WorkersFrom), problem, StringComparison.Ordinal);

        // Each on its own is reported too, by name, and only it.
        foreach (var name in s_threadSettings)
        {
            var single = new ThreadPoolManagerOptions { WorkersFrom = "host" };
            SetThreadSetting(single, name);
            var only = Assert.Single(single.Validate());
            Assert.Contains(name, only, StringComparison.Ordinal);
            Assert.DoesNotContain(s_threadSettings.Where(other => other != name), other => only.Contains(other + ",", StringComparison.Ordinal) || only.Contains(other + " ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Validate_IsEmptyExactlyWhenStartAcceptsTheOptions_OverManyCombinations()
    {
        using var scope = Lineage.BeginScope("validate-table");
        var hostId = TestIds.New("validate-host");
        Lineage.CreateManager(hostId).Start(2);
        var variations = Variations(hostId);
        var combinations = new List<(string Name, Action<ThreadPoolManagerOptions> Apply)>();
        for (var i = 0; i < variations.Count; i++)
        {
            combinations.Add((variations[i].Name, variations[i].Apply));
            for (var j = i + 1; j < variations.Count; j++)
            {
                if (variations[i].Property != variations[j].Property)
                {
                    var (first, second) = (variations[i], variations[j]);
                    combinations.Add(($"{first.Name}, {second.Name}", o =>
                    {
                        first.Apply(o);
                        second.Apply(o);
                    }));
                }
            }
        }

        var mismatches = new List<string>();
        var accepted = 0;
        foreach (var (name, apply) in combinations)
        {
            var options = new ThreadPoolManagerOptions { MaxWorkers = 1 };
            apply(options);
            var problems = options.Validate();
            using var manager = new ThreadPoolManager(TestIds.New("validate"));
            try
            {
                manager.Start(options);
                accepted++;
                if (problems.Count != 0)
                {
                    mismatches.Add($"{name}: Start accepted, Validate reported: {string.Join(" ", problems)}");
                }
            }
            catch (ArgumentException refused)
            {
                if (problems.Count == 0)
                {
                    mismatches.Add($"{name}: Validate reported nothing, Start threw: {refused.Message}");
                }
                else if (problems.FirstOrDefault(p => !refused.Message.Contains(p, StringComparison.Ordinal)) is { } missing)
                {
                    mismatches.Add($"{name}: Start's message lacks \"{missing}\"");
                }
            }
            finally
            {
                manager.Stop();
            }
        }

        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
        Assert.InRange(accepted, 1, combinations.Count - 1);
    }

    /// <summary>Options with each of <see cref="s_dedicatedOptions"/> set to a value that <c>Start</c> refuses.</summary>
    private static ThreadPoolManagerOptions EveryDedicatedOptionInvalid() => new()
    {
        MaxWorkers = 0,
        MinWorkers = -1,
        IdleTimeout = TimeSpan.Zero,
        QueueCapacity = 0,
        QueueFullMode = (QueueFullMode)42,
        TaskType = string.Empty,
        ThreadNamePrefix = "   ",
    };

    private static void SetThreadSetting(ThreadPoolManagerOptions options, string name)
    {
        switch (name)
        {
            case nameof(ThreadPoolManagerOptions.MinWorkers): options.MinWorkers = 1; break;
            case nameof(ThreadPoolManagerOptions.IdleTimeout): options.IdleTimeout = TimeSpan.FromSeconds(1); break;
            case nameof(ThreadPoolManagerOptions.IsBackground): options.IsBackground = true; break;
            case nameof(ThreadPoolManagerOptions.ThreadNamePrefix): options.ThreadNamePrefix = "borrowed"; break;
            case nameof(ThreadPoolManagerOptions.WorkerStarted): options.WorkerStarted = static _ => { }; break;
            default: options.WorkerStopping = static _ => { }; break;
        }
    }

    /// <summary>Values of each option, valid and invalid, around a base of <c>MaxWorkers = 1</c>.</summary>
    private static List<(string Property, string Name, Action<ThreadPoolManagerOptions> Apply)> Variations(string hostId)
    {
        var variations = new List<(string, string, Action<ThreadPoolManagerOptions>)>();
        void Add<T>(string property, IEnumerable<T> values, Action<ThreadPoolManagerOptions, T> set)
        {
            foreach (var value in values)
            {
                variations.Add((property, $"{property} = {(value is null ? "null" : value is string text ? $"\"{text}\"" : value.ToString())}", o => set(o, value)));
            }
        }

        Add(nameof(ThreadPoolManagerOptions.MaxWorkers), [2, 0, -1, int.MinValue], static (o, v) => o.MaxWorkers = v);
        Add<int?>(nameof(ThreadPoolManagerOptions.MinWorkers), [null, 1, 2, 3, 0, -1], static (o, v) => o.MinWorkers = v);
        Add(
            nameof(ThreadPoolManagerOptions.IdleTimeout),
            [Timeout.InfiniteTimeSpan, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(int.MaxValue), TimeSpan.Zero, TimeSpan.FromMilliseconds(-5), TimeSpan.FromMilliseconds(int.MaxValue + 1.0), TimeSpan.MaxValue, TimeSpan.MinValue],
            static (o, v) => o.IdleTimeout = v);
        Add<int?>(nameof(ThreadPoolManagerOptions.QueueCapacity), [null, 1, 0, -1], static (o, v) => o.QueueCapacity = v);
        Add(nameof(ThreadPoolManagerOptions.QueueFullMode), [QueueFullMode.Reject, QueueFullMode.RunInCaller, (QueueFullMode)3, (QueueFullMode)(-1)], static (o, v) => o.QueueFullMode = v);
        Add(nameof(ThreadPoolManagerOptions.TaskType), ["job", " ", string.Empty], static (o, v) => o.TaskType = v);
        Add(nameof(ThreadPoolManagerOptions.IsBackground), [true], static (o, v) => o.IsBackground = v);
        Add(nameof(ThreadPoolManagerOptions.ThreadNamePrefix), ["p", string.Empty, " ", "\t"], static (o, v) => o.ThreadNamePrefix = v);
        Add(nameof(ThreadPoolManagerOptions.FlowExecutionContext), [false], static (o, v) => o.FlowExecutionContext = v);
        Add(nameof(ThreadPoolManagerOptions.LogExceptions), [false], static (o, v) => o.LogExceptions = v);
        Add<string?>(nameof(ThreadPoolManagerOptions.WorkersFrom), [hostId, string.Empty, " "], static (o, v) => o.WorkersFrom = v);
        Add<Action<ThreadPoolManager>?>(nameof(ThreadPoolManagerOptions.WorkerStarted), [static _ => { }], static (o, v) => o.WorkerStarted = v);
        Add<Action<ThreadPoolManager>?>(nameof(ThreadPoolManagerOptions.WorkerStopping), [static _ => { }], static (o, v) => o.WorkerStopping = v);
        return variations;
    }
}
