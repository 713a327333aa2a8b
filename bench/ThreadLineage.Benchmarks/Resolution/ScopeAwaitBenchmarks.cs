using BenchmarkDotNet.Attributes;

namespace ThreadLineage.Benchmarks.Resolution;

/// <summary>
/// What a lineage scope costs code that does not use it: <see cref="Hops"/> <c>await Task.Yield()</c> hops (each a trip
/// through the shared thread pool that restores the flow's <see cref="ExecutionContext"/>) with nothing set, with a
/// plain <see cref="AsyncLocal{T}"/> set, with an <see cref="AsyncLocal{T}"/> that has a change handler set, and inside
/// a <see cref="Lineage.BeginScope(string?)"/> (whose current node is such an <see cref="AsyncLocal{T}"/>).
/// </summary>
/// <remarks>
/// Each benchmark sets its value inside the async method, so the value flows with its hops only; the baseline sets
/// nothing. The ratio that matters is each variant's against the baseline, per hop; the scope variant also pays for creating
/// and ending its (empty) scope once per operation.
/// </remarks>
[MemoryDiagnoser]
public class ScopeAwaitBenchmarks
{
    private static readonly AsyncLocal<object?> s_plain = new();
    private static readonly AsyncLocal<object?> s_withHandler = new(static _ => { });
    private static readonly object s_value = new();

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

    private static async Task HopAsync(int hops)
    {
        for (var i = 0; i < hops; i++)
        {
            await Task.Yield();
        }
    }
}
