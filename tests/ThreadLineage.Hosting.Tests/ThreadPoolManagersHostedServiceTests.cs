using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using ThreadLineage.Hosting.Tests.Support;

namespace ThreadLineage.Hosting.Tests;

public class ThreadPoolManagersHostedServiceTests
{
    /// <summary>
    /// The host's stop drains running and queued work before it completes: a pool's own work, and a borrower's, whose
    /// drain comes first, while the pool it borrows from still runs (the queued item sees the borrower stopping and
    /// the pool running).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StopAsync_RunningAndQueuedWork_DrainsBeforeStopCompletes(bool borrower)
    {
        using var host = BuildHostRunningOneItemAtATime(borrower, out var pool, out var manager);
        await host.StartBoundedAsync();
        var work = await HeldWork<(bool Manager, bool Pool)>.SubmitAsync(manager, () => (manager.IsRunning, pool.IsRunning), "the running");

        var stop = host.StopAsync(Bounded.Token());
        Bounded.Until(() => !manager.IsRunning, "the stop to begin");

        // The drain cannot finish while the only worker (the borrower's only slot) is held by the gate; a borrower's
        // pool has not been asked to stop yet: its stop waits for the borrower's drain.
        Assert.False(stop.IsCompleted);
        Assert.Equal(borrower, pool.IsRunning);
        work.Release();
        await Bounded.WaitAsync(stop, "the host to stop");

        Assert.Equal(TaskStatus.RanToCompletion, work.Running.Status);
        Assert.Equal((false, borrower), await Bounded.ResultAsync(work.Queued, "the queued work"));
        Assert.False(manager.IsRunning);
        Assert.False(pool.IsRunning);
    }

    /// <summary>
    /// An already-canceled token stands for a shutdown timeout that has elapsed (no clock in the test): the stop
    /// cancels the queued work and does not wait for the running item, of a pool and of a borrower (whose running item
    /// holds the borrower's drain, yet does not hold the stop of the pool it borrows from past the timeout).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StopAsync_ShutdownTimeoutElapsed_CancelsQueuedWorkAndDoesNotWaitForRunningWork(bool borrower)
    {
        using var host = BuildHostRunningOneItemAtATime(borrower, out var pool, out var manager);
        await host.StartBoundedAsync();
        var work = await HeldWork<int>.SubmitAsync(manager, () => 42, "the running");

        await Bounded.WaitAsync(host.StopAsync(new CancellationToken(canceled: true)), "the host to stop");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Bounded.WaitAsync(work.Queued, "the queued work to end canceled"));
        Assert.True(work.Queued.IsCanceled);
        Assert.False(work.Running.IsCompleted);
        Assert.False(manager.IsRunning);
        Assert.False(pool.IsRunning);
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
            using var host = TestHosts.BuildWithPoolOfOneWorker(name, out first);
            await host.StartBoundedAsync();
            await host.StopBoundedAsync();
        }

        // The first host was disposed; it did not dispose the manager, which still belongs to Lineage.Root.
        var again = TestHosts.CreateBuilder();
        again.Services.AddThreadPoolManager(name, o => o.MaxWorkers = 2);
        using var second = again.Build();
        await second.StartBoundedAsync();

        var manager = second.Manager(name);
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
        using var first = TestHosts.BuildWithPoolOfOneWorker(name, out var manager);
        await first.StartBoundedAsync();

        using var second = TestHosts.BuildWithPoolOfOneWorker(name, out _);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => second.StartAsync(Bounded.Token()));

        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        // The failed host did not take the manager away from the one that runs it.
        Assert.True(manager.IsRunning);
        await first.StopBoundedAsync();
    }

    /// <summary>
    /// A host (not started) that runs one item at a time: a pool of one worker, or a borrower of one slot on a pool of two
    /// workers. <paramref name="pool"/> owns the threads; <paramref name="manager"/> (the pool or the borrower) takes the work.
    /// </summary>
    private static IHost BuildHostRunningOneItemAtATime(bool borrower, out ThreadPoolManager pool, out ThreadPoolManager manager)
    {
        if (borrower)
        {
            return TestHosts.BuildWithBorrowerOfOneSlot(out pool, out manager);
        }

        var host = TestHosts.BuildWithPoolOfOneWorker(TestIds.New("drain"), out pool);
        manager = pool;
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
