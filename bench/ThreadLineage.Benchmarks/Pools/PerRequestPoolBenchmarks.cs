using BenchmarkDotNet.Attributes;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Pools;

/// <summary>
/// One web-style request per operation: <c>Lineage.BeginScope</c>, a pool for the request, 4 no-op <c>Submit</c>s
/// waited for, and the scope's disposal (which stops the request's pool and waits for it). The request's pool
/// borrows the threads of a process-wide host started in <c>[GlobalSetup]</c> (<c>WorkersFrom</c>), or has 2 threads
/// of its own; the baseline submits the same 4 items to the host itself inside the scope. Times are per request.
/// </summary>
/// <remarks>
/// The host has <see cref="Environment.ProcessorCount"/> threads, as a process-wide pool for requests would. The
/// <c>per-request</c> probe runs the same operations and counts the threads they create. A request that has to
/// block (on a task, or on the stop) pays a wake-up of tens of microseconds, so means carry a long tail: the
/// Median column is printed too.
/// </remarks>
[MemoryDiagnoser]
[MedianColumn]
public class PerRequestPoolBenchmarks
{
    private PerRequestWorkload? _workload;

    [GlobalSetup]
    public void Setup() => _workload = new PerRequestWorkload(Environment.ProcessorCount);

    [GlobalCleanup]
    public void Cleanup() => _workload?.Dispose();

    [Benchmark(Baseline = true, Description = "Shared host: scope + 4 Submits")]
    public void Shared() => _workload!.Shared();

    [Benchmark(Description = "Borrowing pool: scope + Start(WorkersFrom) + 4 Submits")]
    public void Borrowed() => _workload!.Borrowed();

    [Benchmark(Description = "Dedicated pool: scope + Start(2 threads) + 4 Submits")]
    public void Dedicated() => _workload!.Dedicated();
}
