using System.Globalization;
using System.Text.RegularExpressions;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// CPU time (nanoseconds, <c>/proc/PID/task/TID/schedstat</c>) and voluntary context switches (each one a block: a
/// park, a wait) of a process's threads whose name starts with a prefix, or of the main thread. Linux only; zeros
/// elsewhere. Thread names are cut to 15 characters there, so prefixes are compared cut too.
/// </summary>
internal static class ThreadStats
{
    /// <summary>Sums over the threads named <paramref name="prefix"/>…, or the main thread when it is <see langword="null"/>.</summary>
    public static (long CpuNanoseconds, long VoluntarySwitches) Snapshot(string? prefix) => Snapshot(Environment.ProcessId, prefix);

    /// <summary>Sums over the threads of process <paramref name="processId"/> named <paramref name="prefix"/>…, or its main thread when it is <see langword="null"/>.</summary>
    public static (long CpuNanoseconds, long VoluntarySwitches) Snapshot(int processId, string? prefix)
    {
        var mainThread = processId.ToString(CultureInfo.InvariantCulture);
        var tasks = $"/proc/{mainThread}/task";
        if (!Directory.Exists(tasks))
        {
            return (0, 0);
        }

        var shown = prefix?[..Math.Min(prefix.Length, 15)];
        long cpu = 0;
        long switches = 0;
        foreach (var task in Directory.GetDirectories(tasks))
        {
            try
            {
                var matches = shown is null
                    ? Path.GetFileName(task) == mainThread
                    : File.ReadAllText(Path.Combine(task, "comm")).StartsWith(shown, StringComparison.Ordinal);
                if (!matches)
                {
                    continue;
                }

                cpu += long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                {
                    if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                    {
                        switches += long.Parse(line.AsSpan("voluntary_ctxt_switches:".Length).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
            }
        }

        return (cpu, switches);
    }

    /// <summary>CPU nanoseconds of each group of threads of process <paramref name="processId"/>: threads whose names differ only in numbers are one group.</summary>
    public static Dictionary<string, long> CpuByName(int processId)
    {
        var groups = new Dictionary<string, long>(StringComparer.Ordinal);
        var tasks = $"/proc/{processId.ToString(CultureInfo.InvariantCulture)}/task";
        if (!Directory.Exists(tasks))
        {
            return groups;
        }

        foreach (var task in Directory.GetDirectories(tasks))
        {
            try
            {
                var name = Regex.Replace(File.ReadAllText(Path.Combine(task, "comm")).Trim(), "[0-9]+", "N");
                var cpu = long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[0], CultureInfo.InvariantCulture);
                groups[name] = groups.GetValueOrDefault(name) + cpu;
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
            }
        }

        return groups;
    }
}
