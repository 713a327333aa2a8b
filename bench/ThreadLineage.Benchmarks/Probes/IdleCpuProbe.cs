using System.Diagnostics;
using System.Globalization;
using ThreadLineage.Benchmarks.Goals;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- idle-cpu</c>: process CPU time burned by 64 started, idle managers of 2 workers each, as a percentage
/// of one core, next to the same process with no manager started.
/// </summary>
internal static class IdleCpuProbe
{
    private const int Managers = 64;
    private const int Workers = 2;
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(1);

    public static void Run()
    {
        ProbeReport.Header($"Idle CPU: {Managers} started managers x {Workers} workers, {s_window.TotalSeconds:0} s windows");

        // Let start-up work (JIT, tiering) finish before the reference window.
        Thread.Sleep(s_settle);
        var rows = new List<IReadOnlyList<string>>();
        for (var i = 1; i <= 3; i++)
        {
            var cpu = MeasureCpu();
            Measured.Record("idle-cpu.none", Math.Max(Measured.Get("idle-cpu.none") ?? 0, cpu));
            rows.Add(["No manager started", i.ToString(CultureInfo.InvariantCulture), Percent(cpu)]);
        }

        var managers = new ThreadPoolManager[Managers];
        using var countdown = new Countdown();
        countdown.Reset(Managers * 100);
        for (var m = 0; m < Managers; m++)
        {
            managers[m] = new ThreadPoolManager($"idle-{m}");
            managers[m].Start(Workers);
        }

        // Put every pool through work once, so each worker has gone through the park path at least once.
        for (var i = 0; i < Managers * 100; i++)
        {
            managers[i % Managers].Post(countdown.SignalAction);
        }

        countdown.Wait();
        Thread.Sleep(s_settle);
        for (var i = 1; i <= 3; i++)
        {
            var cpu = MeasureCpu();
            Measured.Record("idle-cpu.managers", Math.Max(Measured.Get("idle-cpu.managers") ?? 0, cpu));
            rows.Add([$"{Managers} idle managers ({Managers * Workers} workers)", i.ToString(CultureInfo.InvariantCulture), Percent(cpu)]);
        }

        ProbeReport.Table(["Process state", "Window", "CPU (% of one core)"], rows);

        foreach (var manager in managers)
        {
            manager.Stop(wait: false);
        }

        foreach (var manager in managers)
        {
            manager.Stop();
        }
    }

    private static double MeasureCpu()
    {
        using var process = Process.GetCurrentProcess();
        var cpuBefore = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        Thread.Sleep(s_window);
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuBefore;
        return cpu.TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100;
    }

    private static string Percent(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);
}
