using BenchmarkDotNet.Attributes;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Pools;

/// <summary>
/// One million no-op items from one producer, waiting for all of them: submitted to a host with 2 threads (the
/// baseline), or to a manager that borrows those threads (<c>WorkersFrom</c>, <c>MaxWorkers</c> = the host's 2).
/// <c>Post</c> both ways as well. Times are per item (OperationsPerInvoke).
/// </summary>
/// <remarks>
/// A borrower's items reach the host's threads through <em>turns</em> queued on the host's queue, each running up to
/// 4 of its items, so a borrowed item costs one enqueue on the borrower's queue plus a quarter of a turn's trip through
/// the host's queue. Every item runs <see cref="Countdown.Signal"/>, as in <c>ThroughputBenchmarks</c>.
/// </remarks>
[MemoryDiagnoser]
public class BorrowerThroughputBenchmarks
{
    public const int Items = 1_000_000;
    public const string HostId = "bench-borrow-host";
    private const int Workers = 2;

    private readonly Countdown _countdown = new();
    private ThreadPoolManager? _host;
    private ThreadPoolManager? _borrower;

    [GlobalSetup]
    public void Setup()
    {
        // On the root, so that WorkersFrom resolves it from any flow.
        _host = Lineage.Root.GetOrCreateManager(HostId);
        _host.Start(Workers);
        _borrower = new ThreadPoolManager("bench-borrower");
        _borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = Workers, WorkersFrom = HostId });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _borrower?.Dispose();
        _host?.Dispose();
        _countdown.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items, Description = "Submit, host (2 threads)")]
    public void SubmitHost() => SubmitAll(_host!);

    [Benchmark(OperationsPerInvoke = Items, Description = "Submit, borrower of the host (MaxWorkers 2)")]
    public void SubmitBorrower() => SubmitAll(_borrower!);

    [Benchmark(OperationsPerInvoke = Items, Description = "Post, host (2 threads)")]
    public void PostHost() => PostAll(_host!);

    [Benchmark(OperationsPerInvoke = Items, Description = "Post, borrower of the host (MaxWorkers 2)")]
    public void PostBorrower() => PostAll(_borrower!);

    private void SubmitAll(ThreadPoolManager manager)
    {
        _countdown.Reset(Items);
        var signal = _countdown.SignalAction;
        for (var i = 0; i < Items; i++)
        {
            _ = manager.Submit(signal);
        }

        _countdown.Wait();
    }

    private void PostAll(ThreadPoolManager manager)
    {
        _countdown.Reset(Items);
        var signal = _countdown.SignalAction;
        for (var i = 0; i < Items; i++)
        {
            manager.Post(signal);
        }

        _countdown.Wait();
    }
}
