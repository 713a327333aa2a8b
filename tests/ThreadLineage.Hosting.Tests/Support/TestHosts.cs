using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Tests.Support;

/// <summary>Real hosts for the tests (names come from <see cref="TestIds"/>: Lineage.Root is process-wide and tests run in parallel).</summary>
internal static class TestHosts
{
    /// <summary>A host builder with no defaults (no appsettings, environment variables or console logging).</summary>
    public static HostApplicationBuilder CreateBuilder() =>
        Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });

    /// <summary>A host (not started) with one registered pool of one worker, <paramref name="name"/>.</summary>
    public static IHost BuildWithPoolOfOneWorker(string name, out ThreadPoolManager pool)
    {
        var builder = CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        var host = builder.Build();
        pool = host.Manager(name);
        return host;
    }

    /// <summary>A host (not started) with a pool of two workers and a borrower of one slot that borrows from it.</summary>
    public static IHost BuildWithBorrowerOfOneSlot(out ThreadPoolManager pool, out ThreadPoolManager borrower)
    {
        var hostName = TestIds.New("request-workers");
        var borrowerName = TestIds.New("borrower");
        var builder = CreateBuilder();
        builder.Services
            .AddThreadPoolManager(hostName, o => o.MaxWorkers = 2)
            .AddThreadPoolManager(borrowerName, o =>
            {
                o.WorkersFrom = hostName;
                o.MaxWorkers = 1;
            });
        var host = builder.Build();
        (pool, borrower) = (host.Manager(hostName), host.Manager(borrowerName));
        return host;
    }

    /// <summary>The manager registered with <paramref name="host"/> under <paramref name="name"/>.</summary>
    public static ThreadPoolManager Manager(this IHost host, string name) =>
        host.Services.GetRequiredKeyedService<ThreadPoolManager>(name);

    /// <summary>The options of the manager registered under <paramref name="name"/>, as the host configured them.</summary>
    public static ThreadPoolManagerOptions ManagerOptions(this IHost host, string name) =>
        host.Services.GetRequiredService<IOptionsMonitor<ThreadPoolManagerOptions>>().Get(name);

    public static async Task StartBoundedAsync(this IHost host) =>
        await Bounded.WaitAsync(host.StartAsync(Bounded.Token()), "the host to start");

    public static async Task StopBoundedAsync(this IHost host) =>
        await Bounded.WaitAsync(host.StopAsync(Bounded.Token()), "the host to stop");

    /// <summary>
    /// Starts <paramref name="host"/>, which must refuse because the options of <paramref name="manager"/>, and only
    /// of it, are invalid: asserts that, and that they failed once, and returns that failure.
    /// </summary>
    public static async Task<string> StartRefusedForAsync(this IHost host, string manager)
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(Bounded.Token()));
        Assert.Equal(manager, error.OptionsName);
        return Assert.Single(error.Failures);
    }

    /// <summary>
    /// Starts <paramref name="host"/>, which must refuse because the options of several managers are invalid: asserts
    /// that each failed once, and returns the failures by manager.
    /// </summary>
    public static async Task<Dictionary<string, string>> StartRefusedForSeveralAsync(this IHost host)
    {
        var error = await Assert.ThrowsAsync<AggregateException>(() => host.StartAsync(Bounded.Token()));
        return error.InnerExceptions.Cast<OptionsValidationException>().ToDictionary(e => e.OptionsName, e => Assert.Single(e.Failures));
    }
}
