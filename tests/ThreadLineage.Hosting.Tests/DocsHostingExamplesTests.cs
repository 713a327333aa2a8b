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
/// "io") on the process-wide Lineage.Root: the tests of one class run one at a time, and each stops its host.
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
