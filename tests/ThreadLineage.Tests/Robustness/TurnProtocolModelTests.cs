using System.Text.RegularExpressions;
using Xunit.Abstractions;
using Checks = ThreadLineage.Tests.Robustness.TurnProtocolModel.Checks;
using Variant = ThreadLineage.Tests.Robustness.TurnProtocolModel.Variant;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Exhaustive interleavings of <see cref="TurnProtocolModel"/>, a step-by-step model of the borrower turn protocol
/// (BorrowedRun.cs) and the admission gate and the stop (PoolRun.cs).
/// </summary>
/// <remarks>
/// <para>
/// The code since 83b214a (the current code) keeps every invariant in every configuration explored here: every queued item has a turn
/// (I1), the limit holds (I2), <c>Exited</c> completes exactly once after a stop and never while an accepted item is
/// queued, running, about to be enqueued or held by a stop that cancels it (I3), and nothing is accepted after the
/// gate closed (I4). See <see cref="Explore_CurrentCode_KeepsEveryInvariant"/> and, for larger configurations,
/// <see cref="Explore_LargerConfigurations_WhenThreadLineageModelLargeIsSet"/>.
/// </para>
/// <para>
/// The two violations of I3 the checker found in the code before 83b214a are kept as variants, and the checker still
/// finds them: <c>IsQuiet</c> read <c>_turns</c> before the queue (<see cref="Variant.TurnsReadFirst"/>: the run
/// finished while an item ran), and a stop that canceled what was queued did not count as a drainer
/// (<see cref="Variant.CancelWithoutDrainerCount"/>: the run finished while the stop held an item it took). Broken
/// variants of the current code show that each part of the protocol is needed.
/// </para>
/// <para>
/// Three behaviours are allowed, not invariants, and the tests pin them down (see the remarks of
/// <see cref="TurnProtocolModel"/>): a turn may take a slot after the run finished, from a host thread's
/// <c>ReleaseTurn</c> or from the stopper's <c>OnDrainOutsideRunnersEnded</c> (harmless: the default checks prove
/// that no item is queued or runs once <c>Exited</c> completed); and the gate may close while a stop that cancels
/// holds an item it took (the run does not finish meanwhile, but a continuation put back is refused and runs off the pool).
/// </para>
/// </remarks>
public sealed class TurnProtocolModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1, 1, 1, 1, 2, 0, 1, false)]
    [InlineData(1, 1, 1, 2, 1, 0, 1, false)]
    [InlineData(1, 2, 1, 2, 1, 0, 1, false)]
    [InlineData(1, 1, 2, 2, 1, 0, 1, false)]
    [InlineData(2, 1, 2, 1, 2, 0, 1, false)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, false)]
    [InlineData(1, 1, 1, 2, 2, 0, 0, false)]
    [InlineData(1, 1, 1, 1, 2, 0, 1, true)]
    [InlineData(1, 1, 1, 2, 1, 0, 1, true)]
    [InlineData(2, 1, 2, 1, 2, 0, 1, true)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, true)]
    [InlineData(1, 1, 1, 0, 0, 1, 2, true)]
    public void Explore_CurrentCode_KeepsEveryInvariant(
        int limit, int turnLength, int hosts, int submitters, int itemsPerSubmitter, int continuations, int stoppers, bool cancelPending)
    {
        // Every check (I1-I4 and the accounting), including "not finished while an item still runs" and "not
        // finished while a stop that cancels holds an item it took", which the code before 83b214a broke (below).
        var result = new TurnProtocolModel(limit, turnLength, hosts, submitters, itemsPerSubmitter, continuations, stoppers: stoppers, cancelPending: cancelPending).Explore();
        ProtocolModelAssert.NoViolation(output, result);
    }

    [Theory]
    [InlineData(2, 1, 2, 1, 2, 1, false)]
    [InlineData(2, 1, 2, 2, 1, 1, false)]
    [InlineData(2, 2, 2, 2, 1, 0, false)]
    [InlineData(1, 1, 1, 1, 2, 1, false)]
    [InlineData(1, 2, 2, 2, 1, 1, false)]
    [InlineData(1, 1, 1, 1, 2, 1, true)]
    [InlineData(2, 1, 2, 1, 2, 1, true)]
    public void Explore_CurrentCode_ItemsBlockForever_NoItemWithoutATurn(
        int limit, int turnLength, int hosts, int submitters, int itemsPerSubmitter, int stoppers, bool cancelPending)
    {
        // Items never return, so no turn ever ends. With L and H at least the number of items ((2, 1, 2, ...),
        // (2, 2, 2, ...)) a stuck state must have an empty queue; with fewer, items may wait behind blocked turns,
        // but never with no turn at all.
        var result = new TurnProtocolModel(limit, turnLength, hosts, submitters, itemsPerSubmitter, stoppers: stoppers, itemsBlockForever: true, cancelPending: cancelPending).Explore();
        ProtocolModelAssert.NoViolation(output, result);
    }

    [Theory]
    [InlineData(nameof(Variant.TurnsReadFirst), 1, 1, 1, 2, 1, 0)]
    [InlineData(nameof(Variant.TurnsReadFirst), 1, 1, 1, 1, 1, 1)]
    [InlineData(nameof(Variant.TurnsReadFirst), 1, 1, 2, 2, 1, 0)]
    [InlineData(nameof(Variant.TurnsReadFirst), 1, 4, 1, 2, 1, 0)]
    [InlineData(nameof(Variant.BeforeFix), 1, 1, 1, 2, 1, 0)]
    public void Explore_TurnsReadFirst_CanFinishWhileAnItemStillRuns(
        string variant, int limit, int turnLength, int hosts, int submitters, int itemsPerSubmitter, int continuations)
    {
        // The first violation of I3 in the code before 83b214a
        // (6caab42:BorrowedRun.cs, IsQuiet: "Volatile.Read(ref _turns) == 0 && IsQueueEmpty"): TryFinish reads
        // _turns == 0 while an item is queued without a turn (a ReleaseTurn between its decrement and its
        // TryAddTurn); the ReleaseTurn then takes a slot, its turn takes the item, and TryFinish reads the queue
        // empty: Exited completes and the borrower leaves its host while the item runs. The current code (queue first,
        // BorrowedRun.cs, IsQuiet: "IsQueueEmpty && Volatile.Read(ref _turns) == 0") keeps I3 in these configurations:
        // see Explore_CurrentCode_KeepsEveryInvariant.
        var result = new TurnProtocolModel(limit, turnLength, hosts, submitters, itemsPerSubmitter, continuations, variant: Enum.Parse<Variant>(variant)).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(
            result.Violation is not null && result.Violation.StartsWith("I3 FINISHED EARLY", StringComparison.Ordinal) && result.Violation.Contains("1 run in turns", StringComparison.Ordinal),
            $"expected the run to finish while an item runs. {result.Report}");
        Assert.True(result.Trace.Any(static s => s.Contains("ReleaseTurn re-check: queue not empty", StringComparison.Ordinal)), result.Report);
        Assert.True(result.Trace.Any(static s => s.Contains("TryFinish (after the close) read _turns == 0", StringComparison.Ordinal)), result.Report);
        Assert.Contains("FINISHED: CompleteExited()", result.Trace[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(Variant.CancelWithoutDrainerCount), 1, 1, 1, 1, 2, 0, 1)]
    [InlineData(nameof(Variant.CancelWithoutDrainerCount), 2, 1, 2, 1, 2, 0, 1)]
    [InlineData(nameof(Variant.CancelWithoutDrainerCount), 1, 1, 1, 1, 1, 1, 1)]
    [InlineData(nameof(Variant.CancelWithoutDrainerCount), 1, 1, 1, 0, 0, 1, 2)]
    [InlineData(nameof(Variant.BeforeFix), 1, 1, 1, 1, 2, 0, 1)]
    public void Explore_CancelWithoutDrainerCount_CanFinishWhileTheStopperStillHoldsAnItemItTook(
        string variant, int limit, int turnLength, int hosts, int submitters, int itemsPerSubmitter, int continuations, int stoppers)
    {
        // The second violation of I3 in the code before 83b214a
        // (6caab42:PoolRun.cs, RequestStop: "if (cancelPending) { CancelQueuedSubmissions(); }"): CancelQueuedSubmissions
        // takes items out of the queue before it cancels them (or, continuations, puts them back after the loop).
        // Meanwhile the queue is empty, so a turn's end or an enqueuer leaving the gate finishes the run: Exited
        // completes while the canceled submission is not yet final. The current code counts the stop as an outside
        // drainer (PoolRun.cs, RequestStop: "var drain = BeginDrainOutsideRunners();", "EndDrainOutsideRunners(drain);"),
        // which IsQuiet reads (BorrowedRun.cs, IsQuiet: "!HasOutsideDrainers"), and keeps I3 in these configurations:
        // see Explore_CurrentCode_KeepsEveryInvariant.
        var result = new TurnProtocolModel(limit, turnLength, hosts, submitters, itemsPerSubmitter, continuations, stoppers: stoppers, cancelPending: true, variant: Enum.Parse<Variant>(variant)).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation?.StartsWith("I3 FINISHED WHILE CANCELING", StringComparison.Ordinal), $"expected the run to finish while the stopper holds an item. {result.Report}");
        Assert.True(result.Trace.Any(static s => s.Contains("CancelQueuedSubmissions took an item", StringComparison.Ordinal)), result.Report);
        Assert.Contains("FINISHED: CompleteExited()", result.Trace[^1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(Variant.ReleaseTurnWithoutRecheck), 2, 0, 1, false, "I1 STRANDED ITEM")]
    [InlineData(nameof(Variant.ReleaseTurnWithoutRecheck), 2, 0, 0, false, "I1 STRANDED ITEM")]
    [InlineData(nameof(Variant.FinishWithoutSecondQuietCheck), 2, 0, 1, false, "I3 FINISHED EARLY: Exited completed while 1 item(s) are queued")]
    [InlineData(nameof(Variant.FinishWithoutClosingGate), 1, 1, 1, false, "I3 FINISHED EARLY")]
    [InlineData(nameof(Variant.CancelWithoutDrainerCount), 2, 0, 1, true, "I3 FINISHED WHILE CANCELING")]
    public void Explore_BrokenVariant_FindsTheCounterexample(string variant, int itemsPerSubmitter, int continuations, int stoppers, bool cancelPending, string expected)
    {
        var broken = Enum.Parse<Variant>(variant);
        const int itemsPerContinuation = 1;

        // Proves the checker can fail: the same configuration has no violation with the current code, and the
        // expected one with the breakage (or the old code) applied to it.
        var correct = new TurnProtocolModel(1, 1, 1, 1, itemsPerSubmitter, continuations, itemsPerContinuation, stoppers, cancelPending: cancelPending).Explore();
        output.WriteLine(correct.Summary);
        Assert.True(correct.Violation is null && !correct.StateLimitReached, correct.Report);

        var result = new TurnProtocolModel(1, 1, 1, 1, itemsPerSubmitter, continuations, itemsPerContinuation, stoppers, cancelPending: cancelPending, variant: broken).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(
            result.Violation is not null && result.Violation.StartsWith(expected, StringComparison.Ordinal),
            $"the variant {broken} should give \"{expected}...\", but the checker found {(result.Violation is null ? "no violation" : "another one")}. {result.Report}");
        Assert.NotEmpty(result.Trace);
    }

    [Fact]
    public void Explore_ReleaseTurnWithoutRecheck_StrandsTheItemOfASubmitterThatSawEverySlotTaken()
    {
        var result = new TurnProtocolModel(1, 1, 1, 1, 2, stoppers: 0, variant: Variant.ReleaseTurnWithoutRecheck).Explore();
        output.WriteLine(result.Report);

        // The shortest counterexample: the turn saw the queue empty, the submitter enqueued and saw the only slot
        // taken, then the turn gave its slot back without looking at the queue again.
        Assert.True(result.Violation?.StartsWith("I1 STRANDED ITEM", StringComparison.Ordinal), result.Report);
        var trace = result.Trace.ToList();
        var sawEmpty = trace.FindIndex(static s => s.Contains("RunTurn read the queue: empty", StringComparison.Ordinal) || s.Contains("RunTurn found the queue empty", StringComparison.Ordinal));
        var sawEverySlotTaken = trace.FindIndex(static s => s.Contains("every slot taken", StringComparison.Ordinal));
        var released = trace.FindIndex(static s => s.Contains("[BROKEN: no re-check of the queue]", StringComparison.Ordinal));
        Assert.True(sawEmpty >= 0 && sawEmpty < sawEverySlotTaken && sawEverySlotTaken < released, result.Report);
    }

    [Fact]
    public void Explore_AllowedBehaviour_ReleaseTurnTakesASlotAfterTheRunFinished()
    {
        // Allowed (see the remarks of TurnProtocolModel): a ReleaseTurn that saw the queue not empty
        // (BorrowedRun.cs, ReleaseTurn: "if (!IsQueueEmpty) { TryAddTurn(); }") takes a slot
        // (BorrowedRun.cs, TryAddTurn: "Interlocked.CompareExchange(ref _turns, turns + 1, turns)") after another turn ran
        // that item and finished the run, so a turn is queued on the host after the borrower left it, as the comment in
        // BorrowedRun.cs, QueueTurnOnHost says. The thread runs
        // a host item, so the host cannot have closed under it; the turn finds the queue empty (the default checks,
        // on in this exploration, prove that nothing is queued or runs after Exited) and its TryFinish returns at
        // the exchange.
        var result = new TurnProtocolModel(1, 1, 2, 2, 1, checks: Checks.Default | Checks.NoTurnAfterFinish).Explore();
        output.WriteLine(result.Report);

        Assert.True(result.Violation?.StartsWith("TURN AFTER FINISH:", StringComparison.Ordinal), result.Report);
        // The slot is taken after the finisher's last look at _turns.
        var trace = result.Trace.ToList();
        var recheck = trace.FindLastIndex(static s => s.Contains("ReleaseTurn re-check: queue not empty", StringComparison.Ordinal));
        var lastLook = trace.FindLastIndex(static s => s.Contains("TryFinish (after the close) read _turns == 0", StringComparison.Ordinal));
        var claim = trace.FindLastIndex(static s => Regex.IsMatch(s, @"^\s*\d+\. H\d\s+TryAddTurn took a slot"));
        Assert.True(recheck >= 0 && recheck < lastLook && lastLook < claim, result.Report);
        Assert.Contains("FINISHED: CompleteExited()", string.Join(Environment.NewLine, trace), StringComparison.Ordinal);
    }

    [Fact]
    public void Explore_AllowedBehaviour_StopperTakesASlotAfterTheRunFinished()
    {
        // Allowed (see the remarks of TurnProtocolModel): the stopper's OnDrainOutsideRunnersEnded reads the queue not
        // empty (BorrowedRun.cs, OnDrainOutsideRunnersEnded: "while (!IsQueueEmpty && TryAddTurn())"); a turn runs that
        // item and the run finishes; then the stopper takes a slot and queues a turn, from a thread that runs no item of
        // the host (RequestStop's caller), so the host may have closed meanwhile: the turn then runs on the .NET thread
        // pool (BorrowedRun.cs, QueueTurnOnHost: "ThreadPool.UnsafeQueueUserWorkItem("). Harmless for the same reason: it
        // finds the queue empty.
        var result = new TurnProtocolModel(1, 1, 1, 1, 2, cancelPending: true, checks: Checks.Default | Checks.NoTurnAfterFinishOffHost).Explore();
        output.WriteLine(result.Report);

        Assert.True(result.Violation?.StartsWith("TURN AFTER FINISH OFF THE HOST", StringComparison.Ordinal), result.Report);
        // The stopper saw the item before the finisher's last look at _turns, and took the slot after it.
        var trace = result.Trace.ToList();
        var sawItem = trace.FindIndex(static s => s.Contains("OnDrainOutsideRunnersEnded read the queue: not empty", StringComparison.Ordinal));
        var lastLook = trace.FindLastIndex(static s => s.Contains("TryFinish (after the close) read _turns == 0", StringComparison.Ordinal));
        var claim = trace.FindLastIndex(static s => Regex.IsMatch(s, @"^\s*\d+\. S\d\s+TryAddTurn took a slot"));
        Assert.True(sawItem >= 0 && sawItem < lastLook && lastLook < claim, result.Report);
    }

    [Fact]
    public void Explore_AllowedBehaviour_GateClosesWhileTheStopperHoldsAnItemItTook()
    {
        // Allowed (see the remarks of TurnProtocolModel, and the summary of PoolRun.cs, BeginDrainOutsideRunners since
        // a13294a: the run does not finish while a drainer is at work, but a borrowing run's gate may close): a TryFinish
        // whose first IsQuiet saw no drainer closes the gate after the stopper began its drain
        // (PoolRun.cs, BeginDrainOutsideRunners: "Interlocked.Increment(ref _outsideDrainers);") and took an item. The run
        // does not finish before the drain ends (the default checks, I3 included, hold in this exploration too), but had
        // the item been a continuation, putting it back would be refused by the closed gate and run it off the pool
        // (PoolRun.cs, CancelQueuedSubmissions: "Manager.Scheduler.QueueElsewhereIfClosed(this, (Task)item.Work);").
        var result = new TurnProtocolModel(1, 1, 1, 2, 1, cancelPending: true, checks: Checks.Default | Checks.NotClosedWhileCanceling).Explore();
        output.WriteLine(result.Report);

        Assert.True(result.Violation?.StartsWith("CLOSED WHILE CANCELING", StringComparison.Ordinal), result.Report);
        var trace = result.Trace.ToList();
        var sawNoDrainer = trace.FindIndex(static s => s.Contains("TryFinish read _outsideDrainers == 0", StringComparison.Ordinal));
        var drainBegan = trace.FindIndex(static s => s.Contains("Interlocked.Increment(ref _outsideDrainers)", StringComparison.Ordinal));
        var closed = trace.FindIndex(static s => s.Contains("TryCloseGate CLOSED the gate", StringComparison.Ordinal));
        Assert.True(sawNoDrainer >= 0 && sawNoDrainer < closed && sawNoDrainer < drainBegan, result.Report);
    }

    [SkippableTheory]
    [InlineData(1, 1, 1, 1, 2, 1, 1, 1, false)]
    [InlineData(1, 1, 1, 2, 2, 0, 1, 1, false)]
    [InlineData(2, 2, 2, 2, 1, 0, 1, 1, false)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 2, false)]
    [InlineData(2, 1, 2, 2, 2, 0, 1, 1, false)]
    [InlineData(2, 2, 2, 2, 2, 0, 1, 1, false)]
    [InlineData(2, 1, 2, 1, 1, 1, 1, 2, false)]
    [InlineData(2, 1, 2, 1, 1, 1, 2, 1, false)]
    [InlineData(2, 1, 2, 2, 1, 1, 1, 1, false)]
    [InlineData(2, 1, 2, 3, 1, 0, 1, 1, false)]
    [InlineData(3, 1, 3, 2, 1, 0, 1, 1, false)]
    [InlineData(1, 1, 2, 2, 1, 0, 1, 1, true)]
    [InlineData(1, 1, 1, 1, 1, 0, 1, 2, true)]
    [InlineData(1, 1, 1, 1, 2, 0, 1, 2, true)]
    [InlineData(1, 1, 1, 2, 1, 0, 1, 2, true)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 2, true)]
    [InlineData(2, 1, 2, 1, 1, 1, 1, 1, true)]
    [InlineData(2, 2, 2, 2, 1, 0, 1, 1, true)]
    public void Explore_LargerConfigurations_WhenThreadLineageModelLargeIsSet(
        int limit, int turnLength, int hosts, int submitters, int itemsPerSubmitter, int continuations, int itemsPerContinuation, int stoppers, bool cancelPending)
    {
        Skip.If(
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("THREADLINEAGE_MODEL_LARGE")),
            "The larger models are opt-in (up to about a minute and 2 GB each): set THREADLINEAGE_MODEL_LARGE=1.");

        var result = new TurnProtocolModel(
            limit, turnLength, hosts, submitters, itemsPerSubmitter, continuations, itemsPerContinuation, stoppers, cancelPending: cancelPending).Explore(stateLimit: 50_000_000);
        ProtocolModelAssert.NoViolation(output, result);
    }

    [Fact]
    public void Citations_QuoteTheCurrentSource()
    {
        // Every citation of the code (file.cs, member: "quoted code") still names a member of that file that holds the
        // quoted code: when the code moves or changes, this fails and lists the citations to update.
        ProtocolModelAssert.CitationsQuoteTheCurrentSource(
            output,
            "tests/ThreadLineage.Tests/Robustness/TurnProtocolModel.cs",
            "tests/ThreadLineage.Tests/Robustness/TurnProtocolModelTests.cs");
    }
}
