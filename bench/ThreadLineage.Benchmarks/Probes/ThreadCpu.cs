using System.Globalization;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// CPU time of this process's threads, grouped as the producer (the main thread), the workers running
/// the items, and everything else (GC, JIT, finalizer), read from <c>/proc/self/task/*/stat</c> (Linux only).
/// </summary>
internal static class ThreadCpu
{
    private const double MillisecondsPerTick = 10; // USER_HZ is 100 on Linux.

    public static bool IsSupported => Directory.Exists("/proc/self/task");

    /// <summary>Returns CPU milliseconds per group: "producer", "workers", "other".</summary>
    public static Dictionary<string, double> Snapshot(params string[] workerNamePrefixes)
    {
        var groups = new Dictionary<string, double> { ["producer"] = 0, ["workers"] = 0, ["other"] = 0 };
        if (!IsSupported)
        {
            return groups;
        }

        var mainThreadId = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        foreach (var directory in Directory.GetDirectories("/proc/self/task"))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // The thread exited meanwhile.
            }

            // Format: "tid (comm) state ppid ... utime stime ..."; comm may contain spaces, so split after ')'.
            var close = stat.LastIndexOf(')');
            var name = stat[(stat.IndexOf('(', StringComparison.Ordinal) + 1)..close];
            var fields = stat[(close + 2)..].Split(' ');
            var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            var group = Path.GetFileName(directory) == mainThreadId ? "producer"
                : workerNamePrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)) ? "workers"
                : "other";
            groups[group] += ticks * MillisecondsPerTick;
        }

        return groups;
    }
}
