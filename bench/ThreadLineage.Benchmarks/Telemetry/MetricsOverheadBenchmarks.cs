using BenchmarkDotNet.Attributes;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Telemetry;

/// <summary>
/// The cost of the "ThreadLineage" meter on <c>Submit</c> when nobody listens: the same million no-op items
/// through two workers with the recording code compiled away (AppContext switch
/// <c>ThreadLineage.Metrics.IsSupported</c> = false, the baseline) and present but unlistened.
/// </summary>
/// <remarks>
/// BenchmarkDotNet runs each benchmark in its own process, and the switch is read once, when the library
/// first records anything; each targeted setup sets it before any pool exists in that process.
/// </remarks>
[MemoryDiagnoser]
public class MetricsOverheadBenchmarks
{
    private const int Items = 1_000_000;

    private readonly Countdown _countdown = new();
    private ThreadPoolManager? _manager;

    [GlobalSetup(Target = nameof(MetricsAbsent))]
    public void SetupAbsent() => Setup(metricsSupported: false);

    [GlobalSetup(Target = nameof(MetricsUnlistened))]
    public void SetupUnlistened() => Setup(metricsSupported: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        _manager?.Stop();
        _countdown.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items, Description = "Submit, metrics absent")]
    public void MetricsAbsent() => Submit();

    [Benchmark(OperationsPerInvoke = Items, Description = "Submit, metrics present, no listener")]
    public void MetricsUnlistened() => Submit();

    private void Setup(bool metricsSupported)
    {
        AppContext.SetSwitch("ThreadLineage.Metrics.IsSupported", metricsSupported);
        _manager = new ThreadPoolManager("bench-metrics");
        _manager.Start(2);
    }

    private void Submit()
    {
        var manager = _manager!;
        var signal = _countdown.SignalAction;
        _countdown.Reset(Items);
        for (var i = 0; i < Items; i++)
        {
            _ = manager.Submit(signal);
        }

        _countdown.Wait();
    }
}
