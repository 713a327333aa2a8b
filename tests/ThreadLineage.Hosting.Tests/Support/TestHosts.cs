using Microsoft.Extensions.Hosting;

namespace ThreadLineage.Hosting.Tests.Support;

/// <summary>Real hosts for the tests (names come from <see cref="TestIds"/>: Lineage.Root is process-wide and tests run in parallel).</summary>
internal static class TestHosts
{
    /// <summary>A host builder with no defaults (no appsettings, environment variables or console logging).</summary>
    public static HostApplicationBuilder CreateBuilder() =>
        Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });

    public static async Task StartBoundedAsync(this IHost host) =>
        await Bounded.WaitAsync(host.StartAsync(Bounded.Token()), "the host to start");

    public static async Task StopBoundedAsync(this IHost host) =>
        await Bounded.WaitAsync(host.StopAsync(Bounded.Token()), "the host to stop");
}
