using BenchmarkDotNet.Attributes;

namespace ThreadLineage.Benchmarks.Resolution;

/// <summary>
/// What a lineage scope costs code that does not use it: <see cref="Hops"/> <c>await Task.Yield()</c> hops (each a trip
/// through the shared thread pool that restores the flow's <see cref="ExecutionContext"/>) with nothing set, with a
/// plain <see cref="AsyncLocal{T}"/> set, with an <see cref="AsyncLocal{T}"/> that has a change handler set, inside
/// a <see cref="Lineage.BeginScope(string?)"/> (whose current node is such an <see cref="AsyncLocal{T}"/>), and inside a
/// scope that was already open.
/// </summary>
/// <remarks>
/// Each of the first four sets its value inside the async method, so the value flows with its hops only; the baseline
/// sets nothing. The ratio that matters is each variant's against the baseline, per hop; <see cref="InsideLineageScope"/>
/// also pays for beginning and ending its (empty) scope once per operation. <see cref="InsideOpenScope"/> runs its hops
/// in a scope its <c>[GlobalSetup]</c> began on the benchmark thread (BenchmarkDotNet runs each case in a process of its
/// own, so no other case sees it): the hops' cost alone, with nothing set per operation.
/// </remarks>
[MemoryDiagnoser]
public class ScopeAwaitBenchmarks
{
    private static readonly AsyncLocal<object?> s_plain = new();
    private static readonly AsyncLocal<object?> s_withHandler = new(static _ => { });
    private static readonly object s_value = new();

    private LineageScope? _openScope;

    /// <summary>Gets or sets the number of <c>await</c> hops per operation.</summary>
    [Params(16)]
    public int Hops { get; set; }

    [Benchmark(Baseline = true)]
    public Task NothingSet() => HopAsync(Hops);

    [Benchmark]
    public async Task PlainAsyncLocal()
    {
        s_plain.Value = s_value;
        await HopAsync(Hops).ConfigureAwait(false);
    }

    [Benchmark]
    public async Task AsyncLocalWithHandler()
    {
        s_withHandler.Value = s_value;
        await HopAsync(Hops).ConfigureAwait(false);
    }

    [Benchmark]
    public async Task InsideLineageScope()
    {
        using var scope = Lineage.BeginScope("bench-await");
        await HopAsync(Hops).ConfigureAwait(false);
    }

    [GlobalSetup(Target = nameof(InsideOpenScope))]
    public void BeginOpenScope()
    {
        _openScope = Lineage.BeginScope("bench-await-open");
        if (!ReferenceEquals(Lineage.Current, _openScope.Node))
        {
            throw new InvalidOperationException("The benchmark thread is not inside the scope its setup began.");
        }
    }

    [GlobalCleanup(Target = nameof(InsideOpenScope))]
    public void EndOpenScope() => _openScope?.Dispose();

    [Benchmark]
    public Task InsideOpenScope() => HopAsync(Hops);

    private static async Task HopAsync(int hops)
    {
        for (var i = 0; i < hops; i++)
        {
            await Task.Yield();
        }
    }
}
