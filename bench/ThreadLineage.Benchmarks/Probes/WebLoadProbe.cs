using System.Diagnostics;
using System.Globalization;
using ThreadLineage.Benchmarks.Goals;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- web-load [clients] [seconds] [rounds]</c>: the web demo in each <c>RequestPools:Mode</c> (borrowed, dedicated,
/// shared), each in its own child process on 127.0.0.1, under a closed-loop load: <c>clients</c> (16) concurrent
/// clients each sending <c>GET /pages/home?components=4</c> as soon as the previous answer arrived, for <c>seconds</c>
/// (5) per mode and round. After a 3-second warm-up per mode, <c>rounds</c> (5) rounds run every mode once, in an order
/// rotated each round, so noise from the rest of the machine falls on all of them. Prints requests/s, p50/p99 latency,
/// the server's CPU per request and its most threads, the CPU and parks per request of its <c>request-workers</c> threads (Linux), per round and per mode, and the ratio of each mode's requests/s
/// to shared's.
/// </summary>
/// <remarks>
/// The load generator shares the machine with the servers (2 cores here), so requests/s is what the server gets with
/// whatever CPU the clients leave it; it is the same for every mode. Traffic never leaves the loopback interface, and
/// every loop ends by itself at its deadline.
/// </remarks>
internal static class WebLoadProbe
{
    private const string PagePath = "/pages/home?components=4";

    // The web demo's process-wide pool: the host of the borrowed mode, the pool of the shared mode, idle in dedicated mode.
    private const string RequestWorkers = "request-workers-";
    private static readonly string[] s_modes = ["borrowed", "dedicated", "shared"];
    private static readonly TimeSpan s_warmup = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(string[] args)
    {
        var clients = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 16;
        var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 5;
        var rounds = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 5;
        var window = TimeSpan.FromSeconds(seconds);
        ProbeReport.Header($"Web load: GET {PagePath}, {clients} concurrent clients, {seconds:0.#} s per mode and round, {rounds} rounds, modes {string.Join(", ", s_modes)}");

        var servers = new List<WebDemoProcess>();
        var httpClients = new List<HttpClient>();
        try
        {
            foreach (var mode in s_modes)
            {
                var server = await WebDemoProcess.StartAsync(mode).ConfigureAwait(false);
                servers.Add(server);
                if (server.Address.Host != "127.0.0.1")
                {
                    throw new InvalidOperationException($"The web demo listens on {server.Address}, not on 127.0.0.1: no load is sent.");
                }

                httpClients.Add(new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = clients })
                {
                    BaseAddress = server.Address,
                    Timeout = s_requestTimeout,
                });
            }

            for (var m = 0; m < s_modes.Length; m++)
            {
                await LoadAsync(servers[m], httpClients[m], clients, s_warmup, round: 0).ConfigureAwait(false);
            }

            var windows = new List<LoadWindow>();
            for (var round = 1; round <= rounds; round++)
            {
                for (var k = 0; k < s_modes.Length; k++)
                {
                    var m = (k + round - 1) % s_modes.Length;
                    windows.Add(await LoadAsync(servers[m], httpClients[m], clients, window, round).ConfigureAwait(false));
                }
            }

            Report(windows, rounds);
            foreach (var server in servers.Where(static s => s.StandardError.Length > 0))
            {
                Console.WriteLine($"Standard error of the {server.Mode} server:{Environment.NewLine}{server.StandardError}");
            }
        }
        finally
        {
            foreach (var client in httpClients)
            {
                client.Dispose();
            }

            foreach (var server in servers)
            {
                server.Dispose();
            }
        }
    }

    private static async Task<LoadWindow> LoadAsync(WebDemoProcess server, HttpClient client, int clients, TimeSpan duration, int round)
    {
        var cpuBefore = server.CpuTime;
        var hostBefore = ThreadStats.Snapshot(server.ProcessId, RequestWorkers);
        var groupsBefore = ThreadStats.CpuByName(server.ProcessId);
        var threadsMax = server.Threads;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                threadsMax = Math.Max(threadsMax, server.Threads);
                try
                {
                    await Task.Delay(50, sampling.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });

        var started = Stopwatch.GetTimestamp();
        var deadline = started + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, clients).Select(_ => Task.Run(() => ClientLoopAsync(client, deadline))).ToArray();
        var results = await Task.WhenAll(loops).ConfigureAwait(false);
        var elapsed = Stopwatch.GetElapsedTime(started);
        await sampling.CancelAsync().ConfigureAwait(false);
        await sampler.ConfigureAwait(false);
        var hostAfter = ThreadStats.Snapshot(server.ProcessId, RequestWorkers);
        var groupsAfter = ThreadStats.CpuByName(server.ProcessId);

        return new LoadWindow(
            server.Mode,
            round,
            results.Sum(static r => r.Latencies.Count),
            results.Sum(static r => r.Failed),
            [.. results.SelectMany(static r => r.Latencies)],
            elapsed,
            server.CpuTime - cpuBefore,
            threadsMax,
            hostAfter.CpuNanoseconds - hostBefore.CpuNanoseconds,
            hostAfter.VoluntarySwitches - hostBefore.VoluntarySwitches,
            groupsAfter.ToDictionary(static g => g.Key, g => Math.Max(0, g.Value - groupsBefore.GetValueOrDefault(g.Key))));
    }

    private static async Task<(List<double> Latencies, int Failed)> ClientLoopAsync(HttpClient client, long deadline)
    {
        var latencies = new List<double>();
        var failed = 0;
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var response = await client.GetAsync(PagePath, HttpCompletionOption.ResponseContentRead).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
                }
                else
                {
                    failed++;
                }
            }
            catch (HttpRequestException)
            {
                failed++;
            }
            catch (TaskCanceledException)
            {
                // HttpClient.Timeout.
                failed++;
            }
        }

        return (latencies, failed);
    }

    private static void Report(List<LoadWindow> windows, int rounds)
    {
        Console.WriteLine("## Per round");
        Console.WriteLine();
        ProbeReport.Table(
            ["Round", "Mode", "Requests/s", "p50 (ms)", "p99 (ms)", "Failed", "Server CPU per request (µs)", "request-workers CPU per request (µs)", "request-workers parks per request", "Server threads (max)"],
            windows.Select(static w => (IReadOnlyList<string>)
            [
                w.Round.ToString(CultureInfo.InvariantCulture),
                w.Mode,
                F0(w.RequestsPerSecond),
                Ms(Percentile(w.LatenciesMicroseconds, 0.50)),
                Ms(Percentile(w.LatenciesMicroseconds, 0.99)),
                w.Failed.ToString(CultureInfo.InvariantCulture),
                F0(w.ServerCpuMicrosecondsPerRequest),
                F0(w.HostCpuMicrosecondsPerRequest),
                w.HostBlocksPerRequest.ToString("0.00", CultureInfo.InvariantCulture),
                w.ServerThreadsMax.ToString(CultureInfo.InvariantCulture),
            ]));

        // Ratios per round (the modes of one round ran back to back), then their median.
        double RatioToShared(string mode) => Median(
            Enumerable.Range(1, rounds)
                .Select(r => windows.Single(w => w.Round == r && w.Mode == mode).RequestsPerSecond / windows.Single(w => w.Round == r && w.Mode == "shared").RequestsPerSecond)
                .ToArray());

        Console.WriteLine("## Per mode");
        Console.WriteLine();
        ProbeReport.Table(
            ["Mode", "Requests/s (median of rounds)", "p50 (ms, all rounds)", "p99 (ms, all rounds)", "Failed", "Server CPU per request (µs, median)", "request-workers CPU per request (µs, median)", "request-workers parks per request (median)", "Server threads (max)", "Requests/s ÷ shared's (median of rounds)"],
            s_modes.Select(mode =>
            {
                var mine = windows.Where(w => w.Mode == mode).ToList();
                var latencies = mine.SelectMany(static w => w.LatenciesMicroseconds).ToArray();
                return (IReadOnlyList<string>)
                [
                    mode,
                    F0(Median([.. mine.Select(static w => w.RequestsPerSecond)])),
                    Ms(Percentile(latencies, 0.50)),
                    Ms(Percentile(latencies, 0.99)),
                    mine.Sum(static w => w.Failed).ToString(CultureInfo.InvariantCulture),
                    F0(Median([.. mine.Select(static w => w.ServerCpuMicrosecondsPerRequest)])),
                    F0(Median([.. mine.Select(static w => w.HostCpuMicrosecondsPerRequest)])),
                    Median([.. mine.Select(static w => w.HostBlocksPerRequest)]).ToString("0.00", CultureInfo.InvariantCulture),
                    mine.Max(static w => w.ServerThreadsMax).ToString(CultureInfo.InvariantCulture),
                    RatioToShared(mode).ToString("0.00", CultureInfo.InvariantCulture),
                ];
            }));

        // Where the server's CPU goes, per request: each group of threads (names alike but for numbers), then what the
        // groups do not account for (threads that exited during the window: the dedicated mode's per-request threads).
        var groups = windows.SelectMany(static w => w.CpuByThreads.Keys).Distinct()
            .Select(g => (Group: g, PerMode: s_modes.Select(mode => Median([.. windows.Where(w => w.Mode == mode).Select(w => w.CpuByThreads.GetValueOrDefault(g) / 1000.0 / Math.Max(1, w.Succeeded))])).ToArray()))
            .Where(static g => g.PerMode.Max() >= 0.5)
            .OrderByDescending(static g => g.PerMode.Max())
            .ToList();
        var rest = s_modes.Select(mode => Median([.. windows.Where(w => w.Mode == mode).Select(static w => (w.ServerCpu.TotalMicroseconds - (w.CpuByThreads.Values.Sum() / 1000.0)) / Math.Max(1, w.Succeeded))])).ToArray();
        Console.WriteLine("## Server CPU per request by thread (µs, median of rounds; groups under 0.5 µs left out)");
        Console.WriteLine();
        ProbeReport.Table(
            ["Threads", .. s_modes],
            groups.Select(static g => (IReadOnlyList<string>)[g.Group, .. g.PerMode.Select(F1)])
                .Append(["Threads that exited during the window, and rounding", .. rest.Select(F1)]));

        var perRound = Enumerable.Range(1, rounds).Select(r =>
            (windows.Single(w => w.Round == r && w.Mode == "borrowed").RequestsPerSecond / windows.Single(w => w.Round == r && w.Mode == "shared").RequestsPerSecond)
                .ToString("0.00", CultureInfo.InvariantCulture));
        Measured.Record("web.borrowed", RatioToShared("borrowed"));
        Measured.Record("web.dedicated", RatioToShared("dedicated"));
        Console.WriteLine($"borrowed / shared requests/s: {RatioToShared("borrowed").ToString("0.00", CultureInfo.InvariantCulture)} (median; per round: {string.Join(", ", perRound)})");
    }

    private static double Percentile(double[] values, double fraction)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)(fraction * sorted.Length))];
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    private static string F1(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    private static string F0(double value) => value.ToString("0", CultureInfo.InvariantCulture);

    private static string Ms(double microseconds) => (microseconds / 1000).ToString("0.00", CultureInfo.InvariantCulture);
}
