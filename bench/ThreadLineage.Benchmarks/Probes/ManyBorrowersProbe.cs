using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using ThreadLineage.Benchmarks.Goals;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- many-borrowers [count] [rounds]</c>: a host with 2 threads on <see cref="Lineage.Root"/>, then
/// <c>count</c> (10,000) started, idle managers that borrow its threads (<c>WorkersFrom</c>), kept alive. Per round:
/// the threads they add (process threads and the host's workers), the bytes each keeps alive
/// (<see cref="GC.GetTotalMemory(bool)"/> deltas / count, created, started, and after one item each), the bytes each
/// <c>Start</c> allocates, the process CPU over idle windows with and without them, and the time to stop them all.
/// Then a per-type breakdown of what one started borrower keeps alive, never used and after one item (<see cref="HeapWalk"/>).
/// </summary>
internal static class ManyBorrowersProbe
{
    private const string HostId = "many-borrowers-host";
    private const int HostWorkers = 2;
    private const int Windows = 3;
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan s_settle = TimeSpan.FromSeconds(1);

    public static void Run(string[] args)
    {
        var count = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 3;
        ProbeReport.Header($"Many borrowers: {count} idle managers borrowing one host of {HostWorkers} threads, {rounds} rounds, {s_window.TotalSeconds:0} s CPU windows");

        using var host = Lineage.Root.GetOrCreateManager(HostId);
        host.Start(HostWorkers);
        using var countdown = new Countdown();
        var options = new ThreadPoolManagerOptions { MaxWorkers = HostWorkers, WorkersFrom = HostId };

        // Warm-up: JIT and tiering of create, start, submit, stop, so the measured rounds allocate only what they keep.
        RunRound(host, options, countdown, Math.Min(count, 1_000), measureCpu: false);

        var rows = new List<IReadOnlyList<string>>();
        for (var round = 1; round <= rounds; round++)
        {
            rows.Add([round.ToString(CultureInfo.InvariantCulture), .. RunRound(host, options, countdown, count, measureCpu: true)]);
        }

        ProbeReport.Table(
            [
                "Round", "Threads before → after", "Host workers before → after",
                "Bytes each, created", "Bytes each, started", "Bytes each, after 1 item", "Bytes allocated per Start",
                "CPU % host only (windows)", "CPU % with borrowers (windows)", "Stop all (ms)",
            ],
            rows);

        Breakdown(host, options, countdown);
    }

    private static IReadOnlyList<string> RunRound(ThreadPoolManager host, ThreadPoolManagerOptions options, Countdown countdown, int count, bool measureCpu)
    {
        var managers = new ThreadPoolManager[count];
        Thread.Sleep(s_settle);
        var cpuBefore = measureCpu ? MeasureCpuWindows() : [];

        var threadsBefore = ProcessThreads();
        var hostWorkersBefore = host.GetStatistics().Workers;
        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < count; i++)
        {
            managers[i] = new ThreadPoolManager($"borrower-{i}");
        }

        var memoryCreated = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        foreach (var manager in managers)
        {
            manager.Start(options);
        }

        var allocatedByStart = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        var memoryStarted = GC.GetTotalMemory(forceFullCollection: true);
        var threadsAfter = ProcessThreads();
        var hostWorkersAfter = host.GetStatistics().Workers;

        Thread.Sleep(s_settle);
        var cpuWith = measureCpu ? MeasureCpuWindows() : [];

        // One item through each: anything a borrower creates on first use shows up here.
        countdown.Reset(count);
        foreach (var manager in managers)
        {
            manager.Post(countdown.SignalAction);
        }

        countdown.Wait();
        var memoryUsed = GC.GetTotalMemory(forceFullCollection: true);

        var stopping = Stopwatch.StartNew();
        foreach (var manager in managers)
        {
            manager.Stop(wait: false);
        }

        foreach (var manager in managers)
        {
            manager.Dispose();
        }

        stopping.Stop();
        GC.KeepAlive(managers);
        if (measureCpu)
        {
            // The worst round counts.
            MaxOf("many-borrowers.threads-added", threadsAfter - threadsBefore);
            MaxOf("many-borrowers.host-workers-added", hostWorkersAfter - hostWorkersBefore);
            MaxOf("many-borrowers.bytes-each-started", (double)(memoryStarted - memoryBefore) / count);
            MaxOf("many-borrowers.cpu-without", cpuBefore.Max());
            MaxOf("many-borrowers.cpu-with", cpuWith.Max());
        }

        return
        [
            $"{threadsBefore} → {threadsAfter}",
            $"{hostWorkersBefore} → {hostWorkersAfter}",
            Each(memoryCreated - memoryBefore, count),
            Each(memoryStarted - memoryBefore, count),
            Each(memoryUsed - memoryBefore, count),
            Each(allocatedByStart, count),
            string.Join(" / ", cpuBefore.Select(Percent)),
            string.Join(" / ", cpuWith.Select(Percent)),
            stopping.Elapsed.TotalMilliseconds.ToString("0", CultureInfo.InvariantCulture),
        ];
    }

    /// <summary>
    /// What one started borrower keeps alive, by type: reachable from it and not from a second borrower, the host left out;
    /// first never used, then after one item each.
    /// </summary>
    private static void Breakdown(ThreadPoolManager host, ThreadPoolManagerOptions options, Countdown countdown)
    {
        using var first = new ThreadPoolManager("borrower-a");
        using var second = new ThreadPoolManager("borrower-b");
        first.Start(options);
        second.Start(options);
        PrintBreakdown("What one started borrower that never ran anything keeps alive, by type", host, first, second);

        countdown.Reset(2);
        first.Post(countdown.SignalAction);
        second.Post(countdown.SignalAction);
        countdown.Wait();
        PrintBreakdown("What one started borrower keeps alive after one item, by type", host, first, second);
        Console.WriteLine("Not on the managed heap, so in neither the tables nor the GC.GetTotalMemory figures: one weak GC handle per manager (ThreadPoolManager.AllInstances).");
    }

    private static void PrintBreakdown(string title, ThreadPoolManager host, ThreadPoolManager first, ThreadPoolManager second)
    {
        var hostRun = typeof(ThreadPoolManager).GetField("_run", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(host)!;
        bool Stop(object o) => ReferenceEquals(o, host) || ReferenceEquals(o, hostRun);
        var shared = HeapWalk.Reachable(second, Stop);
        var own = HeapWalk.Reachable(first, Stop).Where(o => !shared.Contains(o)).ToList();
        var rows = HeapWalk.ByType(own);
        var total = rows.Sum(static r => r.Bytes);

        Console.WriteLine($"## {title}");
        Console.WriteLine();
        ProbeReport.Table(
            ["Type", "Objects", "Bytes", "Share"],
            rows.Select(r => (IReadOnlyList<string>)
            [
                r.Type,
                r.Count.ToString(CultureInfo.InvariantCulture),
                r.Bytes.ToString(CultureInfo.InvariantCulture),
                (r.Bytes * 100.0 / total).ToString("0", CultureInfo.InvariantCulture) + "%",
            ]).Append(["Total", own.Count.ToString(CultureInfo.InvariantCulture), total.ToString(CultureInfo.InvariantCulture), "100%"]));
    }

    private static double[] MeasureCpuWindows()
    {
        var windows = new double[Windows];
        for (var i = 0; i < Windows; i++)
        {
            using var process = Process.GetCurrentProcess();
            var cpuBefore = process.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            Thread.Sleep(s_window);
            process.Refresh();
            windows[i] = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds / clock.Elapsed.TotalMilliseconds * 100;
        }

        return windows;
    }

    private static int ProcessThreads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static string Each(long bytes, int count) => (bytes / (double)count).ToString("0", CultureInfo.InvariantCulture);

    private static string Percent(double value) => value.ToString("0.000", CultureInfo.InvariantCulture);

    private static void MaxOf(string name, double value) => Measured.Record(name, Math.Max(Measured.Get(name) ?? double.MinValue, value));
}
