using System.Diagnostics;
using System.Globalization;
using ThreadLineage.Benchmarks.Goals;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- per-request [requests] [rounds]</c>: the operations of <c>Pools.PerRequestPoolBenchmarks</c> (a scope, a pool,
/// 4 <c>Submit</c>s waited for, the scope's disposal), <c>requests</c> (2,000) of each kind per round, the kinds
/// interleaved, and the threads they create: process threads before each batch, the most extra threads seen while it
/// ran (sampled every millisecond) and left after it, the host's workers, the threads the dedicated pools started (their
/// <c>WorkerStarted</c> hook), and on which threads the items ran (the host's, or others). Also µs per request, as a
/// cross-check of the benchmark, and (Linux) the CPU time and blocks (voluntary context switches: parks, waits) per
/// request of the host's threads and of the calling thread, medians of the rounds.
/// </summary>
internal static class PerRequestProbe
{
    private static readonly TimeSpan s_settle = TimeSpan.FromMilliseconds(250);
    private static int s_onHost;
    private static int s_elsewhere;

    public static void Run(string[] args)
    {
        var requests = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2_000;
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        ProbeReport.Header($"Per-request pools: {requests} requests per kind and round, {rounds} rounds, host of {Environment.ProcessorCount} threads");

        var hostPrefix = PerRequestWorkload.HostId + "-";
        using var workload = new PerRequestWorkload(Environment.ProcessorCount, () =>
        {
            if (Thread.CurrentThread.Name?.StartsWith(hostPrefix, StringComparison.Ordinal) == true)
            {
                Interlocked.Increment(ref s_onHost);
            }
            else
            {
                Interlocked.Increment(ref s_elsewhere);
            }
        });

        var kinds = new (string Name, Action Request)[]
        {
            ("Shared host (baseline)", workload.Shared),
            ("Borrowing pool", workload.Borrowed),
            ("Dedicated pool (2 threads)", workload.Dedicated),
        };

        // Warm-up: JIT, tiering, and the host's threads all started.
        foreach (var (_, request) in kinds)
        {
            for (var i = 0; i < 200; i++)
            {
                request();
            }
        }

        using var sampler = new ThreadCountSampler();
        var results = kinds.Select(static _ => new KindResult()).ToArray();
        for (var round = 0; round < rounds; round++)
        {
            // Rotate the order each round, so no kind always runs right after another.
            for (var k = 0; k < kinds.Length; k++)
            {
                var index = (k + round) % kinds.Length;
                Measure(kinds[index].Request, requests, workload, sampler, results[index]);
            }
        }

        ProbeReport.Table(
            [
                "Per-request pool", "µs/request (median of rounds)", "Process threads before a batch", "Most extra threads seen while it ran",
                "Extra threads after it", "Host workers before → after", "Threads started by per-request pools",
                "Items on host threads", "Items on other threads",
                "Host threads: CPU µs per request", "Host threads: blocks per request", "Caller: CPU µs per request", "Caller: blocks per request",
            ],
            kinds.Select((kind, i) =>
            {
                var r = results[i];
                return (IReadOnlyList<string>)
                [
                    kind.Name,
                    Median(r.MicrosecondsPerRequest).ToString("0.0", CultureInfo.InvariantCulture),
                    Range(r.ThreadsBefore),
                    r.PeakThreads.Zip(r.ThreadsBefore, static (peak, before) => peak - before).Max().ToString(CultureInfo.InvariantCulture),
                    r.ThreadsAfter.Zip(r.ThreadsBefore, static (after, before) => after - before).Max().ToString(CultureInfo.InvariantCulture),
                    $"{Range(r.HostWorkersBefore)} → {Range(r.HostWorkersAfter)}",
                    r.DedicatedThreadsStarted.ToString(CultureInfo.InvariantCulture),
                    r.OnHost.ToString(CultureInfo.InvariantCulture),
                    r.Elsewhere.ToString(CultureInfo.InvariantCulture),
                    Median(r.HostCpuMicrosecondsPerRequest).ToString("0.0", CultureInfo.InvariantCulture),
                    Median(r.HostBlocksPerRequest).ToString("0.00", CultureInfo.InvariantCulture),
                    Median(r.CallerCpuMicrosecondsPerRequest).ToString("0.0", CultureInfo.InvariantCulture),
                    Median(r.CallerBlocksPerRequest).ToString("0.00", CultureInfo.InvariantCulture),
                ];
            }));
        var borrowing = results[1];
        Measured.Record("per-request.borrowed.extra-threads", borrowing.PeakThreads.Zip(borrowing.ThreadsBefore, static (peak, before) => peak - before).Max());
        Measured.Record("per-request.borrowed.threads-started", borrowing.DedicatedThreadsStarted);
        Console.WriteLine($"Requests per kind: {requests * rounds}; items per kind: {requests * rounds * PerRequestWorkload.Submits}.");
        for (var i = 0; i < kinds.Length; i++)
        {
            Console.WriteLine($"Threads that appeared during the {kinds[i].Name} batches (name ×count, per batch that had any): {(results[i].NewThreads.Count == 0 ? "none" : string.Join("; ", results[i].NewThreads))}");
        }

        Console.WriteLine();
        Phases(workload.Host, requests * rounds);
    }

    /// <summary>Where a request's time goes: the median of each step over <paramref name="requests"/> requests of each kind, interleaved.</summary>
    private static void Phases(ThreadPoolManager host, int requests)
    {
        string[] steps = ["BeginScope", "CreateManager", "Start", "4 Submits", "Wait for the 4", "Scope disposal (stop, wait)", "Whole request"];
        var kinds = new[] { "Shared host", "Borrowing pool", "Dedicated pool" };
        var samples = kinds.Select(_ => steps.Select(_ => new List<double>()).ToArray()).ToArray();
        var borrowing = new ThreadPoolManagerOptions { MaxWorkers = PerRequestWorkload.RequestWorkers, WorkersFrom = PerRequestWorkload.HostId };
        var dedicated = new ThreadPoolManagerOptions { MaxWorkers = PerRequestWorkload.RequestWorkers };
        Action noop = static () => { };
        var marks = new long[steps.Length];
        for (var i = 0; i < requests; i++)
        {
            for (var kind = 0; kind < kinds.Length; kind++)
            {
                if (kind == 2 && i % 10 != 0)
                {
                    // A tenth as many dedicated requests: each costs a millisecond or more.
                    continue;
                }

                var start = Stopwatch.GetTimestamp();
                var scope = Lineage.BeginScope("request");
                marks[0] = Stopwatch.GetTimestamp();
                var pool = kind == 0 ? host : Lineage.CreateManager(PerRequestWorkload.RequestPoolId);
                marks[1] = Stopwatch.GetTimestamp();
                if (kind != 0)
                {
                    pool.Start(kind == 1 ? borrowing : dedicated);
                }

                marks[2] = Stopwatch.GetTimestamp();
                var first = pool.Submit(noop);
                var second = pool.Submit(noop);
                var third = pool.Submit(noop);
                var fourth = pool.Submit(noop);
                marks[3] = Stopwatch.GetTimestamp();
                first.Wait();
                second.Wait();
                third.Wait();
                fourth.Wait();
                marks[4] = Stopwatch.GetTimestamp();
                scope.Dispose();
                marks[5] = Stopwatch.GetTimestamp();
                marks[6] = marks[5];
                var previous = start;
                for (var step = 0; step < steps.Length - 1; step++)
                {
                    samples[kind][step].Add(Stopwatch.GetElapsedTime(previous, marks[step]).TotalMicroseconds);
                    previous = marks[step];
                }

                samples[kind][^1].Add(Stopwatch.GetElapsedTime(start, marks[^1]).TotalMicroseconds);
            }
        }

        Console.WriteLine($"## Where a request's time goes (median µs per step; {requests} shared and borrowing requests, {requests / 10} dedicated, interleaved)");
        Console.WriteLine();
        ProbeReport.Table(
            ["Step", .. kinds],
            steps.Select((step, s) => (IReadOnlyList<string>)[step, .. samples.Select(k => Median(k[s]).ToString("0.00", CultureInfo.InvariantCulture))])
                .Append(["Whole request, p90", .. samples.Select(k => Percentile(k[^1], 0.90).ToString("0.00", CultureInfo.InvariantCulture))])
                .Append(["Whole request, p99", .. samples.Select(k => Percentile(k[^1], 0.99).ToString("0.00", CultureInfo.InvariantCulture))])
                .Append(["Whole request, mean", .. samples.Select(k => k[^1].Average().ToString("0.00", CultureInfo.InvariantCulture))]));
        Console.WriteLine("Medians of steps do not add up to the median of whole requests.");
    }

    private static void Measure(Action request, int requests, PerRequestWorkload workload, ThreadCountSampler sampler, KindResult into)
    {
        // Threads of the previous batch's last dedicated pools may still be on their way out after Join returned.
        Thread.Sleep(s_settle);
        var threadsBefore = ProcessThreads();
        var hostWorkersBefore = workload.Host.GetStatistics().Workers;
        var dedicatedBefore = workload.DedicatedThreadsStarted;
        var hostBefore = ThreadStats.Snapshot(PerRequestWorkload.HostId + "-");
        var callerBefore = ThreadStats.Snapshot(prefix: null);
        var onHostBefore = Volatile.Read(ref s_onHost);
        var elsewhereBefore = Volatile.Read(ref s_elsewhere);
        sampler.Reset();
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < requests; i++)
        {
            request();
        }

        clock.Stop();
        var hostAfter = ThreadStats.Snapshot(PerRequestWorkload.HostId + "-");
        var callerAfter = ThreadStats.Snapshot(prefix: null);
        into.HostCpuMicrosecondsPerRequest.Add((hostAfter.CpuNanoseconds - hostBefore.CpuNanoseconds) / 1000.0 / requests);
        into.HostBlocksPerRequest.Add((hostAfter.VoluntarySwitches - hostBefore.VoluntarySwitches) / (double)requests);
        into.CallerCpuMicrosecondsPerRequest.Add((callerAfter.CpuNanoseconds - callerBefore.CpuNanoseconds) / 1000.0 / requests);
        into.CallerBlocksPerRequest.Add((callerAfter.VoluntarySwitches - callerBefore.VoluntarySwitches) / (double)requests);
        into.PeakThreads.Add(sampler.Peak);
        if (sampler.NewThreads is { Length: > 0 } newThreads)
        {
            into.NewThreads.Add(newThreads);
        }

        into.MicrosecondsPerRequest.Add(clock.Elapsed.TotalMicroseconds / requests);
        into.ThreadsBefore.Add(threadsBefore);
        into.ThreadsAfter.Add(ProcessThreads());
        into.HostWorkersBefore.Add(hostWorkersBefore);
        into.HostWorkersAfter.Add(workload.Host.GetStatistics().Workers);
        into.DedicatedThreadsStarted += workload.DedicatedThreadsStarted - dedicatedBefore;
        into.OnHost += Volatile.Read(ref s_onHost) - onHostBefore;
        into.Elsewhere += Volatile.Read(ref s_elsewhere) - elsewhereBefore;
    }

    private static int ProcessThreads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static string Range(List<int> values) =>
        values.Min() == values.Max() ? values.Min().ToString(CultureInfo.InvariantCulture) : $"{values.Min()}–{values.Max()}";

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(fraction * sorted.Length))];
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
