using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using ThreadLineage.Hosting.Tests.DocsExamples;
using ThreadLineage.Hosting.Tests.Support;

namespace ThreadLineage.Hosting.Tests;

/// <summary>
/// The examples of docs/hosting.md: each <c>#region doc:</c> is, word for word, a code block of that page
/// (samples/ThreadLineage.Demo/DocExamples/check-snippets.py checks it). They use the documented names ("render",
/// "io", "request-workers", "reports", …) on the process-wide Lineage.Root: the tests of one class run one at a time, and each stops its host.
/// </summary>
public class DocsHostingExamplesTests
{
    private static readonly string[] s_noArguments = [];

    [Fact]
    public async Task RegisterInCode_SubmitsOnThePool()
    {
        var (html, render) = await Bounded.ResultAsync(ExampleAsync(s_noArguments), "the example");

        Assert.Equal("<p>hello</p>", html);
        Assert.Equal(4, render.MaxWorkers);
        Assert.False(render.IsRunning);
    }

    private static async Task<(string Html, ThreadPoolManager Render)> ExampleAsync(string[] args)
    {
        #region doc: docs/hosting.md › Register a pool in code
        var builder = Host.CreateApplicationBuilder(args);
        builder.Services.AddThreadPoolManager("render", options =>
        {
            options.MaxWorkers = 4;
            options.TaskType = "component-render";
        });
        using var host = builder.Build();
        await host.StartAsync();

        var render = host.Services.GetRequiredKeyedService<ThreadPoolManager>("render");
        var html = await render.Submit(() => "<p>hello</p>", "component-render");

        await host.StopAsync();
        #endregion
        return (html, render);
    }

    [Fact]
    public async Task RegisterFromConfiguration_BindsTheSection()
    {
        const string AppSettings = """
            {
              "ThreadPools": {
                "io": { "MaxWorkers": 8, "ThreadNamePrefix": "io-worker" }
              }
            }
            """;
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(AppSettings)));

        builder.Services.AddThreadPoolManager("io", builder.Configuration.GetSection("ThreadPools:io"));

        using var host = builder.Build();
        await host.StartBoundedAsync();
        var io = host.Services.GetRequiredKeyedService<ThreadPoolManager>("io");
        Assert.Equal(8, io.MaxWorkers);
        Assert.StartsWith("io-worker-", await Bounded.ResultAsync(io.Submit(() => Thread.CurrentThread.Name), "work"));
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task ContractInCodeSizeFromConfiguration_Composes()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new("ThreadPools:render:MaxWorkers", "3")]);

        #region doc: docs/hosting.md › Register a pool from configuration
        builder.Services
            .AddThreadPoolManager("render", options => options.TaskType = "component-render")
            .AddThreadPoolManager("render", builder.Configuration.GetSection("ThreadPools:render"));
        #endregion

        using var host = builder.Build();
        await host.StartBoundedAsync();
        var render = host.Services.GetRequiredKeyedService<ThreadPoolManager>("render");
        Assert.Equal(3, render.MaxWorkers);
        Assert.Equal("component-render", render.TaskType);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task UseAPool_KeyedInjectionAndLineageResolveTheSameManager()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager("render", options => options.TaskType = "component-render");
        builder.Services.AddSingleton<ReportRenderer>();
        using var host = builder.Build();
        await host.StartBoundedAsync();

        var html = await Bounded.ResultAsync(host.Services.GetRequiredService<ReportRenderer>().RenderAsync("Q3"), "the report");
        var render = Lineage.GetManager("render");   // the same manager, from any flow of the process

        Assert.Equal("<h1>Q3</h1>", html);
        Assert.Same(host.Services.GetRequiredKeyedService<ThreadPoolManager>("render"), render);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task BorrowInCode_ReportsRunOnTheHostsThreads()
    {
        var builder = TestHosts.CreateBuilder();

        #region doc: docs/hosting.md › Borrow a host's workers
        builder.Services
            .AddThreadPoolManager("request-workers", options => options.MaxWorkers = 8)
            .AddThreadPoolManager("reports", options =>
            {
                options.WorkersFrom = "request-workers";
                options.MaxWorkers = 2;   // at most 2 report items run at once, on request-workers' threads
            });
        #endregion

        using var host = builder.Build();
        await host.StartBoundedAsync();
        var reports = host.Services.GetRequiredKeyedService<ThreadPoolManager>("reports");
        Assert.Same(host.Services.GetRequiredKeyedService<ThreadPoolManager>("request-workers"), reports.WorkersFrom);
        Assert.Equal(2, reports.MaxWorkers);
        Assert.StartsWith("request-workers-", await Bounded.ResultAsync(reports.Submit(() => Thread.CurrentThread.Name), "a report"));
        Assert.Equal(0, reports.GetStatistics().Workers);
        await host.StopBoundedAsync();
        Assert.False(reports.IsRunning);
    }

    [Fact]
    public async Task BorrowFromConfiguration_EverySectionRegistered_HostStartsFirst()
    {
        const string AppSettings = """
            {
              "ThreadPools": {
                "request-workers": { "MaxWorkers": 8, "ThreadNamePrefix": "rw" },
                "reports": { "WorkersFrom": "request-workers", "MaxWorkers": 2, "QueueCapacity": 100 }
              }
            }
            """;
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(AppSettings)));

        #region doc: docs/hosting.md › Borrow a host's workers, from configuration
        foreach (var pool in builder.Configuration.GetSection("ThreadPools").GetChildren())
        {
            builder.Services.AddThreadPoolManager(pool.Key, pool);
        }
        #endregion

        using var host = builder.Build();
        await host.StartBoundedAsync();
        var reports = host.Services.GetRequiredKeyedService<ThreadPoolManager>("reports");
        Assert.Same(host.Services.GetRequiredKeyedService<ThreadPoolManager>("request-workers"), reports.WorkersFrom);
        Assert.StartsWith("rw-", await Bounded.ResultAsync(reports.Submit(() => Thread.CurrentThread.Name), "a report"));
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task BorrowPerRequest_RequestPoolRunsOnTheHostsThreadsAndEndsWithItsScope()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager("request-workers", options => options.MaxWorkers = 2);
        using var host = builder.Build();
        await host.StartBoundedAsync();

        var (loadedOn, requestPool) = await Bounded.ResultAsync(HandleRequestAsync("17"), "the request");

        Assert.StartsWith("request-workers-", loadedOn);
        Assert.Same(host.Services.GetRequiredKeyedService<ThreadPoolManager>("request-workers"), requestPool.WorkersFrom);
        Assert.False(requestPool.IsRunning);   // the request's scope stopped it
        await host.StopBoundedAsync();
    }

    private static async Task<(string? LoadedOn, ThreadPoolManager RequestPool)> HandleRequestAsync(string requestId)
    {
        #region doc: docs/hosting.md › Borrow a host's workers, per request
        await using var scope = Lineage.BeginScope($"request {requestId}");
        var requestPool = Lineage.GetOrCreateManager("request");   // the request's own pool, in its own scope
        requestPool.Start(new ThreadPoolManagerOptions
        {
            WorkersFrom = "request-workers",   // resolved through the request's lineage: the host's pool on Lineage.Root
            MaxWorkers = 2,
        });

        var loadedOn = await requestPool.Submit(() => Thread.CurrentThread.Name);
        #endregion
        return (loadedOn, requestPool);
    }

    [Fact]
    public async Task BorrowValidation_MissingHost_DocumentedMessage()
    {
        var builder = TestHosts.CreateBuilder();
        // A typo: "request-worker" is never attached anywhere (the real host, "request-workers", may be on the root from another test).
        builder.Services.AddThreadPoolManager("reports", options => options.WorkersFrom = "request-worker");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Bounded.Token()));

        Assert.Equal(
            "Thread pool manager 'reports': WorkersFrom names 'request-worker', which is neither registered with this host nor a manager " +
            "on Lineage.Root. Register it too (AddThreadPoolManager(\"request-worker\", …)) so that the host starts it first, start it on " +
            "Lineage.Root before the host starts, or set WorkersFrom to null for dedicated threads.",
            error.Message);
    }

    [Fact]
    public async Task BorrowValidation_Cycle_DocumentedMessage()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager("reports", options => options.WorkersFrom = "exports")
            .AddThreadPoolManager("exports", options => options.WorkersFrom = "reports");
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<AggregateException>(() => host.StartAsync(Bounded.Token()));

        Assert.Equal(
            "Thread pool manager 'reports': WorkersFrom forms a cycle of borrowers: 'reports' -> 'exports' -> 'reports'. Each of them " +
            "would run on the threads of the next, and none has threads of its own: set WorkersFrom to null on one of them for dedicated threads.",
            error.InnerExceptions[0].Message);
        Assert.Equal(2, error.InnerExceptions.Count);
    }

    [Fact]
    public async Task Validation_ApplicationRule_FailsTheStart()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager("render", options => options.MaxWorkers = 32);

        #region doc: docs/hosting.md › Validation
        builder.Services.AddOptions<ThreadPoolManagerOptions>("render")
            .Validate(options => options.MaxWorkers <= 16, "MaxWorkers must be at most 16.");
        #endregion

        using var host = builder.Build();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Bounded.Token()));
        Assert.Equal("Thread pool manager 'render': MaxWorkers must be at most 16.", error.Message);
    }

    [Fact]
    public async Task Validation_DocumentedMessage_IsTheOneThrown()
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager("render", options =>
        {
            options.MaxWorkers = 0;
            options.TaskType = "";
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Bounded.Token()));

        // The core words the problems (ThreadPoolManagerOptions.Validate); the page quotes them. Pin the shape, not every word.
        Assert.Equal(2, error.Failures.Count());
        Assert.StartsWith("Thread pool manager 'render': MaxWorkers must be at least 1 (it is 0).", error.Failures.First(), StringComparison.Ordinal);
        Assert.StartsWith("Thread pool manager 'render': TaskType", error.Failures.Last(), StringComparison.Ordinal);
    }
}
