using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ThreadLineage.Hosting.Tests.Support;

namespace ThreadLineage.Hosting.Tests;

public class ThreadPoolManagersHostedServiceTests
{
    [Fact]
    public async Task StopAsync_RunningAndQueuedWork_DrainsBeforeStopCompletes()
    {
        using var host = BuildHostWithOneWorker(TestIds.New("drain"), out var manager);
        await host.StartBoundedAsync();
        var work = await HeldWork<int>.SubmitAsync(manager, () => 42, "the running");

        var stop = host.StopAsync(Bounded.Token());

        // The drain cannot finish while the only worker is held by the gate.
        Assert.False(stop.IsCompleted);
        work.Release();
        await Bounded.WaitAsync(stop, "the host to stop");
        Assert.Equal(TaskStatus.RanToCompletion, work.Running.Status);
        Assert.Equal(42, await Bounded.ResultAsync(work.Queued, "the queued work"));
        Assert.False(manager.IsRunning);
    }

    [Fact]
    public async Task StopAsync_ShutdownTimeoutElapsed_CancelsQueuedWorkAndDoesNotWaitForRunningWork()
    {
        using var host = BuildHostWithOneWorker(TestIds.New("timeout"), out var manager);
        await host.StartBoundedAsync();
        var work = await HeldWork<int>.SubmitAsync(manager, () => 42, "the running");

        // An already-canceled token stands for a shutdown timeout that has elapsed: no clock in the test.
        await Bounded.WaitAsync(host.StopAsync(new CancellationToken(canceled: true)), "the host to stop");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded.WaitAsync(work.Queued, "the queued work to end canceled"));
        Assert.True(work.Queued.IsCanceled);
        Assert.False(work.Running.IsCompleted);
        Assert.False(manager.IsRunning);
        work.Release();
        await Bounded.WaitAsync(work.Running, "the running work to finish after the host stopped");
    }

    [Fact]
    public async Task StartAsync_BackgroundService_CanSubmitFromItsStartAndDuringItsStop()
    {
        var name = TestIds.New("worker");
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        builder.Services.AddSingleton(provider => new SubmittingService(provider.GetRequiredKeyedService<ThreadPoolManager>(name)));
        builder.Services.AddHostedService(provider => provider.GetRequiredService<SubmittingService>());
        using var host = builder.Build();

        await host.StartBoundedAsync();
        await host.StopBoundedAsync();

        var service = host.Services.GetRequiredService<SubmittingService>();
        // Pools start before hosted services start and drain after they stop, so both submissions ran.
        Assert.Equal("start", await Bounded.ResultAsync(service.AtStart!, "work submitted at start"));
        Assert.Equal("stop", await Bounded.ResultAsync(service.AtStop!, "work submitted at stop"));
    }

    [Fact]
    public async Task StartAsync_LaterHostSameName_RestartsTheSameRootManager()
    {
        var name = TestIds.New("reused");
        ThreadPoolManager first;
        {
            var builder = TestHosts.CreateBuilder();
            builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
            using var host = builder.Build();
            first = host.Services.GetRequiredKeyedService<ThreadPoolManager>(name);
            await host.StartBoundedAsync();
            await host.StopBoundedAsync();
        }

        // The first host was disposed; it did not dispose the manager, which still belongs to Lineage.Root.
        var again = TestHosts.CreateBuilder();
        again.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 2);
        using var second = again.Build();
        await second.StartBoundedAsync();

        var manager = second.Services.GetRequiredKeyedService<ThreadPoolManager>(name);
        Assert.Same(first, manager);
        Assert.True(manager.IsRunning);
        Assert.Equal(2, manager.MaxWorkers);
        Assert.Equal(7, await Bounded.ResultAsync(manager.Submit(() => 7), "work"));
        await second.StopBoundedAsync();
    }

    [Fact]
    public async Task StartAsync_NameRunningInAnotherHost_FailsNamingTheManager()
    {
        var name = TestIds.New("owned");
        var firstBuilder = TestHosts.CreateBuilder();
        firstBuilder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        using var first = firstBuilder.Build();
        await first.StartBoundedAsync();

        var secondBuilder = TestHosts.CreateBuilder();
        secondBuilder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        using var second = secondBuilder.Build();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync(Bounded.Token()));

        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        // The failed host did not take the manager away from the one that runs it.
        Assert.True(first.Services.GetRequiredKeyedService<ThreadPoolManager>(name).IsRunning);
        await first.StopBoundedAsync();
    }

    /// <summary>A host with one registered pool of one worker, <paramref name="name"/>, not started yet.</summary>
    private static IHost BuildHostWithOneWorker(string name, out ThreadPoolManager manager)
    {
        var builder = TestHosts.CreateBuilder();
        builder.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 1);
        var host = builder.Build();
        manager = host.Services.GetRequiredKeyedService<ThreadPoolManager>(name);
        return host;
    }

    private sealed class SubmittingService(ThreadPoolManager pool) : IHostedService
    {
        public Task<string>? AtStart { get; private set; }

        public Task<string>? AtStop { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            AtStart = pool.Submit(() => "start", cancellationToken: cancellationToken);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            AtStop = pool.Submit(() => "stop", cancellationToken: cancellationToken);
            return Task.CompletedTask;
        }
    }
}
