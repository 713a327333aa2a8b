using System.Diagnostics;
using System.Globalization;
using ThreadLineage.Benchmarks.Competitors;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- profile &lt;submit|post|submit-borrower|post-borrower|submit-many|post-many|taskrun|channel&gt; [seconds] [asynclocal]</c>: a steady
/// loop of the throughput workload (batches of a million no-op items, 2 workers, 1 producer) for a profiler to attach
/// to, e.g. <c>DOTNET_PerfMapEnabled=1 perf record -g</c>. Prints items/s per batch, and at the end the CPU time per
/// item of the producer, the workers and the rest of the process (Linux), leaving out the first two batches.
/// </summary>
/// <remarks>
/// The <c>-borrower</c> kinds submit to a manager that borrows the 2 workers (<c>WorkersFrom</c>, <c>MaxWorkers</c> 2),
/// as <c>BorrowerThroughputBenchmarks</c> does: the workers are the same threads, running the borrower's turns. The
/// <c>-many</c> kinds go round-robin over 64 managers of 2 workers each, as <c>ManyPoolsBenchmarks</c> does.
/// </remarks>
internal static class ProfileProbe
{
    private const int Batch = 1_000_000;

    public static void Run(string[] args)
    {
        var target = args.Length > 0 ? args[0] : "submit";
        var seconds = args.Length > 1 ? double.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        var asyncLocal = args.Length > 2 && args[2] == "asynclocal";

        using var countdown = new Countdown();
        // On the root, so that the borrower's WorkersFrom resolves it.
        using var manager = Lineage.Root.GetOrCreateManager("profile");
        manager.Start(2);
        using var borrower = new ThreadPoolManager("profile-borrower");
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkersFrom = "profile" });
        using var channelPool = new ChannelPool(2);
        var many = target.EndsWith("-many", StringComparison.Ordinal)
            ? Enumerable.Range(0, 64).Select(i => new ThreadPoolManager($"profile-many-{i}")).ToArray()
            : [];
        foreach (var pool in many)
        {
            pool.Start(2);
        }

        var next = 0;
        var signal = countdown.SignalAction;
        Action submitOne = target switch
        {
            "submit" => () => _ = manager.Submit(signal),
            "post" => () => manager.Post(signal),
            "submit-borrower" => () => _ = borrower.Submit(signal),
            "post-borrower" => () => borrower.Post(signal),
            "submit-many" => () => _ = many[next++ & 63].Submit(signal),
            "post-many" => () => many[next++ & 63].Post(signal),
            "taskrun" => () => _ = Task.Run(signal),
            "channel" => () => _ = channelPool.Submit(signal),
            _ => throw new ArgumentException($"Unknown profile target '{target}': use submit, post, submit-borrower, post-borrower, submit-many, post-many, taskrun or channel."),
        };

        Console.WriteLine($"profiling {target} for {seconds} s (pid {Environment.ProcessId}), AsyncLocal set: {asyncLocal}");
        FlowValue.Apply(asyncLocal);
        // Workers: the manager's ("profile-N"), the channel pool's, and the shared pool's for Task.Run.
        string[] workerNames = ["profile-", "channel-pool-", ".NET TP Worker"];
        var total = Stopwatch.StartNew();
        var cpuBefore = ThreadCpu.Snapshot(workerNames);
        long measuredItems = 0;
        var warmupBatches = 2;
        while (total.Elapsed.TotalSeconds < seconds)
        {
            var batch = Stopwatch.StartNew();
            countdown.Reset(Batch);
            for (var i = 0; i < Batch; i++)
            {
                submitOne();
            }

            // How far the workers lag when the producer is done: a long backlog means items survive GCs.
            var backlog = (target.EndsWith("-borrower", StringComparison.Ordinal) ? borrower : manager).GetStatistics().QueuedItems;
            var produced = batch.Elapsed;
            countdown.Wait();
            if (warmupBatches-- == 0)
            {
                cpuBefore = ThreadCpu.Snapshot(workerNames);
                measuredItems = 0;
            }

            measuredItems += Batch;
            var lag = target is "submit" or "post" or "submit-borrower" or "post-borrower" ? $"; manager backlog then: {backlog:N0}" : "";
            if (many.Length > 0)
            {
                lag = $"; backlog of the 64 managers then: {many.Sum(m => m.GetStatistics().QueuedItems):N0}";
            }
            Console.WriteLine(
                $"{Batch / batch.Elapsed.TotalSeconds:N0} items/s ({batch.Elapsed.TotalNanoseconds / Batch:0} ns/item; " +
                $"producing took {produced.TotalNanoseconds / Batch:0} ns/item{lag})");
        }

        FlowValue.Apply(false);
        if (ThreadCpu.IsSupported && measuredItems > 0 && warmupBatches < 0)
        {
            var cpuAfter = ThreadCpu.Snapshot(workerNames);
            Console.WriteLine("CPU ns/item: " + string.Join(", ", cpuAfter.Select(g =>
                $"{g.Key} {(g.Value - cpuBefore[g.Key]) * 1e6 / measuredItems:0}")));
        }

        foreach (var pool in many)
        {
            pool.Dispose();
        }
    }
}
