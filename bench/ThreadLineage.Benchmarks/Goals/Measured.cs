using System.Collections.Concurrent;

namespace ThreadLineage.Benchmarks.Goals;

/// <summary>
/// The figures the probe modes measured in this process, by name, for <see cref="GoalsRun"/> to judge. A probe records
/// what it also prints; run alone, a probe's records are simply never read.
/// </summary>
internal static class Measured
{
    private static readonly ConcurrentDictionary<string, double> s_values = new(StringComparer.Ordinal);

    public static void Record(string name, double value) => s_values[name] = value;

    public static double? Get(string name) => s_values.TryGetValue(name, out var value) ? value : null;
}
