using BenchmarkDotNet.Attributes;

namespace ThreadLineage.Benchmarks.Resolution;

/// <summary>
/// What beginning and ending an empty <see cref="Lineage.BeginScope(string?)"/> costs, on one thread and with no
/// <c>await</c>: the part of <see cref="ScopeAwaitBenchmarks.InsideLineageScope"/> that is not the hops, measured without
/// the shared thread pool's noise. Against setting and resetting an <see cref="AsyncLocal{T}"/> that has a change
/// handler, which a scope does too (its current node is one).
/// </summary>
/// <remarks>
/// The scopes' nodes are children of <see cref="Lineage.Root"/>, which refers to them weakly, as in a process where
/// requests begin scopes from the root context.
/// </remarks>
[MemoryDiagnoser]
public class ScopeBenchmarks
{
    private static readonly AsyncLocal<object?> s_withHandler = new(static _ => { });
    private static readonly object s_value = new();

    [Benchmark(Baseline = true, Description = "AsyncLocal with handler, set and reset")]
    public void AsyncLocalSetAndReset()
    {
        s_withHandler.Value = s_value;
        s_withHandler.Value = null;
    }

    [Benchmark(Description = "Lineage.BeginScope + Dispose")]
    public void BeginAndEndScope()
    {
        using var scope = Lineage.BeginScope("bench-scope");
    }
}
