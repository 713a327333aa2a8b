namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Deterministic reproductions of library bugs the robustness suites found and that are still open (see
/// tests/ThreadLineage.Tests/Robustness/README.md). They fail while the bug is there, and a failing one leaves threads
/// blocked for good, so they run only when asked: <c>THREADLINEAGE_KNOWN_BUGS=1</c>. Once a fix lands, drop the skip and
/// the matching guard of the chaos run (<see cref="ChaosRun.KnownBug"/>).
/// </summary>
public sealed class KnownBugTests
{
    private const string OptIn = "THREADLINEAGE_KNOWN_BUGS";

    /// <summary>
    /// docs/borrowed-workers.md, "Nested waits": a host thread blocked on an item of a borrower of that host runs it.
    /// Not when the thread belongs to the host's previous run (stopped with <c>wait: false</c>, still draining because
    /// this very item runs on it) and the item to the borrower's new run on the host's new run, which waits for the
    /// previous run to drain: nobody can ever run the item. Found by the chaos run (borrowed iterations, CHAOS_SEED=777,
    /// iteration 330, iteration seed 1675593332).
    /// </summary>
    [SkippableTheory]
    [InlineData("nested wait")]
    [InlineData("wait for room")]
    public void NestedWait_FromAThreadOfTheHostsPreviousRun_OnTheBorrowersNewRun_Completes(string variant)
    {
        Skip.IfNot(Environment.GetEnvironmentVariable(OptIn) == "1", $"An open bug (ChaosRun.KnownBug); set {OptIn}=1 to run it.");

        var scope = Lineage.BeginScope("known-bug-nested-wait");
        var hostId = TestIds.New("host");
        var host = Lineage.CreateManager(hostId);
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, IsBackground = true });
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        var options = new ThreadPoolManagerOptions
        {
            MaxWorkers = 1,
            WorkersFrom = hostId,
            QueueCapacity = variant == "wait for room" ? 1 : null,
            QueueFullMode = QueueFullMode.Wait,
        };
        borrower.Start(options);

        using var entered = new Gate();
        using var release = new Gate();
        var outer = borrower.Submit(() =>
        {
            entered.Open();
            release.Wait("the test's restarts");
            if (variant == "wait for room")
            {
                // The new run's only queue slot is taken: the next submission waits for room (QueueFullMode.Wait).
                _ = borrower.Submit(static () => 0);
            }

            return borrower.Submit(static () => 1).Result + 1;
        });
        entered.Wait("the outer item to start on the host's worker");

        host.Stop(wait: false);      // stops the borrower too; the outer item still runs on the host's (previous run's) worker
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, IsBackground = true });
        borrower.Start(options);     // the borrower's new run, on the host's new run
        release.Open();

        var completed = outer.Wait(TimeSpan.FromSeconds(10));
        if (completed)
        {
            scope.Dispose();
        }

        // Otherwise the host's previous worker stays blocked for good (a background thread): disposing the scope would wait for it.
        Assert.True(completed, $"The outer item never completed ({variant}): host {host.GetStatistics()}, borrower {borrower.GetStatistics()}.");
        Assert.Equal(2, outer.Result);
    }
}
