using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Seeded chaos: producers submit every kind of work while controllers stop, cancel, restart, resize and dispose the
/// pool at random (see <see cref="ChaosRun"/>); a seeded share of the iterations test a borrowing manager, its host,
/// sometimes a second borrower and a borrower of the borrower, with the host's lifecycle and scope disposals in the mix.
/// Invariants: every returned task is final within a bounded time; after the final stop Completed + Faulted + Canceled
/// equals the tasks returned plus the posts accepted, for each manager; no worker thread survives; no more threads run
/// a manager's items at once than the largest MaxWorkers it was given; no exception escapes but the documented ones.
/// </summary>
/// <remarks>
/// Replay: <c>CHAOS_SEED=&lt;seed&gt;</c> runs the iterations that seed starts; <c>CHAOS_EXCLUDE=precanceled,dispose,…</c>
/// leaves categories of operations out to isolate a failure (categories: mistyped, async, post, latecanceled,
/// precanceled, scheduler, nested, stop, stopcancel, stopasync, start, resize, dispose; for borrowed iterations:
/// borrowed (none at all), secondborrower, nestedborrower, hostcontrol (no lifecycle operation on the host), scope);
/// <c>CHAOS_ITERATION_SEED=&lt;iteration seed&gt;</c> repeats one iteration (with the long run's size when
/// <c>THREADLINEAGE_CHAOS_MINUTES</c> is set). The long run is opt-in: <c>THREADLINEAGE_CHAOS_MINUTES=&lt;minutes&gt;</c>;
/// <c>THREADLINEAGE_CHAOS_PROGRESS=&lt;file&gt;</c> records its progress (docs/reliability.md, "Running and replaying").
/// </remarks>
public sealed class ChaosTests(ITestOutputHelper output)
{
    private const int ShortIterations = 24;
    private const int ShortOpsPerThread = 250;
    private const int LongOpsPerThread = 4000;

    [Fact]
    public void Chaos_ShortRun_EveryTaskFinal_CountersConserved_NoWorkerSurvives()
    {
        var seed = SeedFromEnvironment() ?? Environment.TickCount;
        var totals = RunIterations(seed, ShortIterations, ShortOpsPerThread, deadline: null);
        output.WriteLine(totals.Summary());
        Assert.True(totals.Failure is null, $"{totals.Summary()}{Environment.NewLine}{totals.Failure}{Environment.NewLine}{totals.Examples()}");
    }

    [Fact]
    public void Chaos_WithoutTheCancelFastPath_ShortRun_EveryTaskFinal_CountersConserved_NoWorkerSurvives()
    {
        // The same invariants where the runtime lacks Task.InternalCancel: submissions carry tokens of their own.
        var seed = SeedFromEnvironment() ?? Environment.TickCount;
        var totals = RunIterations(seed, ShortIterations / 3, ShortOpsPerThread, deadline: null, withoutFastPath: true);
        output.WriteLine(totals.Summary());
        Assert.True(totals.Failure is null, $"{totals.Summary()}{Environment.NewLine}{totals.Failure}{Environment.NewLine}{totals.Examples()}");
    }

    [SkippableFact]
    public void Chaos_LongRun_WhenThreadLineageChaosMinutesIsSet()
    {
        var minutes = Environment.GetEnvironmentVariable("THREADLINEAGE_CHAOS_MINUTES");
        Skip.If(
            string.IsNullOrEmpty(minutes),
            "The long chaos run is opt-in: set THREADLINEAGE_CHAOS_MINUTES=<minutes> (docs/reliability.md has the command).");

        var seed = SeedFromEnvironment() ?? Environment.TickCount;
        var deadline = Stopwatch.StartNew();
        var limit = TimeSpan.FromMinutes(double.Parse(minutes!, CultureInfo.InvariantCulture));
        var totals = RunIterations(seed, int.MaxValue, LongOpsPerThread, () => deadline.Elapsed >= limit);
        output.WriteLine(totals.Summary());
        Assert.True(totals.Failure is null, $"{totals.Summary()}{Environment.NewLine}{totals.Failure}{Environment.NewLine}{totals.Examples()}");
    }

    private static Totals RunIterations(int seed, int iterations, int opsPerThread, Func<bool>? deadline, bool withoutFastPath = false)
    {
        var excluded = (Environment.GetEnvironmentVariable("CHAOS_EXCLUDE") ?? "")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .ToHashSet(StringComparer.Ordinal);
        var progress = Environment.GetEnvironmentVariable("THREADLINEAGE_CHAOS_PROGRESS");
        var totals = new Totals(seed, excluded);
        var clock = Stopwatch.StartNew();
        var nextReport = TimeSpan.FromMinutes(1);
        // CHAOS_ITERATION_SEED replays one failing iteration over and over (its interleaving is the machine's).
        var only = int.TryParse(Environment.GetEnvironmentVariable("CHAOS_ITERATION_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var fixedSeed)
            ? fixedSeed
            : (int?)null;
        for (var i = 0; i < iterations && deadline?.Invoke() != true; i++)
        {
            var iterationSeed = only ?? ChaosRun.Mix(seed, i);
            using var run = new ChaosRun(iterationSeed, i, opsPerThread, excluded, withoutFastPath);
            if (progress is not null)
            {
                // The iteration in progress, overwritten each time: if the process has to be killed, it names the culprit.
                File.WriteAllText(progress + ".current", $"{DateTime.UtcNow:O} iteration {i}, iteration seed {iterationSeed}: {run.Describe()}{Environment.NewLine}");
            }

            run.Run();
            totals.Add(run);
            if (run.Violations.Count > 0)
            {
                // Keep going: the tallies by kind (lost tasks, hangs, counters, threads, exceptions) say more than the
                // first failure alone; the first failing iteration is reported in full.
                totals.Failed(run.Violations, $"iteration {i}, iteration seed {iterationSeed}, {run.Describe()}");
                totals.Failure ??=
                    $"Chaos iteration {i} violated the contract. Replay: CHAOS_SEED={seed} (iteration {i}, iteration seed {iterationSeed})" +
                    $"{(excluded.Count > 0 ? $", CHAOS_EXCLUDE={string.Join(',', excluded)}" : "")}.{Environment.NewLine}" +
                    $"Configuration: {run.Describe()}.{Environment.NewLine}" +
                    string.Join(Environment.NewLine, run.Violations.Take(12).Select(static v => "  - " + v));
                if (progress is not null)
                {
                    // At once: a run that is later killed (a hang no bounded wait could break) still names its failures.
                    File.AppendAllText(progress, $"{DateTime.UtcNow:O} iteration {i} (iteration seed {iterationSeed}) failed: {run.Describe()}{Environment.NewLine}" +
                        string.Join(Environment.NewLine, run.Violations.Take(12).Select(static v => "  - " + v)) + Environment.NewLine);
                }
            }

            if (progress is not null && clock.Elapsed >= nextReport)
            {
                nextReport += TimeSpan.FromMinutes(1);
                totals.Elapsed = clock.Elapsed;
                File.AppendAllText(progress, $"{DateTime.UtcNow:O} {totals.Summary()}{Environment.NewLine}");
            }
        }

        totals.Elapsed = clock.Elapsed;
        if (progress is not null)
        {
            File.AppendAllText(progress, $"{DateTime.UtcNow:O} done: {totals.Summary()}{Environment.NewLine}{totals.Failure}{Environment.NewLine}{totals.Examples()}{Environment.NewLine}");
        }

        return totals;
    }

    private static int? SeedFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable("CHAOS_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : null;

    private sealed class Totals(int seed, HashSet<string> excluded)
    {
        public int Iterations { get; private set; }

        public long Items { get; private set; }

        public long Runs { get; private set; }

        public long LifecycleOps { get; private set; }

        public long Refusals { get; private set; }

        public long Threads { get; private set; }

        public long LostTasks { get; private set; }

        public long Hangs { get; private set; }

        public int BorrowedIterations { get; private set; }

        public long BorrowerItems { get; private set; }

        public long HostOps { get; private set; }

        public long HostRefusals { get; private set; }

        public long ScopeDisposals { get; private set; }

        public int Borrowers { get; private set; }

        public int BorrowersAtLimit { get; private set; }

        public string? Failure { get; set; }

        public SortedDictionary<string, long> ViolationsByKind { get; } = new(StringComparer.Ordinal);

        public int FailedIterations { get; private set; }

        /// <summary>Gets the first violation of each kind, with the iteration that showed it.</summary>
        public SortedDictionary<string, string> FirstOfKind { get; } = new(StringComparer.Ordinal);

        public void Failed(IEnumerable<string> violations, string where)
        {
            FailedIterations++;
            foreach (var violation in violations)
            {
                var colon = violation.IndexOf(':', StringComparison.Ordinal);
                var kind = colon > 0 ? violation[..colon] : "OTHER";
                ViolationsByKind[kind] = ViolationsByKind.GetValueOrDefault(kind) + 1;
                FirstOfKind.TryAdd(kind, $"{violation} [{where}]");
            }
        }

        public string Examples() =>
            string.Join(Environment.NewLine, FirstOfKind.Select(static p => $"first {p.Key}: {p.Value}"));

        public TimeSpan Elapsed { get; set; }

        public void Add(ChaosRun run)
        {
            Iterations++;
            Items += run.ItemsAccepted;
            Runs += run.Runs;
            LifecycleOps += run.LifecycleOps;
            Refusals += run.Refusals;
            Threads += run.Producers + run.Controllers;
            LostTasks += run.LostTasks;
            Hangs += run.Hangs;
            if (run.Borrowed)
            {
                BorrowedIterations++;
                BorrowerItems += run.BorrowerItems;
                HostOps += run.HostOps;
                HostRefusals += run.HostRefusals;
                ScopeDisposals += run.ScopeDisposals;
                var (borrowers, atLimit) = run.BorrowerPeaks;
                Borrowers += borrowers;
                BorrowersAtLimit += atLimit;
            }
        }

        public string Summary() =>
            $"chaos seed {seed}{(excluded.Count > 0 ? $" (excluding {string.Join(',', excluded)})" : "")}: {Iterations} iterations, " +
            $"{Items:N0} items accepted (tasks + posts), {Runs:N0} pool runs started, {LifecycleOps:N0} lifecycle operations, " +
            $"{Refusals:N0} documented refusals, {Threads:N0} chaos threads, " +
            $"{BorrowedIterations} borrowed iterations ({BorrowerItems:N0} items accepted by borrowers, {HostOps:N0} lifecycle operations on hosts, " +
            $"{HostRefusals:N0} borrower starts refused for want of a running host, {ScopeDisposals:N0} scope disposals, " +
            $"{BorrowersAtLimit} of {Borrowers} borrowers ran as many items at once as their largest MaxWorkers), " +
            $"{(Failure is null ? "0 violations" : $"{FailedIterations} failing iterations, violations by kind: {string.Join(", ", ViolationsByKind.Select(static p => $"{p.Key} {p.Value}"))}")}, " +
            $"{LostTasks} tasks lost, {Hangs} hangs, " +
            $"{Elapsed.TotalSeconds:F1}s, peak working set {Process.GetCurrentProcess().PeakWorkingSet64 / (1024 * 1024)} MB";
    }
}
