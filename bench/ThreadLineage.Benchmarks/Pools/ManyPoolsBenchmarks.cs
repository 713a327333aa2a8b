using BenchmarkDotNet.Attributes;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Pools;

/// <summary>
/// The same million items on one manager, or spread round-robin over 64 managers of 2 workers each
/// (128 dedicated threads on this 2-core machine). Times are per item.
/// </summary>
[MemoryDiagnoser]
public class ManyPoolsBenchmarks
{
    public const int Items = 1_000_000;
    public const int Managers = 64;
    private const int Workers = 2;

    private readonly Countdown _countdown = new();
    private readonly ThreadPoolManager[] _many = new ThreadPoolManager[Managers];
    private ThreadPoolManager? _one;

    [GlobalSetup]
    public void Setup()
    {
        _one = new ThreadPoolManager("bench-one");
        _one.Start(Workers);
        for (var i = 0; i < Managers; i++)
        {
            _many[i] = new ThreadPoolManager($"bench-many-{i}");
            _many[i].Start(Workers);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _one?.Stop(wait: false);
        foreach (var manager in _many)
        {
            manager?.Stop(wait: false);
        }

        _one?.Stop();
        foreach (var manager in _many)
        {
            manager?.Stop();
        }

        _countdown.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items, Description = "Post, 1 manager")]
    public void PostOne()
    {
        var signal = Begin();
        var manager = _one!;
        for (var i = 0; i < Items; i++)
        {
            manager.Post(signal);
        }

        _countdown.Wait();
    }

    [Benchmark(OperationsPerInvoke = Items, Description = "Post, 64 managers round-robin")]
    public void PostMany()
    {
        var signal = Begin();
        var many = _many;
        for (var i = 0; i < Items; i++)
        {
            many[i & (Managers - 1)].Post(signal);
        }

        _countdown.Wait();
    }

    [Benchmark(OperationsPerInvoke = Items, Description = "Submit, 1 manager")]
    public void SubmitOne()
    {
        var signal = Begin();
        var manager = _one!;
        for (var i = 0; i < Items; i++)
        {
            _ = manager.Submit(signal);
        }

        _countdown.Wait();
    }

    [Benchmark(OperationsPerInvoke = Items, Description = "Submit, 64 managers round-robin")]
    public void SubmitMany()
    {
        var signal = Begin();
        var many = _many;
        for (var i = 0; i < Items; i++)
        {
            _ = many[i & (Managers - 1)].Submit(signal);
        }

        _countdown.Wait();
    }

    private Action Begin()
    {
        _countdown.Reset(Items);
        return _countdown.SignalAction;
    }
}
