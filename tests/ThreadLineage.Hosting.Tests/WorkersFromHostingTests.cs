using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using ThreadLineage.Hosting.Tests.Support;

namespace ThreadLineage.Hosting.Tests;

/// <summary>Borrowing pools (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>) registered with a host: binding, order, validation.</summary>
public class WorkersFromHostingTests
{
    [Fact]
    public async Task WorkersFrom_FromCode_BorrowerRunsOnTheHostsThreads()
    {
        using var host = TestHosts.BuildWithBorrowerOfOneSlot(out var pool, out var borrower);

        await host.StartBoundedAsync();

        Assert.True(borrower.IsRunning);
        Assert.Same(pool, borrower.WorkersFrom);
        Assert.Equal(1, borrower.MaxWorkers);
        var thread = await Bounded.ResultAsync(borrower.Submit(() => Thread.CurrentThread.Name), "the borrower's work");
        Assert.StartsWith(pool.Id + "-", thread);
        Assert.Equal(0, borrower.GetStatistics().Workers);
        Assert.Equal(2, pool.GetStatistics().Workers);

        await host.StopBoundedAsync();

        Assert.False(borrower.IsRunning);
        Assert.False(pool.IsRunning);
        Assert.Equal(1, borrower.GetStatistics().Completed);
    }

    [Fact]
    public async Task WorkersFrom_FromJsonConfiguration_BindsWithUnknownKeysStillErrors()
    {
        var hostName = TestIds.New("request-workers");
        var borrowerName = TestIds.New("borrower");
        var json = $$"""
            {
              "ThreadPools": {
                "{{hostName}}": { "MaxWorkers": 2, "ThreadNamePrefix": "{{hostName}}-thread" },
                "{{borrowerName}}": { "WorkersFrom": "{{hostName}}", "MaxWorkers": 1, "QueueCapacity": 16 }
              }
            }
            """;
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        // The borrower first: the hosted service still starts its host before it.
        builder.Services
            .AddThreadPoolManager(borrowerName, builder.Configuration.GetSection($"ThreadPools:{borrowerName}"))
            .AddThreadPoolManager(hostName, builder.Configuration.GetSection($"ThreadPools:{hostName}"));
        using var host = builder.Build();
        var (pool, borrower) = (host.Manager(hostName), host.Manager(borrowerName));

        await host.StartBoundedAsync();

        Assert.Equal(hostName, host.ManagerOptions(borrowerName).WorkersFrom);
        Assert.Same(pool, borrower.WorkersFrom);
        var thread = await Bounded.ResultAsync(borrower.Submit(() => Thread.CurrentThread.Name), "the borrower's work");
        Assert.StartsWith($"{hostName}-thread-", thread);
        Assert.Equal(0, borrower.GetStatistics().Workers);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task Configuration_HookSetInCode_BindingKeepsItAndItRuns()
    {
        var name = TestIds.New("hooked");
        var started = new ConcurrentBag<string?>();
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new($"ThreadPools:{name}:MaxWorkers", "2")]);
        builder.Services
            .AddThreadPoolManager(name, o => o.WorkerStarted = _ => started.Add(Thread.CurrentThread.Name))
            .AddThreadPoolManager(name, builder.Configuration.GetSection($"ThreadPools:{name}"));
        using var host = builder.Build();

        await host.StartBoundedAsync();

        // Binding (unknown keys are errors) neither choked on the delegate properties nor reset the hook set in code.
        Assert.Equal(2, host.Manager(name).MaxWorkers);
        Assert.Equal(2, started.Count);
        await host.StopBoundedAsync();
    }

    [Fact]
    public async Task StartOrder_BorrowersRegisteredBeforeTheirHosts_HostsStartFirst()
    {
        var a = TestIds.New("a");
        var b = TestIds.New("b");
        var c = TestIds.New("c");
        var builder = TestHosts.CreateBuilder();
        // c borrows from b, which borrows from a: registered in the reverse of the order they must start in.
        builder.Services
            .AddThreadPoolManager(c, o => o.WorkersFrom = b)
            .AddThreadPoolManager(b, o => o.WorkersFrom = a)
            .AddThreadPoolManager(a, o => o.MaxWorkers = 1);
        using var host = builder.Build();

        await host.StartBoundedAsync();

        Assert.Same(host.Manager(a), host.Manager(b).WorkersFrom);
        Assert.Same(host.Manager(b), host.Manager(c).WorkersFrom);
        var thread = await Bounded.ResultAsync(host.Manager(c).Submit(() => Thread.CurrentThread.Name), "work of the borrower's borrower");
        Assert.StartsWith(a + "-", thread);
        await host.StopBoundedAsync();
        Assert.All([a, b, c], name => Assert.False(host.Manager(name).IsRunning));
    }

    [Fact]
    public async Task WorkersFrom_ManagerRunningOnRootNotRegistered_IsAllowedAndLeftRunning()
    {
        var rootName = TestIds.New("started-by-the-app");
        var borrowerName = TestIds.New("borrower");
        var external = Lineage.Root.GetOrCreateManager(rootName);
        external.Start(1);
        try
        {
            var builder = TestHosts.CreateBuilder();
            builder.Services.AddThreadPoolManager(borrowerName, o => o.WorkersFrom = rootName);
            using var host = builder.Build();
            await host.StartBoundedAsync();

            var borrower = host.Manager(borrowerName);
            Assert.Same(external, borrower.WorkersFrom);
            Assert.StartsWith(rootName + "-", await Bounded.ResultAsync(borrower.Submit(() => Thread.CurrentThread.Name), "the borrower's work"));
            await host.StopBoundedAsync();

            // The host stops what it started, and only that.
            Assert.False(borrower.IsRunning);
            Assert.True(external.IsRunning);
        }
        finally
        {
            await Bounded.WaitAsync(external.StopAsync(), "the application's manager to stop");
        }
    }

    [Fact]
    public async Task WorkersFrom_HostStartedInsideAScopeThatShadowsTheHostsName_ResolvesTheHostFromRoot()
    {
        var hostName = TestIds.New("request-workers");
        var borrowerName = TestIds.New("borrower");
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(hostName, o => o.MaxWorkers = 1)
            .AddThreadPoolManager(borrowerName, o => o.WorkersFrom = hostName);
        using var host = builder.Build();

        await using (Lineage.BeginScope("shadowing"))
        {
            // This flow resolves hostName to a running manager of its own scope; the registered managers live on the root.
            var shadow = Lineage.CreateManager(hostName);
            shadow.Start(1);
            await host.StartBoundedAsync();

            Assert.Same(host.Manager(hostName), host.Manager(borrowerName).WorkersFrom);
            Assert.NotSame(shadow, host.Manager(borrowerName).WorkersFrom);
        }

        await host.StopBoundedAsync();
    }

    /// <summary>
    /// WorkersFrom names a manager that is not registered with the host and not running: one that exists nowhere, or
    /// one on the root that was never started. The host refuses to start, naming both managers.
    /// </summary>
    [Theory]
    [InlineData(false, "which is neither registered")]
    [InlineData(true, "which is not registered with this host and is not running")]
    public async Task Validation_HostNeitherRegisteredNorRunning_FailsNamingBothManagers(bool hostOnRoot, string problem)
    {
        var borrowerName = TestIds.New("borrower");
        var hostName = TestIds.New(hostOnRoot ? "idle" : "nowhere");
        if (hostOnRoot)
        {
            Lineage.Root.GetOrCreateManager(hostName);
        }

        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(borrowerName, o => o.WorkersFrom = hostName);
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(borrowerName);

        Assert.StartsWith($"Thread pool manager '{borrowerName}': WorkersFrom names '{hostName}', {problem}", failure, StringComparison.Ordinal);
        Assert.False(host.Manager(borrowerName).IsRunning);
    }

    [Fact]
    public async Task Validation_SelfBorrow_Fails()
    {
        var name = TestIds.New("selfish");
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.WorkersFrom = name);
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(name);

        Assert.Equal($"Thread pool manager '{name}': WorkersFrom names '{name}' itself, and a manager cannot borrow workers from itself. " +
            "Set WorkersFrom to another manager's name, or to null for dedicated threads.", failure);
        Assert.False(host.Manager(name).IsRunning);
    }

    [Fact]
    public async Task Validation_TwoCycle_EachManagerReportsTheCycle()
    {
        var a = TestIds.New("a");
        var b = TestIds.New("b");
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(a, o => o.WorkersFrom = b)
            .AddThreadPoolManager(b, o => o.WorkersFrom = a);
        using var host = builder.Build();

        var failures = await host.StartRefusedForSeveralAsync();

        Assert.Equal(2, failures.Count);
        Assert.StartsWith($"Thread pool manager '{a}': WorkersFrom forms a cycle of borrowers: '{a}' -> '{b}' -> '{a}'.", failures[a], StringComparison.Ordinal);
        Assert.StartsWith($"Thread pool manager '{b}': WorkersFrom forms a cycle of borrowers: '{b}' -> '{a}' -> '{b}'.", failures[b], StringComparison.Ordinal);
        Assert.False(host.Manager(a).IsRunning);
        Assert.False(host.Manager(b).IsRunning);
    }

    [Fact]
    public async Task Validation_CycleBehindTheHost_IsReportedByItsMembersOnly()
    {
        var borrower = TestIds.New("borrower");
        var b = TestIds.New("b");
        var c = TestIds.New("c");
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(borrower, o => o.WorkersFrom = b)
            .AddThreadPoolManager(b, o => o.WorkersFrom = c)
            .AddThreadPoolManager(c, o => o.WorkersFrom = b);
        using var host = builder.Build();

        var failures = await host.StartRefusedForSeveralAsync();

        // The borrower's own settings are fine: the cycle it leads into is the concern of b and c, and reported once by each.
        Assert.Equal([b, c], failures.Keys.Order(StringComparer.Ordinal));
        Assert.All(failures.Values, failure => Assert.Contains("cycle", failure, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Validation_ThreadSettingsOnABorrower_NameEveryProperty()
    {
        var hostName = TestIds.New("request-workers");
        var borrowerName = TestIds.New("borrower");
        var builder = TestHosts.CreateBuilder();
        builder.Configuration.AddInMemoryCollection([new($"ThreadPools:{borrowerName}:IsBackground", "true")]);
        builder.Services
            .AddThreadPoolManager(hostName, o => o.MaxWorkers = 1)
            .AddThreadPoolManager(borrowerName, o =>
            {
                o.WorkersFrom = hostName;
                o.MinWorkers = 1;
                o.ThreadNamePrefix = "mine";
                o.WorkerStarted = _ => { };
            })
            .AddThreadPoolManager(borrowerName, builder.Configuration.GetSection($"ThreadPools:{borrowerName}"));
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(borrowerName);

        Assert.StartsWith($"Thread pool manager '{borrowerName}': MinWorkers, IsBackground, ThreadNamePrefix, WorkerStarted are thread settings, which belong to the host '{hostName}'", failure, StringComparison.Ordinal);
        Assert.False(host.Manager(hostName).IsRunning);
    }

    [Fact]
    public async Task Validation_BorrowerTaskTypeTheProtectedHostRefuses_Fails()
    {
        var hostName = TestIds.New("render");
        var borrowerName = TestIds.New("borrower");
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(hostName, o => o.TaskType = "component-render")
            .AddThreadPoolManager(borrowerName, o => o.WorkersFrom = hostName);
        using var host = builder.Build();

        var failure = await host.StartRefusedForAsync(borrowerName);

        Assert.Equal($"Thread pool manager '{borrowerName}': TaskType must be 'component-render' to borrow workers from '{hostName}', " +
            "which only runs work of that task type (it is null).", failure);
    }

    [Fact]
    public async Task Validation_SeveralManagersProblems_AllReportedBeforeAnyManagerStarts()
    {
        var good = TestIds.New("good");
        var zero = TestIds.New("zero");
        var orphan = TestIds.New("orphan");
        var selfish = TestIds.New("selfish");
        var prefixed = TestIds.New("prefixed");
        var missing = TestIds.New("missing");
        var workersStarted = 0;
        var builder = TestHosts.CreateBuilder();
        builder.Services
            .AddThreadPoolManager(good, o => o.WorkerStarted = _ => Interlocked.Increment(ref workersStarted))
            .AddThreadPoolManager(zero, o => o.MaxWorkers = 0)
            .AddThreadPoolManager(orphan, o => o.WorkersFrom = missing)
            .AddThreadPoolManager(selfish, o => o.WorkersFrom = selfish)
            .AddThreadPoolManager(prefixed, o =>
            {
                o.WorkersFrom = good;
                o.ThreadNamePrefix = "mine";
            });
        using var host = builder.Build();

        var failures = await host.StartRefusedForSeveralAsync();

        Assert.Equal(4, failures.Count);
        Assert.Equal($"Thread pool manager '{zero}': MaxWorkers must be at least 1 (it is 0).", failures[zero]);
        Assert.Contains($"'{missing}'", failures[orphan], StringComparison.Ordinal);
        Assert.Contains("itself", failures[selfish], StringComparison.Ordinal);
        Assert.Contains("ThreadNamePrefix is a thread setting", failures[prefixed], StringComparison.Ordinal);
        // Nothing started, not even for a moment: the valid manager never created a worker.
        Assert.Equal(0, Volatile.Read(ref workersStarted));
        Assert.All([good, zero, orphan, selfish, prefixed], name => Assert.False(host.Manager(name).IsRunning));
    }

    [Fact]
    public async Task WorkerHooks_FromHosting_RunOnEachWorker()
    {
        var name = TestIds.New("hooked");
        var started = new ConcurrentDictionary<string, ThreadPoolManager>();
        var stopping = new ConcurrentDictionary<string, ThreadPoolManager>();
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o =>
        {
            o.MaxWorkers = 3;
            o.WorkerStarted = manager => Assert.True(started.TryAdd(Thread.CurrentThread.Name!, manager));
            o.WorkerStopping = manager => Assert.True(stopping.TryAdd(Thread.CurrentThread.Name!, manager));
        });
        using var host = builder.Build();
        var pool = host.Manager(name);

        await host.StartBoundedAsync();

        // Start waits until every worker has run its hook: one call per worker, on that worker, with the manager.
        Assert.Equal([$"{name}-1", $"{name}-2", $"{name}-3"], started.Keys.Order(StringComparer.Ordinal));
        Assert.All(started.Values, manager => Assert.Same(pool, manager));
        var ranOn = await Bounded.ResultAsync(pool.Submit(() => Thread.CurrentThread.Name!), "work");
        Assert.Contains(ranOn, started.Keys);

        await host.StopBoundedAsync();

        // The stop waited for the workers to exit, and each ran its stopping hook as it did.
        Assert.Equal(started.Keys.Order(StringComparer.Ordinal), stopping.Keys.Order(StringComparer.Ordinal));
    }
}
