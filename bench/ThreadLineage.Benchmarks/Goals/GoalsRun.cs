using System.Globalization;
using System.Text;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Parameters;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using ThreadLineage.Benchmarks.Pools;
using ThreadLineage.Benchmarks.Probes;
using ThreadLineage.Benchmarks.Resolution;

namespace ThreadLineage.Benchmarks.Goals;

/// <summary>
/// <c>-- goals [--job short|default|dry]</c>: every performance goal of docs/performance.md measured in one run. The
/// BenchmarkDotNet classes the goals need, then the probe modes, then one table: each goal, what it compares, the
/// ratio measured in this run and whether it is met. Written to the console and to
/// <c>BenchmarkDotNet.Artifacts/results/goals.md</c>.
/// </summary>
/// <remarks>
/// Ratios use BenchmarkDotNet's median per operation (the machines this runs on are noisy). Throughput ratios are
/// "competitor time ÷ ours" (higher is better for the library); cost ratios are "ours ÷ baseline" (lower is better).
/// </remarks>
internal static class GoalsRun
{
    private static readonly Type[] s_classes =
    [
        typeof(ThroughputBenchmarks),
        typeof(ResolutionBenchmarks),
        typeof(ManyPoolsBenchmarks),
        typeof(PerRequestPoolBenchmarks),
        typeof(BorrowerThroughputBenchmarks),
        typeof(ScopeAwaitBenchmarks),
        typeof(ScopeBenchmarks),
    ];

    public static async Task RunAsync(string[] args)
    {
        var jobName = args.Length > 1 && args[0] == "--job" ? args[1] : "default";
        var job = jobName switch
        {
            "short" => Job.ShortRun,
            "dry" => Job.Dry,
            "default" => Job.Default,
            _ => throw new ArgumentException($"Unknown job '{jobName}': use short, default or dry.", nameof(args)),
        };

        var config = DefaultConfig.Instance.AddJob(job);
        var results = new Results(BenchmarkRunner.Run(s_classes, config));

        // The probes after BenchmarkDotNet, which runs each case in a process of its own: nothing else runs meanwhile.
        LatencyProbe.Run([jobName == "dry" ? "500" : "10000"]);
        IdleCpuProbe.Run();
        AllocationProbe.Run([jobName == "dry" ? "100000" : "1000000"]);
        PerRequestProbe.Run(jobName == "dry" ? ["200", "1"] : ["2000", "5"]);
        ManyBorrowersProbe.Run(jobName == "dry" ? ["1000", "1"] : ["10000", "3"]);
        await WebLoadProbe.RunAsync(jobName == "dry" ? ["16", "1", "1"] : ["16", "5", "5"]).ConfigureAwait(false);

        var report = Report(results, jobName);
        Console.WriteLine(report);
        var directory = Path.Combine("BenchmarkDotNet.Artifacts", "results");
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "goals.md"), report).ConfigureAwait(false);
    }

    private static string Report(Results r, string jobName)
    {
        var rows = new List<Goal>();

        foreach (var producers in new[] { 1, 2 })
        {
            var p = $"Producers={producers}";
            var plain = $"{p},AsyncLocalSet=False";
            var flowing = $"{p},AsyncLocalSet=True";
            rows.Add(Goal.AtLeast(
                $"`Submit` ≥ 1.2× `Task.Run` ({producers} producer{(producers == 1 ? "" : "s")})",
                r.Ratio("ThroughputBenchmarks", "TaskRun", "Submit", plain),
                1.2,
                $"Task.Run {r.Ns("ThroughputBenchmarks", "TaskRun", plain)} ÷ Submit {r.Ns("ThroughputBenchmarks", "Submit", plain)}"));
            rows.Add(Goal.AtLeast(
                $"`AsyncLocal` set: `Submit` keeps ≥ 0.85× its default-context throughput ({producers} producer{(producers == 1 ? "" : "s")})",
                r.Ratio("ThroughputBenchmarks", "Submit", "Submit", plain, flowing),
                0.85,
                $"Submit {r.Ns("ThroughputBenchmarks", "Submit", plain)} ÷ with AsyncLocal {r.Ns("ThroughputBenchmarks", "Submit", flowing)}"));
            rows.Add(Goal.AtLeast(
                $"`Post` ≥ 1.0× `ActionBlock` (DOP 2, {producers} producer{(producers == 1 ? "" : "s")})",
                r.Ratio("ThroughputBenchmarks", "ActionBlock", "Post", plain),
                1.0,
                $"ActionBlock {r.Ns("ThroughputBenchmarks", "ActionBlock", plain)} ÷ Post {r.Ns("ThroughputBenchmarks", "Post", plain)}"));
        }

        // One object is the returned task: a Task plus the pool's fields. A second object would add at least 24 bytes.
        var submitBytes = Measured.Get("alloc.ThreadPoolManager.Submit(Action)");
        var taskRunBytes = Measured.Get("alloc.Task.Run");
        rows.Add(new Goal(
            "`Submit`: one allocation per item (the returned task), default context",
            submitBytes is { } sb && taskRunBytes is { } tb ? $"{sb:0} B/item (Task.Run {tb:0} B)" : "not measured",
            submitBytes is { } s1 && taskRunBytes is { } t1 ? s1 <= t1 + 32 + 1 : null,
            "whole-process bytes per item (alloc probe); met when at most Task.Run's task + 32 B (the pool's fields; a second object would add at least 24 B more), give or take 1 B of stray allocations in the whole-process count"));
        var submitFlowBytes = Measured.Get("alloc.ThreadPoolManager.Submit(Action).asynclocal");
        rows.Add(new Goal(
            "`Submit`: one allocation per item, `AsyncLocal` set",
            submitFlowBytes is { } sf && submitBytes is { } s2 ? $"{sf:0} B/item ({sf - s2:+0;-0;0} B against the default context)" : "not measured",
            submitFlowBytes is { } sf2 && submitBytes is { } s3 ? sf2 <= s3 : null,
            Measured.Get("alloc.reference.suppressflow.asynclocal") is { } suppress && Measured.Get("alloc.reference.task.asynclocal") is { } task
                ? $"the captured context kept in the item itself, not in a side object; with this AsyncLocal a `new Task` is {task:0} B and `SuppressFlow` + `Undo` (the public way to create a task that captures nothing) allocates {suppress:0} B itself"
                : "the captured context kept in the item itself, not in a side object"));
        var postBytes = Measured.Get("alloc.ThreadPoolManager.Post(Action)");
        rows.Add(new Goal("`Post`: 0 B per item", postBytes is { } pb ? $"{pb:0.0} B/item" : "not measured", postBytes is { } pb2 ? pb2 < 0.5 : null, "alloc probe"));

        var depth1 = r.Ratio("ResolutionBenchmarks", "DictionaryLookup", "GetManager", "Depth=1", inverse: true);
        rows.Add(Goal.AtMost(
            "`GetManager` ≤ 1.5× `ConcurrentDictionary.TryGetValue` (depth 1)",
            depth1,
            1.5,
            $"GetManager {r.Ns("ResolutionBenchmarks", "GetManager", "Depth=1")} ÷ dictionary {r.Ns("ResolutionBenchmarks", "DictionaryLookup", "Depth=1")}, {r.Bytes("ResolutionBenchmarks", "GetManager", "Depth=1")}"));
        rows.Add(Goal.AtMost(
            "`GetManager` depth 64 ≤ 1.5× depth 1",
            r.Ratio("ResolutionBenchmarks", "GetManager", "GetManager", "Depth=64", "Depth=1", inverse: true),
            1.5,
            $"{r.Ns("ResolutionBenchmarks", "GetManager", "Depth=64")} ÷ {r.Ns("ResolutionBenchmarks", "GetManager", "Depth=1")}"));

        rows.Add(Goal.AtLeast("64 busy managers ≥ 0.8× one (`Post`)", r.Ratio("ManyPoolsBenchmarks", "PostOne", "PostMany"), 0.8, $"{r.Ns("ManyPoolsBenchmarks", "PostOne")} ÷ {r.Ns("ManyPoolsBenchmarks", "PostMany")}"));
        rows.Add(Goal.AtLeast("64 busy managers ≥ 0.8× one (`Submit`)", r.Ratio("ManyPoolsBenchmarks", "SubmitOne", "SubmitMany"), 0.8, $"{r.Ns("ManyPoolsBenchmarks", "SubmitOne")} ÷ {r.Ns("ManyPoolsBenchmarks", "SubmitMany")}"));
        var idle = Measured.Get("idle-cpu.managers");
        rows.Add(new Goal("64 idle managers < 1% of a core", idle is { } i ? $"{i:0.000}% (worst 2 s window; no manager: {Measured.Get("idle-cpu.none"):0.000}%)" : "not measured", idle is { } i2 ? i2 < 1 : null, "idle-cpu probe"));

        foreach (var mode in new[] { "spinning", "parked" })
        {
            var baseline = Measured.Get($"latency.{mode}.Task.Run (baseline)");
            var submit = Measured.Get($"latency.{mode}.ThreadPoolManager.Submit");
            rows.Add(Goal.AtMost(
                $"Submit-to-start p50 ≤ `Task.Run`'s ({mode})",
                submit / baseline,
                1.0,
                $"{submit:0.0} µs ÷ {baseline:0.0} µs"));
        }

        rows.Add(Goal.AtMost(
            "Per-request borrowing pool ≤ 2× the shared pool",
            r.Ratio("PerRequestPoolBenchmarks", "Shared", "Borrowed", inverse: true),
            2.0,
            $"{r.Ns("PerRequestPoolBenchmarks", "Borrowed")} ÷ {r.Ns("PerRequestPoolBenchmarks", "Shared")} (dedicated: {r.Ns("PerRequestPoolBenchmarks", "Dedicated")})"));
        var extra = Measured.Get("per-request.borrowed.extra-threads");
        rows.Add(new Goal("Per-request borrowing pool: 0 threads created per request", extra is { } e ? $"{e:0} extra threads at most while borrowing requests ran" : "not measured", extra is { } e2 ? e2 <= 0 : null, "per-request probe"));
        rows.Add(Goal.AtLeast("Borrower `Submit` ≥ 0.8× `Submit` on its host", r.Ratio("BorrowerThroughputBenchmarks", "SubmitHost", "SubmitBorrower"), 0.8, $"{r.Ns("BorrowerThroughputBenchmarks", "SubmitHost")} ÷ {r.Ns("BorrowerThroughputBenchmarks", "SubmitBorrower")}"));
        var web = Measured.Get("web.borrowed");
        rows.Add(Goal.AtLeast("Web page with a borrowing per-request pool ≥ 0.8× the shared pool's requests/s", web, 0.8, $"median of rounds (dedicated: {Measured.Get("web.dedicated"):0.00}×)"));
        var threadsAdded = Measured.Get("many-borrowers.threads-added");
        var bytesEach = Measured.Get("many-borrowers.bytes-each-started");
        var cpuWith = Measured.Get("many-borrowers.cpu-with");
        var cpuWithout = Measured.Get("many-borrowers.cpu-without");
        rows.Add(new Goal("10,000 idle borrowers: 0 extra threads", threadsAdded is { } ta ? $"{ta:0} threads added" : "not measured", threadsAdded is { } ta2 ? ta2 <= 0 : null, "many-borrowers probe, worst round"));
        rows.Add(new Goal("10,000 idle borrowers: ≤ 1 KB each", bytesEach is { } be ? $"{be:0} B each" : "not measured", bytesEach is { } be2 ? be2 <= 1024 : null, "GC.GetTotalMemory deltas ÷ count, worst round"));
        rows.Add(new Goal(
            "10,000 idle borrowers: no measurable CPU",
            cpuWith is { } cw && cpuWithout is { } co ? $"{cw:0.000}% with them, {co:0.000}% without (worst 2 s windows)" : "not measured",
            cpuWith is { } cw2 && cpuWithout is { } co2 ? cw2 <= co2 + 0.1 : null,
            "met when the worst window with them is within 0.1 point of the worst without"));

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"# Goals ({jobName} job, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC)");
        text.AppendLine();
        text.AppendLine("| Goal | Ratio | Measured | Verdict |");
        text.AppendLine("|---|---:|---|---|");
        foreach (var goal in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {goal.Name} | {goal.Ratio} | {goal.Detail} | {goal.Verdict} |");
        }

        text.AppendLine();
        text.AppendLine("Reported, no goal: the cost a lineage scope adds to unrelated async code (16 await hops per operation).");
        text.AppendLine();
        text.AppendLine("| Case | Median | ÷ nothing set | Allocated |");
        text.AppendLine("|---|---:|---:|---:|");
        foreach (var method in new[] { "NothingSet", "PlainAsyncLocal", "AsyncLocalWithHandler", "InsideLineageScope", "InsideOpenScope" })
        {
            var ratio = r.Ratio("ScopeAwaitBenchmarks", "NothingSet", method, inverse: true);
            text.AppendLine(CultureInfo.InvariantCulture, $"| {method} | {r.Ns("ScopeAwaitBenchmarks", method)} | {Format(ratio)} | {r.Bytes("ScopeAwaitBenchmarks", method)} |");
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Beginning and ending an empty scope: {r.Ns("ScopeBenchmarks", "BeginAndEndScope")} ({r.Bytes("ScopeBenchmarks", "BeginAndEndScope")}), " +
            $"{Format(r.Ratio("ScopeBenchmarks", "AsyncLocalSetAndReset", "BeginAndEndScope", inverse: true))} setting and resetting an AsyncLocal with a change handler ({r.Ns("ScopeBenchmarks", "AsyncLocalSetAndReset")}).");
        return text.ToString();
    }

    private static string Format(double? ratio) => ratio is { } value ? value.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "n/a";

    /// <summary>One goal's row.</summary>
    private sealed record Goal(string Name, string Ratio, bool? Met, string Detail)
    {
        public string Verdict => Met switch { true => "met", false => "**missed**", null => "not measured" };

        public static Goal AtLeast(string name, double? ratio, double goal, string detail) =>
            new(name, Format(ratio), ratio is { } value ? value >= goal : null, detail);

        public static Goal AtMost(string name, double? ratio, double goal, string detail) =>
            new(name, Format(ratio), ratio is { } value ? value <= goal : null, detail);
    }

    /// <summary>The BenchmarkDotNet reports of the run, by class, method and parameters.</summary>
    private sealed class Results(Summary[] summaries)
    {
        /// <summary>Gets baseline ÷ subject (or subject ÷ baseline when <paramref name="inverse"/>) of the medians.</summary>
        public double? Ratio(string type, string baseline, string subject, string parameters = "", string? subjectParameters = null, bool inverse = false)
        {
            var b = Median(type, baseline, parameters);
            var s = Median(type, subject, subjectParameters ?? parameters);
            return b is { } bv && s is { } sv && sv > 0 && bv > 0 ? (inverse ? sv / bv : bv / sv) : null;
        }

        public string Ns(string type, string method, string parameters = "") =>
            Median(type, method, parameters) is { } ns
                ? ns >= 1_000 ? $"{ns / 1000:0.00} µs" : $"{ns:0.0} ns"
                : "n/a";

        public string Bytes(string type, string method, string parameters = "") =>
            Find(type, method, parameters) is { } report && report.GcStats.GetBytesAllocatedPerOperation(report.BenchmarkCase) is { } bytes
                ? $"{bytes} B"
                : "n/a";

        private double? Median(string type, string method, string parameters) => Find(type, method, parameters)?.ResultStatistics?.Median;

        private BenchmarkReport? Find(string type, string method, string parameters) =>
            summaries.SelectMany(static s => s.Reports).FirstOrDefault(report =>
                report.BenchmarkCase.Descriptor.Type.Name == type
                && report.BenchmarkCase.Descriptor.WorkloadMethod.Name == method
                && Matches(report.BenchmarkCase.Parameters, parameters));

        // "Producers=1,AsyncLocalSet=False": every named parameter has that value (printed invariantly).
        private static bool Matches(ParameterInstances instances, string parameters) =>
            parameters.Split(',', StringSplitOptions.RemoveEmptyEntries).All(pair =>
            {
                var (name, value) = (pair[..pair.IndexOf('=', StringComparison.Ordinal)], pair[(pair.IndexOf('=', StringComparison.Ordinal) + 1)..]);
                return instances.Items.Any(p => p.Name == name && string.Equals(Convert.ToString(p.Value, CultureInfo.InvariantCulture), value, StringComparison.OrdinalIgnoreCase));
            });
    }
}
