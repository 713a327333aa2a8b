using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;

namespace ThreadLineage.Benchmarks.Resolution;

/// <summary>
/// <c>Lineage.GetManager</c> with the manager <see cref="Depth"/> levels up the lineage (depth 1: attached to the
/// current node), against a <see cref="ConcurrentDictionary{TKey, TValue}"/> lookup and an <see cref="AsyncLocal{T}"/> read.
/// </summary>
/// <remarks>
/// The chain of scopes is built on the benchmark thread in <see cref="Setup"/>: the manager is attached to the
/// first scope's node and <see cref="Depth"/> − 1 scopes are nested below it, so a lookup visits
/// <see cref="Depth"/> nodes. A synchronous setup's <c>AsyncLocal</c> writes stay on the thread's context,
/// so the benchmark invocations (same thread) see that lineage; the setup checks the walk length.
/// </remarks>
[MemoryDiagnoser]
public class ResolutionBenchmarks
{
    private const string Id = "bench-resolution";

    private static readonly AsyncLocal<ThreadPoolManager?> s_flowing = new();

    private readonly ConcurrentDictionary<string, ThreadPoolManager> _dictionary = new();
    private readonly Stack<LineageScope> _scopes = new();

    [Params(1, 8, 64)]
    public int Depth { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _scopes.Push(Lineage.BeginScope("bench-root"));
        var manager = Lineage.CreateManager(Id);
        for (var i = 1; i < Depth; i++)
        {
            _scopes.Push(Lineage.BeginScope($"bench-{i}"));
        }

        _dictionary[Id] = manager;
        s_flowing.Value = manager;

        var visited = 1;
        for (var node = Lineage.Current; !ReferenceEquals(node, manager.Owner); node = node.Parent!)
        {
            visited++;
        }

        if (visited != Depth || !ReferenceEquals(Lineage.GetManager(Id), manager))
        {
            throw new InvalidOperationException($"The lineage chain is wrong: a lookup visits {visited} nodes, expected {Depth}.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        s_flowing.Value = null;
        while (_scopes.TryPop(out var scope))
        {
            scope.Dispose();
        }
    }

    [Benchmark(Baseline = true, Description = "ConcurrentDictionary.TryGetValue")]
    public ThreadPoolManager? DictionaryLookup() => _dictionary.TryGetValue(Id, out var manager) ? manager : null;

    [Benchmark(Description = "AsyncLocal.Value")]
    public ThreadPoolManager? AsyncLocalRead() => s_flowing.Value;

    [Benchmark(Description = "Lineage.GetManager")]
    public ThreadPoolManager GetManager() => Lineage.GetManager(Id);
}
