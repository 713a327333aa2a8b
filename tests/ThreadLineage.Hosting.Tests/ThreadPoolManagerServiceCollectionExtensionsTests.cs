using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using ThreadLineage.Hosting.Tests.Support;

namespace ThreadLineage.Hosting.Tests;

public class ThreadPoolManagerServiceCollectionExtensionsTests
{
    [Fact]
    public async Task AddThreadPoolManager_HostLifecycle_KeyedManagerOnRootRunsWhileHostRuns()
    {
        var name = TestIds.New("render");
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o =>
        {
            o.MaxWorkers = 2;
            o.TaskType = "component-render";
        });
        using var host = builder.Build();

        var manager = host.Manager(name);
        Assert.Equal(name, manager.Id);
        Assert.Same(Lineage.Root, manager.Owner);
        Assert.True(Lineage.Root.TryGetManager(name, out var onRoot));
        Assert.Same(manager, onRoot);
        Assert.False(manager.IsRunning);

        await host.StartBoundedAsync();

        Assert.True(manager.IsRunning);
        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal("component-render", manager.TaskType);
        // Any flow resolves it through the lineage, and its work runs on the pool's own workers.
        Assert.Same(manager, Lineage.GetManager(name));
        var thread = await Bounded.ResultAsync(manager.Submit(() => Thread.CurrentThread.Name, "component-render"), "work");
        Assert.StartsWith(name + "-", thread);

        await host.StopBoundedAsync();

        Assert.False(manager.IsRunning);
        Assert.Equal(1, manager.GetStatistics().Completed);
        Assert.Equal(0, manager.GetStatistics().Workers);
    }

    [Fact]
    public async Task AddThreadPoolManager_FromJsonSection_BindsOptions()
    {
        var name = TestIds.New("render");
        var json = $$"""
            {
              "ThreadPools": {
                "{{name}}": { "MaxWorkers": 3, "TaskType": "component-render", "ThreadNamePrefix": "renderer", "IsBackground": true }
              }
            }
            """;
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        builder.Services.AddThreadPoolManager(name, builder.Configuration.GetSection($"ThreadPools:{name}"));
        using var host = builder.Build();
        var manager = host.Manager(name);

        await host.StartBoundedAsync();

        Assert.Equal(3, manager.MaxWorkers);
        Assert.Equal("component-render", manager.TaskType);
        Assert.True(manager.IsBackground);
        var thread = await Bounded.ResultAsync(manager.Submit(() => Thread.CurrentThread.Name, "component-render"), "work");
        Assert.StartsWith("renderer-", thread);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task AddThreadPoolManager_CodeThenConfiguration_ConfigurationOverridesCodeDefaults()
    {
        var name = TestIds.New("render");
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new($"ThreadPools:{name}:MaxWorkers", "1")]);
        builder.Services
            .AddThreadPoolManager(name, o =>
            {
                o.MaxWorkers = 4;
                o.TaskType = "component-render";
            })
            .AddThreadPoolManager(name, builder.Configuration.GetSection($"ThreadPools:{name}"));
        using var host = builder.Build();

        await host.StartBoundedAsync();

        // One manager, one hosted service, both configurations applied in order.
        var manager = Assert.Single(host.Services.GetKeyedServices<ThreadPoolManager>(name));
        Assert.Equal(1, manager.MaxWorkers);
        Assert.Equal("component-render", manager.TaskType);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task StartAsync_InvalidOptions_FailsNamingManagerAndEveryBadProperty()
    {
        var name = TestIds.New("render");
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(
        [
            new($"ThreadPools:{name}:MaxWorkers", "0"),
            new($"ThreadPools:{name}:TaskType", ""),
        ]);
        builder.Services.AddThreadPoolManager(name, builder.Configuration.GetSection($"ThreadPools:{name}"));
        using var host = builder.Build();
        var manager = host.Manager(name);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Bounded.Token()));

        Assert.Equal(name, error.OptionsName);
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxWorkers", error.Message, StringComparison.Ordinal);
        Assert.Contains("TaskType", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter", error.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
    }

    /// <summary>
    /// Configuration that cannot be bound, an unknown key or a value that does not convert, is a validation failure of
    /// that manager, so that it is reported together with every other manager's problems.
    /// </summary>
    [Theory]
    [InlineData("MaxWorker", "2")]
    [InlineData("MaxWorkers", "lots")]
    public async Task StartAsync_ConfigurationThatCannotBeBound_FailsNamingManagerAndKey(string key, string value)
    {
        var name = TestIds.New("render");
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new($"ThreadPools:{name}:{key}", value)]);
        builder.Services.AddThreadPoolManager(name, builder.Configuration.GetSection($"ThreadPools:{name}"));
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(name);

        Assert.StartsWith($"Thread pool manager '{name}': ", failure, StringComparison.Ordinal);
        Assert.Contains(key, failure, StringComparison.Ordinal);
        Assert.False(host.Manager(name).IsRunning);
    }

    [Fact]
    public async Task StartAsync_ApplicationValidator_RunsAndIsReportedWithManagerName()
    {
        var name = TestIds.New("render");
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 64);
        builder.Services.AddOptions<ThreadPoolManagerOptions>(name)
            .Validate(o => o.MaxWorkers <= 8, "MaxWorkers must be at most 8 in this application.");
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(name);

        Assert.Contains($"Thread pool manager '{name}': MaxWorkers must be at most 8", failure, StringComparison.Ordinal);
        Assert.False(host.Manager(name).IsRunning);
    }

    [Fact]
    public async Task StartAsync_SeveralInvalidManagers_ReportsAllAndLeavesValidOneStopped()
    {
        var good = TestIds.New("good");
        var bad1 = TestIds.New("bad");
        var bad2 = TestIds.New("bad");
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(bad1, o => o.MaxWorkers = 0)
            .AddThreadPoolManager(good, o => o.MaxWorkers = 1)
            .AddThreadPoolManager(bad2, o => o.ThreadNamePrefix = " ");
        using var host = builder.Build();

        var failures = await host.StartRefusedForSeveralAsync();

        Assert.Equal(2, failures.Count);
        Assert.Contains(bad1, failures[bad1], StringComparison.Ordinal);
        Assert.Contains("MaxWorkers", failures[bad1], StringComparison.Ordinal);
        Assert.Contains(bad2, failures[bad2], StringComparison.Ordinal);
        Assert.Contains("ThreadNamePrefix", failures[bad2], StringComparison.Ordinal);
        // Validation runs before any manager starts: the valid one never started.
        Assert.False(host.Manager(good).IsRunning);
    }

    [Fact]
    public async Task FaultingWork_LogsWarningThroughHostLoggerFactory()
    {
        var name = TestIds.New("render");
        var warned = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var collector = FakeLogCollector.Create(new FakeLogCollectorOptions
        {
            // Called after the record is collected: lets the test wait for the log instead of polling for it.
            OutputSink = line =>
            {
                if (line.Contains(name, StringComparison.Ordinal) && line.Contains("threw", StringComparison.Ordinal))
                {
                    warned.TrySetResult();
                }
            },
        });
        var builder = TestHosts.CreateBuilder();
        builder.Logging.AddProvider(new FakeLoggerProvider(collector));
        builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        using var host = builder.Build();
        var manager = host.Manager(name);
        await host.StartBoundedAsync();

        var work = manager.Submit(() => throw new InvalidOperationException("component exploded"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Bounded.WaitAsync(work, "the faulting work"));
        await Bounded.WaitAsync(warned.Task, "the pool's warning");

        var warning = Assert.Single(collector.GetSnapshot(), r => r.Level == LogLevel.Warning && r.Message.Contains(name, StringComparison.Ordinal));
        Assert.IsType<InvalidOperationException>(warning.Exception);
        Assert.Same(host.Services.GetRequiredService<ILoggerFactory>(), host.ManagerOptions(name).LoggerFactory);
        Assert.Contains(collector.GetSnapshot(), r => r.Level == LogLevel.Information && r.Message.Contains($"'{name}' started", StringComparison.Ordinal));
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task AddThreadPoolManager_ApplicationLoggerFactory_IsKept()
    {
        var name = TestIds.New("render");
        using var own = LoggerFactory.Create(_ => { });
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.LoggerFactory = own);
        using var host = builder.Build();

        await host.StartBoundedAsync();

        Assert.Same(own, host.ManagerOptions(name).LoggerFactory);
        await host.StopBoundedAsync();
    }

    [Fact]
    public void AddThreadPoolManager_BadArguments_Throw()
    {
        var services = new ServiceCollection();
        Assert.Throws<ArgumentNullException>(() => services.AddThreadPoolManager(null!, o => { }));
        Assert.Throws<ArgumentException>(() => services.AddThreadPoolManager(" ", o => { }));
        Assert.Throws<ArgumentNullException>(() => services.AddThreadPoolManager("x", (Action<ThreadPoolManagerOptions>)null!));
        Assert.Throws<ArgumentNullException>(() => services.AddThreadPoolManager("x", (IConfiguration)null!));
        Assert.Throws<ArgumentNullException>(() => ((IServiceCollection)null!).AddThreadPoolManager("x", o => { }));
        Assert.Empty(services);
    }
}
