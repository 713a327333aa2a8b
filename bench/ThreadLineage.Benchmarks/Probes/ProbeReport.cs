using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>Shared output helpers for the probe modes: a header naming the machine, and markdown tables.</summary>
internal static class ProbeReport
{
    public static void Header(string title)
    {
        Console.WriteLine($"# {title}");
        Console.WriteLine();
        Console.WriteLine($"- {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {RuntimeInformation.ProcessArchitecture}");
        Console.WriteLine($"- {Environment.ProcessorCount} logical processors, {CpuModel()}");
        Console.WriteLine($"- Server GC: {System.Runtime.GCSettings.IsServerGC}, Stopwatch resolution: {1e9 / Stopwatch.Frequency:0.#} ns");
#if DEBUG
        Console.WriteLine("- WARNING: Debug build. Run with -c Release for meaningful numbers.");
#endif
        Console.WriteLine();
    }

    public static void Table(IReadOnlyList<string> columns, IEnumerable<IReadOnlyList<string>> rows)
    {
        Console.WriteLine("| " + string.Join(" | ", columns) + " |");
        Console.WriteLine("|" + string.Concat(columns.Select((_, i) => i == 0 ? "---|" : "---:|")));
        foreach (var row in rows)
        {
            Console.WriteLine("| " + string.Join(" | ", row) + " |");
        }

        Console.WriteLine();
    }

    private static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(static l => l.StartsWith("model name", StringComparison.Ordinal));
            return line is null ? "CPU model unknown" : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
        }
        catch (IOException)
        {
            return "CPU model unknown";
        }
    }
}
