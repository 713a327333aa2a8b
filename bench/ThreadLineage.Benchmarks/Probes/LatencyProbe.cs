using System.Diagnostics;
using System.Globalization;
using ThreadLineage.Benchmarks.Competitors;
using ThreadLineage.Benchmarks.Goals;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- latency [samples]</c>: submit-to-start latency of one item at a time on an idle pool, as percentiles
/// (BenchmarkDotNet reports means, which hide the tail).
/// </summary>
/// <remarks>
/// A sample is the <see cref="Stopwatch"/> timestamp taken first thing inside the work minus the one taken just
/// before the submit call. "Spinning": the next item is submitted as soon as the previous one has run, so the
/// workers are still warm (spinning or just parked). "Parked": the producer sleeps about 1 ms between items, so
/// every worker has blocked. Rounds alternate between the competitors so that noise from other processes on
/// the machine is spread over all of them.
/// </remarks>
internal static class LatencyProbe
{
    private const int Rounds = 5;
    private const int WarmupSamples = 500;

    private static long s_started;
    private static int s_done;

    public static void Run(string[] args)
    {
        var samples = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10_000;
        ProbeReport.Header($"Submit-to-start latency, idle pools with 2 workers, {samples} sequential items per competitor");

        using var manager = new ThreadPoolManager("latency");
        manager.Start(2);
        using var channelPool = new ChannelPool(2);

        Action work = static () =>
        {
            Volatile.Write(ref s_started, Stopwatch.GetTimestamp());
            Volatile.Write(ref s_done, 1);
        };

        var competitors = new (string Name, Action<Action> Submit)[]
        {
            ("Task.Run (baseline)", static w => _ = Task.Run(w)),
            ("ThreadPoolManager.Submit", w => _ = manager.Submit(w)),
            ("ThreadPoolManager.Post", w => manager.Post(w)),
            ("Channel + 2 threads", w => _ = channelPool.Submit(w)),
        };

        foreach (var parked in new[] { false, true })
        {
            var results = competitors.Select(static _ => new List<double>()).ToArray();
            foreach (var (_, submit) in competitors)
            {
                Measure(submit, work, WarmupSamples, parked, into: null);
            }

            for (var round = 0; round < Rounds; round++)
            {
                for (var c = 0; c < competitors.Length; c++)
                {
                    Measure(competitors[c].Submit, work, samples / Rounds, parked, results[c]);
                }
            }

            Console.WriteLine(parked ? "## Parked (about 1 ms between items)" : "## Spinning (next item as soon as the previous ran)");
            Console.WriteLine();
            var baseline = Percentile(results[0], 0.50);
            for (var c = 0; c < competitors.Length; c++)
            {
                Measured.Record($"latency.{(parked ? "parked" : "spinning")}.{competitors[c].Name}", Percentile(results[c], 0.50));
            }

            ProbeReport.Table(
                ["Competitor", "p50 (µs)", "p90 (µs)", "p99 (µs)", "max (µs)", "p50 / Task.Run"],
                competitors.Select((c, i) => (IReadOnlyList<string>)
                [
                    c.Name,
                    Format(Percentile(results[i], 0.50)),
                    Format(Percentile(results[i], 0.90)),
                    Format(Percentile(results[i], 0.99)),
                    Format(results[i].Max()),
                    (Percentile(results[i], 0.50) / baseline).ToString("0.00", CultureInfo.InvariantCulture),
                ]));
        }
    }

    private static void Measure(Action<Action> submit, Action work, int count, bool parked, List<double>? into)
    {
        for (var i = 0; i < count; i++)
        {
            Volatile.Write(ref s_done, 0);
            if (parked)
            {
                Thread.Sleep(1);
            }

            var submitted = Stopwatch.GetTimestamp();
            submit(work);
            var spinner = default(SpinWait);
            while (Volatile.Read(ref s_done) == 0)
            {
                // Never Sleep(1) here: that would turn a spinning run into a parked one.
                spinner.SpinOnce(sleep1Threshold: -1);
            }

            into?.Add(Stopwatch.GetElapsedTime(submitted, Volatile.Read(ref s_started)).TotalMicroseconds);
        }
    }

    private static double Percentile(List<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(fraction * sorted.Length))];
    }

    private static string Format(double microseconds) => microseconds.ToString("0.0", CultureInfo.InvariantCulture);
}
