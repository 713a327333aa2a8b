using System.Diagnostics;
using System.Globalization;
using System.Text;
using static ThreadLineage.Tests.Robustness.StateSpaceExplorer;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// A model of the borrower turn protocol (<c>BorrowedRun.TryAddTurn</c>, <c>RunTurn</c>, <c>ReleaseTurn</c>,
/// <c>TryFinish</c> with <c>IsQuiet</c>, <c>OnDrainOutsideRunnersEnded</c> and <c>QueueTurnOnHost</c> in
/// <c>src/ThreadLineage/Pools/BorrowedRun.cs</c>, and the gate and the stop in <c>PoolRun.cs</c>:
/// <c>TryEnterSubmission</c>, <c>ExitGate</c> → <c>OnGateLeftWhileStopping</c>, <c>TryEnqueueInternal</c>,
/// <c>TryCloseGate</c>, <c>RequestStop</c> → <c>BeginDrainOutsideRunners</c>, <c>CancelQueuedSubmissions</c>,
/// <c>EndDrainOutsideRunners</c>, <c>OnStopRequested</c>), whose every interleaving <see cref="StateSpaceExplorer"/>
/// explores. This file holds the model only: the state, the steps of each thread (program counters) and the
/// properties checked.
/// </summary>
/// <remarks>
/// <para>
/// <b>What is modelled.</b> One borrowing run with limit <c>L</c> (MaxWorkers, never resized) and turn length
/// <c>T</c> (<c>TurnLength</c>), on a host of <c>H</c> threads that take entries from the host's queue in FIFO
/// order. The host's own items and wake-ups are left out (the parking protocol has its own model,
/// <see cref="ParkingProtocolModel"/>): a host thread simply takes the next turn entry as soon as one is queued.
/// The host never stops and never closes, so <c>QueueTurnOnHost</c> always succeeds. The threads of the borrower:
/// </para>
/// <list type="bullet">
/// <item><description><c>P</c> submitters (<c>Submit</c>, <c>Post</c>), each submitting <c>K</c> items one after the
/// other: <c>TryEnterSubmission</c>, then, if admitted, <c>Enqueue</c> → <c>OnItemQueued</c> → <c>TryAddTurn</c>,
/// then <c>ExitSubmission</c> → <c>ExitGate</c>. A refused submission only leaves the gate; the submitter then tries
/// its next item (refused too).</description></item>
/// <item><description><c>C</c> internal enqueuers (continuations, scheduler tasks: <c>TryEnqueueInternal</c>), each
/// with its own number of items, which the gate admits after a stop until it closes. They may run at any moment,
/// before or after the stop: more behaviours than real continuations have, which is safe for a check.</description></item>
/// <item><description><c>S</c> stoppers (<c>RequestStop</c>; more than one as when <c>Stop</c> and a canceled
/// <c>StopAsync</c> race), each at a moment of its own: set the gate's stop flag, set the <c>_stopRequested</c>
/// mirror, then, with <c>cancelPending</c>, count itself as an outside drainer (<c>BeginDrainOutsideRunners</c>),
/// take the queued items out one by one and cancel each (<c>CancelQueuedSubmissions</c>; they are modelled as
/// submissions), stop counting itself (<c>EndDrainOutsideRunners</c>) and run <c>OnDrainOutsideRunnersEnded</c> (a
/// turn for each item still queued while a slot is free, then <c>TryFinish</c>); finally <c>OnStopRequested</c> →
/// <c>TryFinish</c>.</description></item>
/// <item><description><c>H</c> host threads, each taking a turn entry from the host's queue and running
/// <c>RunTurn</c>: up to <c>T</c> items, then the next turn or <c>ReleaseTurn</c>.</description></item>
/// </list>
/// <para>
/// Items are interchangeable, so the borrower's queue is its length, and so is the host's queue (it holds this
/// borrower's turns only). The shared state is <c>_gate</c> (its enqueuer count and its <c>StopRequested</c> and
/// <c>Closed</c> flags, in one byte as in the code's one int), <c>_stopRequested</c>, the queue length,
/// <c>_turns</c>, <c>_running</c>, <c>_finished</c>, how many times <c>Exited</c> was completed, the host's queue
/// length and <c>_outsideDrainers</c>. Each thread has a program counter (<see cref="Pc"/>), a count (items left to
/// submit; items run in the current turn; for a stopper, whether the <c>TryFinish</c> it runs is the one of
/// <c>OnDrainOutsideRunnersEnded</c>, which <c>OnStopRequested</c>'s follows) and the value its compare-exchange
/// expects (of <c>_turns</c> or of <c>_gate</c>).
/// </para>
/// <para>
/// <b>Granularity.</b> One step is one interlocked operation or one read of shared state, in the order the code
/// does them; purely local work is folded into the step before it. <c>_queue.Enqueue</c> and
/// <c>_queue.TryDequeue</c> are atomic steps, and so is queueing a turn on the host (PoolRun.cs, TryEnqueueTurn, with
/// the host's own gate and wake-up). Left out because they feed no decision of the protocol: the <c>IsQueueEmpty</c>
/// read after <c>_turns</c> drops to 0 in <c>ReleaseTurn</c>, which only releases idle waiters
/// (BorrowedRun.cs, ReleaseTurn: "if (Interlocked.Decrement(ref _turns) == 0 &amp;&amp; IsQueueEmpty) { ReleaseIdleWaiters(); }"),
/// <c>EnterItems</c>/<c>LeaveItems</c>, the host's <c>_queuedTurns</c>, the creation of the queue on the first enqueue
/// (PoolRun.cs, Enqueue: "if (queue is null)": a reader that finds no queue finds it empty, as it would an empty
/// queue), bounded capacity (<c>ReserveRoom</c>) and idle waiters. Not modelled: borrowers of the borrower
/// (<c>HasOpenBorrowers</c> is constant false and takes no step; no <c>OnBorrowerClosed</c>), <c>Resize</c>, a restart
/// while the previous run drains (<c>_held</c> is constant false and takes no step; no <c>Release</c>), a waiting stop
/// that runs items inline on a host thread (<c>WaitForExit</c> → <c>HelpUntilFinished</c>, which counts as an outside
/// drainer too), the items <c>CancelQueuedSubmissions</c> puts back (continuations and turns: they go back through
/// <c>TryEnqueueInternal</c> and <c>OnItemQueued</c>, the path of the internal enqueuers, or hold a slot already;
/// PoolRun.cs, CancelQueuedSubmissions: "borrower.QueueTurnOnHost();", "Manager.Scheduler.QueueElsewhereIfClosed(this, (Task)item.Work);"),
/// and the fallback of <c>QueueTurnOnHost</c> to the .NET thread pool (the host never closes;
/// BorrowedRun.cs, QueueTurnOnHost: "ThreadPool.UnsafeQueueUserWorkItem("). <c>TryFinish</c>'s own
/// <c>IsStopRequested</c> read (BorrowedRun.cs, TryFinish: "if (!IsStopRequested ||") takes no step, nor does
/// <c>OnDrainOutsideRunnersEnded</c>'s (BorrowedRun.cs, OnDrainOutsideRunnersEnded: "if (IsStopRequested)"): every
/// caller has just read the flag set (or, the stopper, set it), and it never goes back to false. <c>_limit</c> is
/// constant (no <c>Resize</c>), so the <c>_turns &lt;= _limit</c> read of <c>RunTurn</c> always succeeds, but it is
/// still a step.
/// </para>
/// <para>
/// <b>Citations.</b> Each step names the code it models by file (in <c>src/ThreadLineage/Pools</c>), member and, where
/// the member has several steps, quotes of that code in the order it runs, as in
/// BorrowedRun.cs, ReleaseTurn: "Interlocked.Decrement(ref _turns)", "if (!IsQueueEmpty) { TryAddTurn(); }".
/// <see cref="TurnProtocolModelTests.Citations_QuoteTheCurrentSource"/> checks that every quote still occurs in that
/// member (comments removed, each run of whitespace read as one space), so that a citation that no longer matches the
/// code fails a test instead of rotting like a line number. The variants that keep the code before 83b214a cite it at
/// commit 6caab42, as in 6caab42:BorrowedRun.cs, IsQuiet.
/// </para>
/// <para>
/// <b>Running an item.</b> By default an item returns in one step. With <c>itemsBlockForever</c> a host thread that
/// takes an item runs it forever (its turn keeps its slot): then every item needs a slot and a host thread of its
/// own, and the check of a stuck state is weaker (see below) unless both <c>L</c> and <c>H</c> are at least the
/// number of items.
/// </para>
/// <para>
/// <b>Checks.</b> In every reachable state: (I2) <c>_turns &lt;= L</c> and at most <c>L</c> items run in turns
/// at once; (I3) <c>Exited</c> completed at most once, only after a stop, and never while an accepted item is
/// queued, running, about to be enqueued by an admitted enqueuer, or held by a stopper that cancels what is
/// queued; (I4) once the gate is closed no admitted enqueuer is about to enqueue. Accounting, which keeps the model
/// honest: the gate's count equals the enqueuers inside it, <c>_running</c> the host threads inside a turn's loop,
/// <c>_turns</c> the turns that exist (queued on the host, running on a host thread, or claimed by a
/// compare-exchange and about to be queued), and <c>_outsideDrainers</c> the stoppers between their increment and
/// their decrement. In every state where no thread can take a step: (I1) no item is queued, or, with
/// <c>itemsBlockForever</c>, none is queued while no turn exists; (I3) if a stop was requested and no item is
/// blocked, <c>Exited</c> was completed exactly once. <see cref="Checks"/> selects the properties, so that one
/// violation does not hide the others, and adds three that are not invariants of the protocol (below).
/// </para>
/// <para>
/// <b>Findings.</b> The code since 83b214a (the current code) keeps every invariant (I1-I4 and the accounting) in
/// every configuration <see cref="TurnProtocolModelTests"/> explores. The code before it (6caab42, kept as
/// <see cref="Variant.TurnsReadFirst"/> and <see cref="Variant.CancelWithoutDrainerCount"/>) broke I3 twice, and the
/// checker still finds both: <c>IsQuiet</c> read <c>_turns</c> before the queue, so a <c>ReleaseTurn</c> that
/// re-took a slot between the two reads ran the last item unseen (the run finished while the item ran); and a stop
/// that canceled what was queued held the items it took where no <c>IsQuiet</c> saw them (the run finished while a
/// canceled submission was not yet final).
/// </para>
/// <para>
/// <b>Allowed behaviours, not invariants</b> (<see cref="Checks.NoTurnAfterFinish"/>,
/// <see cref="Checks.NoTurnAfterFinishOffHost"/>, <see cref="Checks.NotClosedWhileCanceling"/>: off by default; the
/// tests assert what the checker finds with each). A turn may hold a slot, and be queued on the host, after
/// <c>Exited</c> completed and the borrower left its host: a <c>ReleaseTurn</c> that saw the queue not empty
/// re-takes a slot after another turn ran that item and finished the run, as the comment in
/// BorrowedRun.cs, QueueTurnOnHost says. It is harmless, and the default checks prove why: no item is queued or runs
/// once <c>Exited</c> completed (I3, checked in every state), so the late turn finds the queue empty,
/// gives its slot back, and its <c>TryFinish</c> returns at the exchange (<c>Exited</c> completes once). The same
/// holds for the stopper's <c>OnDrainOutsideRunnersEnded</c>, which can take such a slot too
/// (<see cref="Checks.NoTurnAfterFinishOffHost"/>): it reads the queue not empty, a turn runs that item and the run
/// finishes, then it takes a slot. That thread (<c>RequestStop</c>'s caller) need not run an item of the host, so the
/// host may have closed meanwhile (the comment in <c>QueueTurnOnHost</c> says so since a13294a): the turn then runs on
/// the .NET thread pool (BorrowedRun.cs, QueueTurnOnHost: "ThreadPool.UnsafeQueueUserWorkItem(") and finds the queue
/// empty all the same. And a <c>TryFinish</c> whose first <c>IsQuiet</c> came before the stopper's
/// <c>BeginDrainOutsideRunners</c> can close the gate while the stopper holds an item it took
/// (<see cref="Checks.NotClosedWhileCanceling"/>), as the summary of <c>BeginDrainOutsideRunners</c> says since
/// a13294a (PoolRun.cs, BeginDrainOutsideRunners: the run does not finish while a drainer is at work, but a borrowing
/// run's gate may already have closed). The run does not finish before the drain ends (I3, checked in that exploration
/// too), but a continuation the stopper puts back afterwards is refused by the closed gate and runs off the pool:
/// PoolRun.cs, CancelQueuedSubmissions: "Manager.Scheduler.QueueElsewhereIfClosed(this, (Task)item.Work);" →
/// PoolTaskScheduler.cs, QueueElsewhereIfClosed: "if (!run.TryEnqueueInternal(task)) { RunDetached(task); }".
/// </para>
/// <para>
/// <b>Search.</b> By <see cref="StateSpaceExplorer"/>: breadth first, so a counterexample is a shortest one.
/// Threads of a kind are interchangeable (<see cref="Symmetries"/>), so states are identified up to a permutation of
/// the host threads, of the submitters, of the internal enqueuers and of the stoppers. A counterexample's trace names
/// each thread consistently from start to end.
/// </para>
/// </remarks>
internal sealed class TurnProtocolModel : StateSpaceExplorer.IModel
{
    // A state is a byte array: the shared values, then one block per thread (host threads, submitters, internal
    // enqueuers, stoppers). Counters are read and written as an sbyte (StateSpaceExplorer.Get, Set), so a decrement
    // below zero shows up as a negative value (a violation) instead of wrapping.

    // Shared state.
    private const int GateAt = 0;
    private const int StopMirrorAt = 1;
    private const int QueueAt = 2;
    private const int TurnsAt = 3;
    private const int RunningAt = 4;
    private const int FinishedAt = 5;
    private const int ExitedAt = 6;
    private const int HostQueueAt = 7;
    private const int DrainersAt = 8;
    private const int SharedSize = 9;

    // _gate in one byte, as PoolRun.cs packs it in one int: the enqueuer count, StopRequested, Closed
    // (AdmissionGate.cs, EnqueuersMask: "ClosedFlag - 1"; AdmissionGate.cs, StopRequestedFlag: "1 << 30"; AdmissionGate.cs, ClosedFlag: "1 << 29").
    private const int EnqueuersMask = 0x1F;
    private const int StopRequestedBit = 0x20;
    private const int ClosedBit = 0x40;

    // A thread's block: program counter, a count (items left to submit; items run in this turn; a stopper's
    // InDrainEndFinish), the value its compare-exchange expects.
    private const int BlockSize = 3;
    private const int PcOffset = 0;
    private const int CountOffset = 1;
    private const int SeenOffset = 2;

    // A stopper's count while it runs the TryFinish of OnDrainOutsideRunnersEnded
    // (BorrowedRun.cs, OnDrainOutsideRunnersEnded: "if (IsStopRequested) { TryFinish(); }"): when that returns, OnStopRequested's TryFinish follows
    // (PoolRun.cs, RequestStop: "OnStopRequested();" → BorrowedRun.cs, OnStopRequested: "TryFinish()").
    private const byte InDrainEndFinish = 1;

    private readonly int _limit;
    private readonly int _turnLength;
    private readonly int _hosts;
    private readonly int _submitters;
    private readonly int _itemsPerSubmitter;
    private readonly int _continuations;
    private readonly int _itemsPerContinuation;
    private readonly int _stoppers;
    private readonly bool _itemsBlockForever;
    private readonly bool _cancelPending;
    private readonly Variant _variant;
    private readonly Checks _checks;
    private readonly int _threads;
    private readonly int _stateSize;

    // The reads of IsQuiet in the order the variant does them: the first IsQuiet of TryFinish, and the second.
    private readonly Pc[] _quietReads;
    private readonly Pc[] _quietReadsAgain;

    /// <summary>Creates a model of one borrowing run on <paramref name="hosts"/> host threads.</summary>
    /// <param name="limit">The borrower's MaxWorkers (<c>L</c>): the most turns at once.</param>
    /// <param name="turnLength">Items one turn runs before the next turn is queued (<c>T</c>; the code's <c>TurnLength</c> is 4).</param>
    /// <param name="hosts">Host threads that run turns (<c>H</c>).</param>
    /// <param name="submitters">Threads that submit (<c>P</c>).</param>
    /// <param name="itemsPerSubmitter">Items each submitter submits (<c>K</c>).</param>
    /// <param name="continuations">Threads that enqueue internally (<c>C</c>): admitted after a stop until the gate closes.</param>
    /// <param name="itemsPerContinuation">Items each internal enqueuer enqueues.</param>
    /// <param name="stoppers">Threads that call <c>RequestStop</c> (<c>S</c>), 0 for a run that is never stopped.</param>
    /// <param name="itemsBlockForever">Whether an item, once taken, runs forever (see the remarks).</param>
    /// <param name="cancelPending">Whether the stoppers cancel what is queued (<c>RequestStop(cancelPending: true)</c>).</param>
    /// <param name="variant">The code modelled: the current code, the code before 83b214a, or deliberate breakages.</param>
    /// <param name="checks">The properties checked; by default <see cref="Checks.Default"/>.</param>
    public TurnProtocolModel(
        int limit,
        int turnLength,
        int hosts,
        int submitters,
        int itemsPerSubmitter,
        int continuations = 0,
        int itemsPerContinuation = 1,
        int stoppers = 1,
        bool itemsBlockForever = false,
        bool cancelPending = false,
        Variant variant = Variant.CurrentCode,
        Checks checks = Checks.Default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(turnLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(hosts, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(submitters);
        ArgumentOutOfRangeException.ThrowIfNegative(itemsPerSubmitter);
        ArgumentOutOfRangeException.ThrowIfNegative(continuations);
        ArgumentOutOfRangeException.ThrowIfNegative(itemsPerContinuation);
        ArgumentOutOfRangeException.ThrowIfNegative(stoppers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(limit, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(turnLength, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hosts + submitters + continuations + stoppers, 12);
        ArgumentOutOfRangeException.ThrowIfGreaterThan((submitters * itemsPerSubmitter) + (continuations * itemsPerContinuation), 100);
        _limit = limit;
        _turnLength = turnLength;
        _hosts = hosts;
        _submitters = submitters;
        _itemsPerSubmitter = itemsPerSubmitter;
        _continuations = continuations;
        _itemsPerContinuation = itemsPerContinuation;
        _stoppers = stoppers;
        _itemsBlockForever = itemsBlockForever;
        _cancelPending = cancelPending;
        _variant = variant;
        _checks = checks;
        _threads = hosts + submitters + continuations + stoppers;
        _stateSize = SharedSize + (_threads * BlockSize);

        // BorrowedRun.cs, IsQuiet: "IsQueueEmpty && Volatile.Read(ref _turns) == 0 && !HasOpenBorrowers && !HasOutsideDrainers";
        // before 83b214a _turns first, and no drainer count: 6caab42:BorrowedRun.cs, IsQuiet: "Volatile.Read(ref _turns) == 0 && IsQueueEmpty && !HasOpenBorrowers;".
        var turnsFirst = variant.HasFlag(Variant.TurnsReadFirst);
        var drainers = !variant.HasFlag(Variant.CancelWithoutDrainerCount);
        _quietReads = QuietReads(Pc.FinishReadQueue, Pc.FinishReadTurns, Pc.FinishReadDrainers);
        _quietReadsAgain = QuietReads(Pc.FinishReadQueueAgain, Pc.FinishReadTurnsAgain, Pc.FinishReadDrainersAgain);

        Pc[] QuietReads(Pc queue, Pc turns, Pc outsideDrainers)
        {
            Pc[] first = turnsFirst ? [turns, queue] : [queue, turns];
            return drainers ? [.. first, outsideDrainers] : first;
        }
    }

    /// <summary>The code modelled: the current code (since 83b214a), the code before it, or breakages of it. The changes combine.</summary>
    [Flags]
    public enum Variant
    {
        /// <summary>
        /// The code as it is (since commit 83b214a): <c>IsQuiet</c> reads the queue, then <c>_turns</c>, then
        /// <c>_outsideDrainers</c> (BorrowedRun.cs, IsQuiet), and a stop that cancels what is queued counts itself as an
        /// outside drainer around <c>CancelQueuedSubmissions</c>
        /// (PoolRun.cs, RequestStop: "var drain = BeginDrainOutsideRunners();", "CancelQueuedSubmissions();", "EndDrainOutsideRunners(drain);").
        /// </summary>
        CurrentCode = 0,

        /// <summary>
        /// The order of <c>IsQuiet</c> before 83b214a (6caab42:BorrowedRun.cs, IsQuiet): <c>_turns</c> first, the queue
        /// second (then the drainer count, unless <see cref="CancelWithoutDrainerCount"/>). Between the two reads a
        /// <c>ReleaseTurn</c> that saw the queue not empty can take a slot for a new turn, and that turn can take the
        /// last item, so <c>TryFinish</c> sees a quiet run while the item runs.
        /// </summary>
        TurnsReadFirst = 1,

        /// <summary>
        /// The stop before 83b214a (6caab42:PoolRun.cs, RequestStop: "if (cancelPending) { CancelQueuedSubmissions(); } OnStopRequested();"):
        /// <c>CancelQueuedSubmissions</c> without
        /// <c>BeginDrainOutsideRunners</c>/<c>EndDrainOutsideRunners</c> around it (so no
        /// <c>OnDrainOutsideRunnersEnded</c>), and <c>IsQuiet</c> without <c>!HasOutsideDrainers</c>. While the stopper
        /// holds an item it took, the queue is empty, so the run can finish before the item is canceled.
        /// </summary>
        CancelWithoutDrainerCount = 2,

        /// <summary>The code before 83b214a (as of 6caab42): both of the above.</summary>
        BeforeFix = TurnsReadFirst | CancelWithoutDrainerCount,

        /// <summary>
        /// Broken on purpose: <c>ReleaseTurn</c> without BorrowedRun.cs, ReleaseTurn: "if (!IsQueueEmpty) { TryAddTurn(); }".
        /// A turn that gives its slot back does not look at the queue again, so an item enqueued by a submitter that
        /// saw every slot taken is stranded.
        /// </summary>
        ReleaseTurnWithoutRecheck = 4,

        /// <summary>
        /// Broken on purpose: <c>TryFinish</c> without the second <c>IsQuiet</c> (BorrowedRun.cs, TryFinish: "|| !TryCloseGate() || !IsQuiet)"). An enqueuer
        /// that enqueued and left the gate between the first look and the close has queued an item the finished run
        /// never runs.
        /// </summary>
        FinishWithoutSecondQuietCheck = 8,

        /// <summary>
        /// Broken on purpose: <c>TryFinish</c> without <c>TryCloseGate()</c> (BorrowedRun.cs, TryFinish: "|| !TryCloseGate() ||"). An internal enqueue
        /// is accepted after the run finished.
        /// </summary>
        FinishWithoutClosingGate = 16,
    }

    /// <summary>The properties <see cref="Explore"/> checks; it stops at the first one broken.</summary>
    [Flags]
    public enum Checks
    {
        /// <summary>Nothing (only exploration).</summary>
        None = 0,

        /// <summary>
        /// The model's bookkeeping: no negative counter; the gate's count, <c>_turns</c>, <c>_running</c> and
        /// <c>_outsideDrainers</c> agree with the threads.
        /// </summary>
        Accounting = 1,

        /// <summary>(I1) In a stuck state, no item is queued (with items that block forever: none is queued while no turn exists).</summary>
        NoStrandedItem = 2,

        /// <summary>(I2) <c>_turns &lt;= L</c>, and at most <c>L</c> items run in turns at once.</summary>
        Limit = 4,

        /// <summary>(I3) <c>Exited</c> never completes while an accepted item is queued, running in a turn, or about to be enqueued by an admitted enqueuer.</summary>
        NotFinishedEarly = 8,

        /// <summary>(I3) <c>Exited</c> never completes while a stopper that cancels what is queued holds an item it took from the queue.</summary>
        NotFinishedWhileCanceling = 16,

        /// <summary>(I3) <c>Exited</c> completes at most once, only after a stop, and, in a stuck state after a stop with no item blocked, exactly once.</summary>
        FinishesOnce = 32,

        /// <summary>(I4) Once the gate is closed, no admitted enqueuer is about to enqueue.</summary>
        NothingAcceptedAfterClose = 64,

        /// <summary>
        /// Not an invariant (an allowed behaviour, see the remarks): no turn holds a slot once <c>Exited</c> completed
        /// (and the borrower left its host).
        /// </summary>
        NoTurnAfterFinish = 128,

        /// <summary>
        /// Not an invariant (an allowed behaviour, see the remarks): no turn is claimed, once <c>Exited</c> completed,
        /// by a thread that runs no item of the host (the stopper's
        /// BorrowedRun.cs, OnDrainOutsideRunnersEnded: "while (!IsQueueEmpty &amp;&amp; TryAddTurn())").
        /// </summary>
        NoTurnAfterFinishOffHost = 256,

        /// <summary>
        /// Not an invariant (an allowed behaviour, see the remarks): the gate does not close while a stopper that
        /// cancels what is queued holds an item it took from the queue.
        /// </summary>
        NotClosedWhileCanceling = 512,

        /// <summary>The protocol's invariants (I1-I4) and the accounting.</summary>
        Default = Accounting | NoStrandedItem | Limit | NotFinishedEarly | NotFinishedWhileCanceling | FinishesOnce | NothingAcceptedAfterClose,
    }

    /// <summary>What a thread is.</summary>
    private enum Kind
    {
        Host,
        Submitter,
        Continuation,
        Stopper,
    }

    /// <summary>A thread's program counter: the next shared operation it performs. Each value names the code it models.</summary>
    private enum Pc : byte
    {
        /// <summary>The thread has nothing left to do.</summary>
        Done,

        // ---- Submitter: ThreadPoolManager.Submission.cs, Admit: "run.TryEnterSubmission()" → PoolRun.cs, TryEnterSubmission;
        // ---- internal enqueuer: PoolTaskScheduler.cs, QueueTask: "run.TryEnqueueInternal(task)" → PoolRun.cs, TryEnqueueInternal ----

        /// <summary>
        /// PoolRun.cs, TryEnterSubmission: "_gate.Enter().AdmitsSubmissions" → AdmissionGate.cs, Enter: "Interlocked.Increment(ref _state)"
        /// (internal: PoolRun.cs, TryEnqueueInternal: "_gate.Enter().IsClosed").
        /// </summary>
        EnterGate,

        /// <summary>
        /// PoolRun.cs, EnqueueAdmitted: "Enqueue(WorkItem.ForTask(item," (a post: PoolRun.cs, EnqueuePosted: "Enqueue(WorkItem.ForPosted(";
        /// internal: PoolRun.cs, TryEnqueueInternal: "Enqueue(item);") → PoolRun.cs, Enqueue: "queue.Enqueue(item);", "OnItemQueued();" →
        /// BorrowedRun.cs, OnItemQueued: "TryAddTurn()".
        /// </summary>
        Enqueue,

        /// <summary>
        /// PoolRun.cs, ExitSubmission: "ExitGate()" (refused: PoolRun.cs, TryEnterSubmission: "ExitGate();"; internal:
        /// PoolRun.cs, TryEnqueueInternal: "ExitGate();") → PoolRun.cs, ExitGate: "_gate.Leave();" → AdmissionGate.cs, Leave: "Interlocked.Decrement(ref _state)".
        /// </summary>
        ExitDecrement,

        /// <summary>
        /// PoolRun.cs, ExitGate: "if (_stopRequested) { OnGateLeftWhileStopping(); }" → BorrowedRun.cs, OnGateLeftWhileStopping: "TryFinish()".
        /// </summary>
        ExitReadStop,

        // ---- BorrowedRun.cs, TryAddTurn: "if (_held)" is false. Enqueuers after enqueueing, turns in ReleaseTurn,
        // ---- the stopper in OnDrainOutsideRunnersEnded ----

        /// <summary>BorrowedRun.cs, TryAddTurn: "var turns = Volatile.Read(ref _turns); while (turns &lt; _limit)".</summary>
        AddTurnRead,

        /// <summary>BorrowedRun.cs, TryAddTurn: "var seen = Interlocked.CompareExchange(ref _turns, turns + 1, turns);", "turns = seen;" on failure.</summary>
        AddTurnCas,

        /// <summary>
        /// The turn enters the host's queue: BorrowedRun.cs, TryAddTurn: "QueueTurnOnHost(); return true;" →
        /// BorrowedRun.cs, QueueTurnOnHost: "_host.TryEnqueueTurn(this)".
        /// </summary>
        QueueTurn,

        // ---- Stopper: PoolRun.cs, RequestStop ----

        /// <summary>PoolRun.cs, RequestStop: "_gate.RequestStop();" → AdmissionGate.cs, RequestStop: "Interlocked.Or(ref _state, StopRequestedFlag)".</summary>
        StopSetFlag,

        /// <summary>
        /// Then the cancel and OnStopRequested: PoolRun.cs, RequestStop: "_stopRequested = true;", "if (cancelPending) { var drain", "OnStopRequested();" →
        /// BorrowedRun.cs, OnStopRequested: "TryFinish()".
        /// </summary>
        StopSetMirror,

        /// <summary>
        /// PoolRun.cs, RequestStop: "var drain = BeginDrainOutsideRunners();" →
        /// PoolRun.cs, BeginDrainOutsideRunners: "Interlocked.Increment(ref _outsideDrainers);".
        /// </summary>
        DrainBegin,

        /// <summary>
        /// PoolRun.cs, RequestStop: "CancelQueuedSubmissions();" → PoolRun.cs, CancelQueuedSubmissions: "while (TryDequeue(out var item))" →
        /// PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)".
        /// </summary>
        CancelDequeue,

        /// <summary>
        /// The stopper holds a submission it took from the queue and completes it canceled:
        /// PoolRun.cs, CancelQueuedSubmissions: "RequestCancellation(submission); Manager.Scheduler.Execute(task);".
        /// </summary>
        CancelItem,

        /// <summary>
        /// PoolRun.cs, RequestStop: "EndDrainOutsideRunners(drain);" →
        /// PoolRun.cs, EndDrainOutsideRunners: "Interlocked.Decrement(ref _outsideDrainers);".
        /// </summary>
        DrainEnd,

        /// <summary>
        /// PoolRun.cs, EndDrainOutsideRunners: "OnDrainOutsideRunnersEnded();" →
        /// BorrowedRun.cs, OnDrainOutsideRunnersEnded: "while (!IsQueueEmpty &amp;&amp; TryAddTurn())", "if (IsStopRequested) { TryFinish(); }":
        /// the queue read, then the TryFinish.
        /// </summary>
        DrainEndCheckQueue,

        // ---- Host thread: DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item))", "RunItem(item, workerContext);" →
        // ---- PoolRun.cs, RunItem: "borrower.RunTurn(workerContext);" → BorrowedRun.cs, RunTurn ----

        /// <summary>
        /// The host thread takes the next turn entry from the host's queue (DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item))");
        /// blocked while it is empty.
        /// </summary>
        HostTake,

        /// <summary>BorrowedRun.cs, RunTurn: "Interlocked.Increment(ref _running);".</summary>
        TurnIncrementRunning,

        /// <summary>
        /// BorrowedRun.cs, RunTurn: "&amp;&amp; TryDequeue(out var item))" → PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)".
        /// </summary>
        TurnDequeue,

        /// <summary>A turn that has run TurnLength items reads the host's queue: BorrowedRun.cs, RunTurn: "!_host.HasQueuedWork".</summary>
        TurnReadHostQueue,

        /// <summary>Nobody waits on the host: the limit is read before going on: BorrowedRun.cs, RunTurn: "Volatile.Read(ref _turns) &lt;= _limit))".</summary>
        TurnReadLimitToGoOn,

        /// <summary>BorrowedRun.cs, RunTurn: "RunItem(item, workerContext); ran++;": returns, or runs forever.</summary>
        TurnRunItem,

        /// <summary>BorrowedRun.cs, RunTurn: "Interlocked.Decrement(ref _running);".</summary>
        TurnDecrementRunning,

        /// <summary>The queue read: BorrowedRun.cs, RunTurn: "if (ran &gt;= TurnLength &amp;&amp; !IsQueueEmpty".</summary>
        TurnCheckQueue,

        /// <summary>BorrowedRun.cs, RunTurn: "&amp;&amp; Volatile.Read(ref _turns) &lt;= _limit)".</summary>
        TurnReadTurns,

        /// <summary>
        /// The next turn (same slot) goes to the back of the host's queue: BorrowedRun.cs, RunTurn: "QueueTurnOnHost(); return;" →
        /// BorrowedRun.cs, QueueTurnOnHost: "_host.TryEnqueueTurn(this)".
        /// </summary>
        TurnRequeue,

        /// <summary>BorrowedRun.cs, RunTurn: "ReleaseTurn();" → BorrowedRun.cs, ReleaseTurn: "Interlocked.Decrement(ref _turns)".</summary>
        ReleaseDecrement,

        /// <summary>BorrowedRun.cs, ReleaseTurn: "if (!IsQueueEmpty) { TryAddTurn(); }".</summary>
        ReleaseCheckQueue,

        /// <summary>BorrowedRun.cs, ReleaseTurn: "if (IsStopRequested) { TryFinish(); }".</summary>
        ReleaseReadStop,

        // ---- BorrowedRun.cs, TryFinish with BorrowedRun.cs, IsQuiet and PoolRun.cs, TryCloseGate ----

        /// <summary>BorrowedRun.cs, TryFinish: "|| !IsQuiet ||" → BorrowedRun.cs, IsQuiet: "IsQueueEmpty &amp;&amp;".</summary>
        FinishReadQueue,

        /// <summary>
        /// BorrowedRun.cs, TryFinish: "|| !IsQuiet ||" → BorrowedRun.cs, IsQuiet: "Volatile.Read(ref _turns) == 0", "!HasOpenBorrowers" (constant true).
        /// </summary>
        FinishReadTurns,

        /// <summary>
        /// BorrowedRun.cs, TryFinish: "|| !IsQuiet ||" → BorrowedRun.cs, IsQuiet: "!HasOutsideDrainers" →
        /// PoolRun.cs, HasOutsideDrainers: "Volatile.Read(ref _outsideDrainers) != 0".
        /// </summary>
        FinishReadDrainers,

        /// <summary>
        /// BorrowedRun.cs, TryFinish: "|| !TryCloseGate() ||" →
        /// AdmissionGate.cs, TryCloseWhenEmpty: "var state = Volatile.Read(ref _state); while ((state &amp; ClosedFlag) == 0) { if ((state &amp; EnqueuersMask) != 0) { return false; }".
        /// </summary>
        CloseReadGate,

        /// <summary>
        /// AdmissionGate.cs, TryCloseWhenEmpty: "var seen = Interlocked.CompareExchange(ref _state, state | ClosedFlag, state);", "state = seen;" on failure (and
        /// the loop's tests again).
        /// </summary>
        CloseCas,

        /// <summary>The second: BorrowedRun.cs, TryFinish: "|| !TryCloseGate() || !IsQuiet)" → BorrowedRun.cs, IsQuiet: "IsQueueEmpty &amp;&amp;".</summary>
        FinishReadQueueAgain,

        /// <summary>The second: BorrowedRun.cs, TryFinish: "|| !TryCloseGate() || !IsQuiet)" → BorrowedRun.cs, IsQuiet: "Volatile.Read(ref _turns) == 0".</summary>
        FinishReadTurnsAgain,

        /// <summary>
        /// The second: BorrowedRun.cs, TryFinish: "|| !TryCloseGate() || !IsQuiet)" → BorrowedRun.cs, IsQuiet: "!HasOutsideDrainers" →
        /// PoolRun.cs, HasOutsideDrainers: "Volatile.Read(ref _outsideDrainers) != 0".
        /// </summary>
        FinishReadDrainersAgain,

        /// <summary>BorrowedRun.cs, TryFinish: "if (Interlocked.Exchange(ref _finished, 1) != 0)".</summary>
        FinishExchange,

        /// <summary>BorrowedRun.cs, TryFinish: "CompleteExited(); _host.RemoveBorrower(this);" (PoolRun.cs, CompleteExited).</summary>
        CompleteExited,
    }

    /// <summary>Gets a short description of the configuration, e.g. "L=1 T=1 H=1 P=1×2 C=0×1 S=1 items return".</summary>
    public string Configuration =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"L={_limit} T={_turnLength} H={_hosts} P={_submitters}×{_itemsPerSubmitter} C={_continuations}×{_itemsPerContinuation} S={_stoppers}{(_cancelPending ? " cancelPending" : string.Empty)} items {(_itemsBlockForever ? "block forever" : "return")}{(_variant == Variant.CurrentCode ? string.Empty : " [" + _variant + "]")}{(_checks == Checks.Default ? string.Empty : " checks: " + _checks)}");

    /// <summary>Gets the number of threads: the host threads (H0, ...), the submitters (P0, ...), the internal enqueuers (C0, ...), the stoppers (S0, ...).</summary>
    public int Threads => _threads;

    /// <summary>Gets the kind of terminal state counted apart: those in which the run had finished.</summary>
    public string CountedTerminalKind => "finished";

    /// <summary>
    /// Explores every reachable state (<see cref="StateSpaceExplorer.Explore"/>), breadth first, and stops at the
    /// first violation of a checked property.
    /// </summary>
    /// <param name="stateLimit">Gives up after this many distinct states (the result then says <see cref="Exploration.StateLimitReached"/>).</param>
    public Exploration Explore(int stateLimit = StateSpaceExplorer.DefaultStateLimit) => new StateSpaceExplorer(this).Explore(stateLimit);

    /// <inheritdoc/>
    public byte[] InitialState()
    {
        var state = new byte[_stateSize];
        for (var thread = 0; thread < _threads; thread++)
        {
            var at = BlockAt(thread);
            switch (KindOf(thread))
            {
                case Kind.Host:
                    state[at + PcOffset] = (byte)Pc.HostTake;
                    break;
                case Kind.Submitter:
                    state[at + PcOffset] = (byte)(_itemsPerSubmitter > 0 ? Pc.EnterGate : Pc.Done);
                    state[at + CountOffset] = (byte)_itemsPerSubmitter;
                    break;
                case Kind.Continuation:
                    state[at + PcOffset] = (byte)(_itemsPerContinuation > 0 ? Pc.EnterGate : Pc.Done);
                    state[at + CountOffset] = (byte)_itemsPerContinuation;
                    break;
                default:
                    state[at + PcOffset] = (byte)Pc.StopSetFlag;
                    break;
            }
        }

        return state;
    }

    /// <summary>Gets whether the run had finished (<c>Exited</c> completed) in a terminal state.</summary>
    public bool IsCountedTerminal(byte[] state) => Get(state, ExitedAt) > 0;

    private Kind KindOf(int thread) =>
        thread < _hosts ? Kind.Host
        : thread < _hosts + _submitters ? Kind.Submitter
        : thread < _hosts + _submitters + _continuations ? Kind.Continuation
        : Kind.Stopper;

    private static int BlockAt(int thread) => SharedSize + (thread * BlockSize);

    private static int Get(byte[] state, int at) => (sbyte)state[at];

    private static void Set(byte[] state, int at, int value) => state[at] = unchecked((byte)(sbyte)value);

    private static int Enqueuers(int gate) => gate & EnqueuersMask;

    /// <inheritdoc/>
    public string ThreadName(int thread) =>
        KindOf(thread) switch
        {
            Kind.Host => string.Create(CultureInfo.InvariantCulture, $"H{thread}"),
            Kind.Submitter => string.Create(CultureInfo.InvariantCulture, $"P{thread - _hosts}"),
            Kind.Continuation => string.Create(CultureInfo.InvariantCulture, $"C{thread - _hosts - _submitters}"),
            _ => string.Create(CultureInfo.InvariantCulture, $"S{thread - _hosts - _submitters - _continuations}"),
        };

    /// <summary>Adds the steps thread <paramref name="thread"/> can take in <paramref name="state"/> (none if it is blocked or done).</summary>
    public void Successors(byte[] state, int thread, List<Transition> output)
    {
        var kind = KindOf(thread);
        var at = BlockAt(thread);
        var pc = (Pc)state[at + PcOffset];
        if (pc == Pc.Done || (pc == Pc.HostTake && Get(state, HostQueueAt) == 0) || (pc == Pc.TurnRunItem && _itemsBlockForever))
        {
            // Done; or blocked: a host thread waits for a turn entry, or runs an item that never returns.
            return;
        }

        var next = Copy(state);
        string what;
        switch (pc)
        {
            case Pc.EnterGate:
            {
                // Submission: refused by StopRequested or Closed (PoolRun.cs, TryEnterSubmission: "_gate.Enter().AdmitsSubmissions"; AdmissionGate.cs, AdmitsSubmissions: "(value & (StopRequestedFlag | ClosedFlag)) == 0");
                // internal: refused by Closed only (PoolRun.cs, TryEnqueueInternal: "_gate.Enter().IsClosed"; AdmissionGate.cs, IsClosed: "(value & ClosedFlag) != 0").
                var gate = state[GateAt] + 1;
                next[GateAt] = (byte)gate;
                var refusedBy = kind == Kind.Submitter ? StopRequestedBit | ClosedBit : ClosedBit;
                if ((gate & refusedBy) == 0)
                {
                    Jump(next, at, Pc.Enqueue);
                    what = kind == Kind.Submitter
                        ? "entered the gate: Interlocked.Increment(ref _gate) saw no flag → admitted (PoolRun.cs, TryEnterSubmission)"
                        : "entered the gate: Interlocked.Increment(ref _gate) saw no Closed → admitted (PoolRun.cs, TryEnqueueInternal)";
                }
                else
                {
                    Jump(next, at, Pc.ExitDecrement);
                    what = kind == Kind.Submitter
                        ? "Interlocked.Increment(ref _gate) saw a flag → REFUSED, leaves the gate (PoolRun.cs, TryEnterSubmission)"
                        : "Interlocked.Increment(ref _gate) saw Closed → REFUSED, leaves the gate (PoolRun.cs, TryEnqueueInternal)";
                }

                break;
            }

            case Pc.Enqueue:
                // PoolRun.cs, Enqueue: "queue.Enqueue(item); OnItemQueued();" → BorrowedRun.cs, OnItemQueued: "TryAddTurn()".
                Set(next, QueueAt, Get(state, QueueAt) + 1);
                Jump(next, at, Pc.AddTurnRead);
                what = "enqueued an item: queue.Enqueue (PoolRun.cs, Enqueue) → TryAddTurn (BorrowedRun.cs, OnItemQueued)";
                break;

            case Pc.ExitDecrement:
                // PoolRun.cs, ExitGate: "_gate.Leave();" → AdmissionGate.cs, Leave: "Interlocked.Decrement(ref _state)".
                next[GateAt] = (byte)(state[GateAt] - 1);
                Jump(next, at, Pc.ExitReadStop);
                what = "leaves the gate: Interlocked.Decrement(ref _gate) (PoolRun.cs, ExitGate)";
                break;

            case Pc.ExitReadStop:
            {
                // PoolRun.cs, ExitGate: "if (_stopRequested) { OnGateLeftWhileStopping(); }" → BorrowedRun.cs, OnGateLeftWhileStopping: "TryFinish()".
                var stopping = state[StopMirrorAt] != 0;
                if (stopping)
                {
                    Jump(next, at, _quietReads[0]);
                }
                else
                {
                    NextSubmission(next, at);
                }

                what = stopping
                    ? "ExitGate read _stopRequested == true → TryFinish (PoolRun.cs, ExitGate → BorrowedRun.cs, OnGateLeftWhileStopping)"
                    : "ExitGate read _stopRequested == false (PoolRun.cs, ExitGate)";
                break;
            }

            case Pc.AddTurnRead:
            {
                // BorrowedRun.cs, TryAddTurn: "var turns = Volatile.Read(ref _turns); while (turns < _limit)", "return false;" (when the loop does not run).
                var turns = Get(state, TurnsAt);
                if (turns < _limit)
                {
                    Set(next, at + SeenOffset, turns);
                    Jump(next, at, Pc.AddTurnCas);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryAddTurn read _turns == {turns} < limit (BorrowedRun.cs, TryAddTurn)");
                }
                else
                {
                    ReturnFromAddTurn(next, at, kind, added: false);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryAddTurn read _turns == {turns}: every slot taken → false (BorrowedRun.cs, TryAddTurn)");
                }

                break;
            }

            case Pc.AddTurnCas:
            {
                // BorrowedRun.cs, TryAddTurn: "var seen = Interlocked.CompareExchange(ref _turns, turns + 1, turns);", "if (seen == turns) { QueueTurnOnHost();", "turns = seen;".
                var expected = Get(state, at + SeenOffset);
                var actual = Get(state, TurnsAt);
                if (actual == expected)
                {
                    Set(next, TurnsAt, actual + 1);
                    Set(next, at + SeenOffset, 0);
                    Jump(next, at, Pc.QueueTurn);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryAddTurn took a slot: CAS _turns {actual} → {actual + 1} (BorrowedRun.cs, TryAddTurn)");
                }
                else if (actual < _limit)
                {
                    Set(next, at + SeenOffset, actual);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryAddTurn CAS failed, retries with _turns == {actual} (BorrowedRun.cs, TryAddTurn)");
                }
                else
                {
                    ReturnFromAddTurn(next, at, kind, added: false);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryAddTurn CAS failed, _turns == {actual}: every slot taken → false (BorrowedRun.cs, TryAddTurn)");
                }

                break;
            }

            case Pc.QueueTurn:
                // BorrowedRun.cs, TryAddTurn: "QueueTurnOnHost(); return true;" → BorrowedRun.cs, QueueTurnOnHost: "_host.TryEnqueueTurn(this)"
                // → PoolRun.cs, TryEnqueueTurn.
                Set(next, HostQueueAt, Get(state, HostQueueAt) + 1);
                ReturnFromAddTurn(next, at, kind, added: true);
                what = "queued a new turn on the host: QueueTurnOnHost (BorrowedRun.cs, TryAddTurn → QueueTurnOnHost)";
                break;

            case Pc.StopSetFlag:
                // PoolRun.cs, RequestStop: "_gate.RequestStop();" → AdmissionGate.cs, RequestStop: "Interlocked.Or(ref _state, StopRequestedFlag)".
                next[GateAt] = (byte)(state[GateAt] | StopRequestedBit);
                Jump(next, at, Pc.StopSetMirror);
                what = "RequestStop: Interlocked.Or(ref _gate, StopRequestedFlag) (PoolRun.cs, RequestStop)";
                break;

            case Pc.StopSetMirror:
                // Then the cancel (optional) and OnStopRequested: PoolRun.cs, RequestStop: "_stopRequested = true;", "if (cancelPending) { var drain", "OnStopRequested();" →
                // BorrowedRun.cs, OnStopRequested: "TryFinish()".
                next[StopMirrorAt] = 1;
                if (!_cancelPending)
                {
                    Jump(next, at, _quietReads[0]);
                    what = "RequestStop: _stopRequested = true (PoolRun.cs, RequestStop) → OnStopRequested → TryFinish (BorrowedRun.cs, OnStopRequested)";
                }
                else if (CountsDrainers)
                {
                    Jump(next, at, Pc.DrainBegin);
                    what = "RequestStop: _stopRequested = true → BeginDrainOutsideRunners (PoolRun.cs, RequestStop)";
                }
                else
                {
                    Jump(next, at, Pc.CancelDequeue);
                    what = "RequestStop: _stopRequested = true → CancelQueuedSubmissions (6caab42:PoolRun.cs, RequestStop) [before 83b214a: no drainer count]";
                }

                break;

            case Pc.DrainBegin:
                // PoolRun.cs, RequestStop: "var drain = BeginDrainOutsideRunners();", "CancelQueuedSubmissions();" (the next step) →
                // PoolRun.cs, BeginDrainOutsideRunners: "Interlocked.Increment(ref _outsideDrainers);".
                Set(next, DrainersAt, Get(state, DrainersAt) + 1);
                Jump(next, at, Pc.CancelDequeue);
                what = "RequestStop: BeginDrainOutsideRunners: Interlocked.Increment(ref _outsideDrainers) → CancelQueuedSubmissions (PoolRun.cs, RequestStop → BeginDrainOutsideRunners)";
                break;

            case Pc.CancelDequeue:
            {
                // PoolRun.cs, CancelQueuedSubmissions: "while (TryDequeue(out var item))" → PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)";
                // when empty, PoolRun.cs, RequestStop: "CancelQueuedSubmissions();", "EndDrainOutsideRunners(drain);"
                // (before 83b214a: 6caab42:PoolRun.cs, RequestStop: "CancelQueuedSubmissions(); } OnStopRequested();" → TryFinish).
                var queued = Get(state, QueueAt);
                if (queued > 0)
                {
                    Set(next, QueueAt, queued - 1);
                    Jump(next, at, Pc.CancelItem);
                    what = "CancelQueuedSubmissions took an item from the queue (PoolRun.cs, CancelQueuedSubmissions → TryDequeue)";
                }
                else if (CountsDrainers)
                {
                    Jump(next, at, Pc.DrainEnd);
                    what = "CancelQueuedSubmissions found the queue empty → EndDrainOutsideRunners (PoolRun.cs, CancelQueuedSubmissions → RequestStop)";
                }
                else
                {
                    Jump(next, at, _quietReads[0]);
                    what = "CancelQueuedSubmissions found the queue empty → OnStopRequested → TryFinish (6caab42:PoolRun.cs, CancelQueuedSubmissions → RequestStop) [before 83b214a: no drainer count]";
                }

                break;
            }

            case Pc.CancelItem:
                // PoolRun.cs, CancelQueuedSubmissions: "RequestCancellation(submission); Manager.Scheduler.Execute(task);": it ends Canceled
                // (or, should neither its own token nor the runtime's fast path cancel it, runs: PoolRun.cs, RequestCancellation), and is
                // final either way when the stopper takes the next item.
                Jump(next, at, Pc.CancelDequeue);
                what = "canceled the item it took: RequestCancellation + Execute (PoolRun.cs, CancelQueuedSubmissions)";
                break;

            case Pc.DrainEnd:
                // PoolRun.cs, EndDrainOutsideRunners: "Interlocked.Decrement(ref _outsideDrainers);", "OnDrainOutsideRunnersEnded();".
                Set(next, DrainersAt, Get(state, DrainersAt) - 1);
                Jump(next, at, Pc.DrainEndCheckQueue);
                what = "EndDrainOutsideRunners: Interlocked.Decrement(ref _outsideDrainers) → OnDrainOutsideRunnersEnded (PoolRun.cs, EndDrainOutsideRunners → BorrowedRun.cs, OnDrainOutsideRunnersEnded)";
                break;

            case Pc.DrainEndCheckQueue:
            {
                // BorrowedRun.cs, OnDrainOutsideRunnersEnded: "while (!IsQueueEmpty && TryAddTurn())", "if (IsStopRequested) { TryFinish(); }".
                var queued = Get(state, QueueAt) > 0;
                if (queued)
                {
                    Jump(next, at, Pc.AddTurnRead);
                }
                else
                {
                    StartDrainEndFinish(next, at);
                }

                what = queued
                    ? "OnDrainOutsideRunnersEnded read the queue: not empty → TryAddTurn (BorrowedRun.cs, OnDrainOutsideRunnersEnded)"
                    : "OnDrainOutsideRunnersEnded read the queue: empty → TryFinish (BorrowedRun.cs, OnDrainOutsideRunnersEnded)";
                break;
            }

            case Pc.HostTake:
                // The host's queue is not empty here: DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item))", "RunItem(item, workerContext);" →
                // PoolRun.cs, RunItem: "borrower.RunTurn(workerContext);".
                Set(next, HostQueueAt, Get(state, HostQueueAt) - 1);
                Jump(next, at, Pc.TurnIncrementRunning);
                what = "took a turn from the host's queue → RunTurn (DedicatedRun.Parking.cs, RunLoop → PoolRun.cs, RunItem)";
                break;

            case Pc.TurnIncrementRunning:
                // BorrowedRun.cs, RunTurn: "Interlocked.Increment(ref _running);", "var ran = 0;".
                Set(next, RunningAt, Get(state, RunningAt) + 1);
                Set(next, at + CountOffset, 0);
                Jump(next, at, Pc.TurnDequeue);
                what = "RunTurn: Interlocked.Increment(ref _running) (BorrowedRun.cs, RunTurn)";
                break;

            case Pc.TurnDequeue:
            {
                // (ran < TurnLength, or nobody waits on the host, holds here) BorrowedRun.cs, RunTurn: "&& TryDequeue(out var item))" → PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)".
                var queued = Get(state, QueueAt);
                if (queued > 0)
                {
                    Set(next, QueueAt, queued - 1);
                    Jump(next, at, Pc.TurnRunItem);
                    what = "RunTurn took an item (BorrowedRun.cs, RunTurn → PoolRun.cs, TryDequeue)";
                }
                else
                {
                    Jump(next, at, Pc.TurnDecrementRunning);
                    what = "RunTurn found the queue empty (BorrowedRun.cs, RunTurn)";
                }

                break;
            }

            case Pc.TurnRunItem:
            {
                // (An item that blocks forever takes no step: see above.) RunItem returned; ran++; ran < TurnLength → dequeue again, else
                // read whether anything waits on the host: BorrowedRun.cs, RunTurn: "while ((ran < TurnLength ||", "RunItem(item, workerContext); ran++;".
                // The count is kept at most TurnLength: past it, only "ran >= TurnLength" matters.
                var ran = Math.Min(state[at + CountOffset] + 1, _turnLength);
                next[at + CountOffset] = (byte)ran;
                Jump(next, at, ran < _turnLength ? Pc.TurnDequeue : Pc.TurnReadHostQueue);
                what = string.Create(CultureInfo.InvariantCulture, $"the item returned, ran {(ran < _turnLength ? "==" : ">=")} {ran} (BorrowedRun.cs, RunTurn)");
                break;
            }

            case Pc.TurnReadHostQueue:
            {
                // BorrowedRun.cs, RunTurn: "!_host.HasQueuedWork": something waits on the host → leave the loop; else read the limit.
                var hostWaits = Get(state, HostQueueAt) > 0;
                Jump(next, at, hostWaits ? Pc.TurnDecrementRunning : Pc.TurnReadLimitToGoOn);
                what = hostWaits
                    ? "RunTurn: ran >= TurnLength and the host's queue is not empty → leave the loop (BorrowedRun.cs, RunTurn)"
                    : "RunTurn: ran >= TurnLength but nobody waits on the host (BorrowedRun.cs, RunTurn)";
                break;
            }

            case Pc.TurnReadLimitToGoOn:
            {
                // BorrowedRun.cs, RunTurn: "Volatile.Read(ref _turns) <= _limit))": within the limit → dequeue again, else leave the loop.
                var within = Get(state, TurnsAt) <= _limit;
                Jump(next, at, within ? Pc.TurnDequeue : Pc.TurnDecrementRunning);
                what = within
                    ? "RunTurn read _turns <= _limit: goes on (BorrowedRun.cs, RunTurn)"
                    : "RunTurn read _turns > _limit: leaves the loop (BorrowedRun.cs, RunTurn)";
                break;
            }

            case Pc.TurnDecrementRunning:
            {
                // BorrowedRun.cs, RunTurn: "Interlocked.Decrement(ref _running);", "if (ran >= TurnLength" (local) && ...
                Set(next, RunningAt, Get(state, RunningAt) - 1);
                var full = state[at + CountOffset] == _turnLength;
                Jump(next, at, full ? Pc.TurnCheckQueue : Pc.ReleaseDecrement);
                what = full
                    ? "RunTurn: Interlocked.Decrement(ref _running), ran >= TurnLength (BorrowedRun.cs, RunTurn)"
                    : "RunTurn: Interlocked.Decrement(ref _running), ran < TurnLength → ReleaseTurn (BorrowedRun.cs, RunTurn)";
                break;
            }

            case Pc.TurnCheckQueue:
            {
                // The next read, or else the release: BorrowedRun.cs, RunTurn: "if (ran >= TurnLength && !IsQueueEmpty && Volatile.Read(ref _turns) <= _limit)", "ReleaseTurn();".
                var queued = Get(state, QueueAt) > 0;
                Jump(next, at, queued ? Pc.TurnReadTurns : Pc.ReleaseDecrement);
                what = queued
                    ? "RunTurn read the queue: not empty (BorrowedRun.cs, RunTurn)"
                    : "RunTurn read the queue: empty → ReleaseTurn (BorrowedRun.cs, RunTurn)";
                break;
            }

            case Pc.TurnReadTurns:
            {
                // The next turn, or else the release: BorrowedRun.cs, RunTurn: "&& Volatile.Read(ref _turns) <= _limit)", "QueueTurnOnHost(); return;", "ReleaseTurn();".
                var within = Get(state, TurnsAt) <= _limit;
                Jump(next, at, within ? Pc.TurnRequeue : Pc.ReleaseDecrement);
                what = within
                    ? "RunTurn read _turns <= _limit (BorrowedRun.cs, RunTurn)"
                    : "RunTurn read _turns > _limit → ReleaseTurn (BorrowedRun.cs, RunTurn)";
                break;
            }

            case Pc.TurnRequeue:
                // BorrowedRun.cs, RunTurn: "QueueTurnOnHost(); return;": the slot goes with the next turn.
                Set(next, HostQueueAt, Get(state, HostQueueAt) + 1);
                Set(next, at + CountOffset, 0);
                Jump(next, at, Pc.HostTake);
                what = "queued the next turn on the host, keeping the slot (BorrowedRun.cs, RunTurn → QueueTurnOnHost)";
                break;

            case Pc.ReleaseDecrement:
                // BorrowedRun.cs, ReleaseTurn: "Interlocked.Decrement(ref _turns)" (the IsQueueEmpty read after it only releases idle waiters).
                Set(next, TurnsAt, Get(state, TurnsAt) - 1);
                Set(next, at + CountOffset, 0);
                Jump(next, at, _variant.HasFlag(Variant.ReleaseTurnWithoutRecheck) ? Pc.ReleaseReadStop : Pc.ReleaseCheckQueue);
                what = _variant.HasFlag(Variant.ReleaseTurnWithoutRecheck)
                    ? "ReleaseTurn: Interlocked.Decrement(ref _turns) (BorrowedRun.cs, ReleaseTurn) [BROKEN: no re-check of the queue]"
                    : "ReleaseTurn: Interlocked.Decrement(ref _turns) (BorrowedRun.cs, ReleaseTurn)";
                break;

            case Pc.ReleaseCheckQueue:
            {
                // BorrowedRun.cs, ReleaseTurn: "if (!IsQueueEmpty) { TryAddTurn(); }".
                var queued = Get(state, QueueAt) > 0;
                Jump(next, at, queued ? Pc.AddTurnRead : Pc.ReleaseReadStop);
                what = queued
                    ? "ReleaseTurn re-check: queue not empty → TryAddTurn (BorrowedRun.cs, ReleaseTurn)"
                    : "ReleaseTurn re-check: queue empty (BorrowedRun.cs, ReleaseTurn)";
                break;
            }

            case Pc.ReleaseReadStop:
            {
                // BorrowedRun.cs, ReleaseTurn: "if (IsStopRequested) { TryFinish(); }".
                var stopping = state[StopMirrorAt] != 0;
                Jump(next, at, stopping ? _quietReads[0] : Pc.HostTake);
                what = stopping
                    ? "ReleaseTurn read _stopRequested == true → TryFinish (BorrowedRun.cs, ReleaseTurn)"
                    : "ReleaseTurn read _stopRequested == false → back to the host (BorrowedRun.cs, ReleaseTurn)";
                break;
            }

            case Pc.FinishReadQueue:
            case Pc.FinishReadQueueAgain:
            {
                // BorrowedRun.cs, TryFinish: "!IsQuiet" → BorrowedRun.cs, IsQuiet: "IsQueueEmpty" (before 83b214a: read second).
                var again = pc == Pc.FinishReadQueueAgain;
                var empty = Get(state, QueueAt) == 0;
                AfterQuietRead(next, at, kind, pc, quietSoFar: empty);
                what = string.Create(
                    CultureInfo.InvariantCulture,
                    $"TryFinish{(again ? " (after the close)" : string.Empty)} read the queue: {(empty ? "empty" : "not empty → not quiet, returns")} (BorrowedRun.cs, TryFinish → IsQuiet)");
                break;
            }

            case Pc.FinishReadTurns:
            case Pc.FinishReadTurnsAgain:
            {
                // BorrowedRun.cs, TryFinish: "!IsQuiet" → BorrowedRun.cs, IsQuiet: "Volatile.Read(ref _turns) == 0" (before 83b214a: read first).
                var again = pc == Pc.FinishReadTurnsAgain;
                var turns = Get(state, TurnsAt);
                AfterQuietRead(next, at, kind, pc, quietSoFar: turns == 0);
                what = string.Create(
                    CultureInfo.InvariantCulture,
                    $"TryFinish{(again ? " (after the close)" : string.Empty)} read _turns == {turns}{(turns == 0 ? string.Empty : " → not quiet, returns")} (BorrowedRun.cs, TryFinish → IsQuiet)");
                break;
            }

            case Pc.FinishReadDrainers:
            case Pc.FinishReadDrainersAgain:
            {
                // BorrowedRun.cs, TryFinish: "!IsQuiet" → BorrowedRun.cs, IsQuiet: "!HasOutsideDrainers" →
                // PoolRun.cs, HasOutsideDrainers: "Volatile.Read(ref _outsideDrainers) != 0".
                var again = pc == Pc.FinishReadDrainersAgain;
                var drainers = Get(state, DrainersAt);
                AfterQuietRead(next, at, kind, pc, quietSoFar: drainers == 0);
                what = string.Create(
                    CultureInfo.InvariantCulture,
                    $"TryFinish{(again ? " (after the close)" : string.Empty)} read _outsideDrainers == {drainers}{(drainers == 0 ? string.Empty : " → not quiet, returns")} (BorrowedRun.cs, TryFinish → IsQuiet → PoolRun.cs, HasOutsideDrainers)");
                break;
            }

            case Pc.CloseReadGate:
            {
                // Then, already Closed, the return after the loop: AdmissionGate.cs, TryCloseWhenEmpty: "var state = Volatile.Read(ref _state);",
                // AdmissionGate.cs, TryCloseWhenEmpty: "while ((state & ClosedFlag) == 0)", "if ((state & EnqueuersMask) != 0) { return false; }", "state = seen; } return true;".
                var gate = state[GateAt];
                if ((gate & ClosedBit) != 0)
                {
                    AfterClose(next, at);
                    what = "TryCloseGate read the gate: already Closed → true (PoolRun.cs, TryCloseGate)";
                }
                else if (Enqueuers(gate) != 0)
                {
                    ReturnFromFinish(next, at, kind);
                    what = string.Create(CultureInfo.InvariantCulture, $"TryCloseGate read the gate: {Enqueuers(gate)} enqueuer(s) inside → false, returns (PoolRun.cs, TryCloseGate)");
                }
                else
                {
                    next[at + SeenOffset] = gate;
                    Jump(next, at, Pc.CloseCas);
                    what = "TryCloseGate read the gate: nobody inside (PoolRun.cs, TryCloseGate)";
                }

                break;
            }

            case Pc.CloseCas:
            {
                // And loop: AdmissionGate.cs, TryCloseWhenEmpty: "var seen = Interlocked.CompareExchange(ref _state, state | ClosedFlag, state);", "if (seen == state) { return true; }", "state = seen;".
                var expected = state[at + SeenOffset];
                var actual = state[GateAt];
                next[at + SeenOffset] = 0;
                if (actual == expected)
                {
                    next[GateAt] = (byte)(actual | ClosedBit);
                    AfterClose(next, at);
                    what = "TryCloseGate CLOSED the gate: CAS _gate → Closed (PoolRun.cs, TryCloseGate)";
                }
                else if ((actual & ClosedBit) != 0)
                {
                    AfterClose(next, at);
                    what = "TryCloseGate CAS failed, the gate is Closed → true (PoolRun.cs, TryCloseGate)";
                }
                else if (Enqueuers(actual) != 0)
                {
                    ReturnFromFinish(next, at, kind);
                    what = "TryCloseGate CAS failed, an enqueuer is inside → false, returns (PoolRun.cs, TryCloseGate)";
                }
                else
                {
                    next[at + SeenOffset] = actual;
                    what = "TryCloseGate CAS failed, retries (PoolRun.cs, TryCloseGate)";
                }

                break;
            }

            case Pc.FinishExchange:
            {
                // BorrowedRun.cs, TryFinish: "if (Interlocked.Exchange(ref _finished, 1) != 0) { return; }".
                var first = state[FinishedAt] == 0;
                next[FinishedAt] = 1;
                if (first)
                {
                    Jump(next, at, Pc.CompleteExited);
                }
                else
                {
                    ReturnFromFinish(next, at, kind);
                }

                what = first
                    ? "TryFinish: Interlocked.Exchange(ref _finished, 1) returned 0 (BorrowedRun.cs, TryFinish)"
                    : "TryFinish: Interlocked.Exchange(ref _finished, 1) returned 1 → another finished, returns (BorrowedRun.cs, TryFinish)";
                break;
            }

            case Pc.CompleteExited:
                // BorrowedRun.cs, TryFinish: "CompleteExited(); _host.RemoveBorrower(this);".
                Set(next, ExitedAt, Get(state, ExitedAt) + 1);
                ReturnFromFinish(next, at, kind);
                what = "FINISHED: CompleteExited(); _host.RemoveBorrower(this) (BorrowedRun.cs, TryFinish)";
                break;

            default:
                throw new UnreachableException($"program counter {pc}");
        }

        output.Add(new Transition(next, thread, what));
    }

    /// <summary>Gets whether a stop that cancels counts itself as an outside drainer, and <c>IsQuiet</c> reads the count (the code since 83b214a).</summary>
    private bool CountsDrainers => !_variant.HasFlag(Variant.CancelWithoutDrainerCount);

    /// <summary>
    /// After one read of <c>IsQuiet</c> (BorrowedRun.cs, IsQuiet: a chain of <c>&amp;&amp;</c>): not quiet → <c>TryFinish</c>
    /// returns; quiet so far → the next read, or, after the last, what follows <c>IsQuiet</c>.
    /// </summary>
    private void AfterQuietRead(byte[] next, int at, Kind kind, Pc read, bool quietSoFar)
    {
        if (!quietSoFar)
        {
            ReturnFromFinish(next, at, kind);
            return;
        }

        var again = read is Pc.FinishReadQueueAgain or Pc.FinishReadTurnsAgain or Pc.FinishReadDrainersAgain;
        var reads = again ? _quietReadsAgain : _quietReads;
        var index = Array.IndexOf(reads, read);
        if (index + 1 < reads.Length)
        {
            Jump(next, at, reads[index + 1]);
        }
        else if (again || _variant.HasFlag(Variant.FinishWithoutClosingGate))
        {
            // The second IsQuiet (or, broken, the first without a close) was true: the exchange.
            Jump(next, at, Pc.FinishExchange);
        }
        else
        {
            Jump(next, at, Pc.CloseReadGate);
        }
    }

    /// <summary>After <c>TryCloseGate</c> returned true: the second <c>IsQuiet</c>, or (broken variant) straight to the exchange.</summary>
    private void AfterClose(byte[] next, int at) =>
        Jump(next, at, _variant.HasFlag(Variant.FinishWithoutSecondQuietCheck) ? Pc.FinishExchange : _quietReadsAgain[0]);

    /// <summary>
    /// The stopper's <c>OnDrainOutsideRunnersEnded</c> calls <c>TryFinish</c>
    /// (BorrowedRun.cs, OnDrainOutsideRunnersEnded: "if (IsStopRequested) { TryFinish(); }"); <c>OnStopRequested</c>'s follows it.
    /// </summary>
    private void StartDrainEndFinish(byte[] next, int at)
    {
        next[at + CountOffset] = InDrainEndFinish;
        Jump(next, at, _quietReads[0]);
    }

    /// <summary>
    /// Returns from TryAddTurn: a turn goes on with ReleaseTurn (BorrowedRun.cs, ReleaseTurn: "TryAddTurn(); }", "if (IsStopRequested)");
    /// an enqueuer leaves the gate (PoolRun.cs, ExitSubmission; internal: PoolRun.cs, TryEnqueueInternal: "Enqueue(item); ExitGate();");
    /// the stopper's loop (BorrowedRun.cs, OnDrainOutsideRunnersEnded: "while (!IsQueueEmpty &amp;&amp; TryAddTurn())") reads the queue
    /// again if a turn was added, and otherwise goes on to its TryFinish.
    /// </summary>
    private void ReturnFromAddTurn(byte[] next, int at, Kind kind, bool added)
    {
        next[at + SeenOffset] = 0;
        switch (kind)
        {
            case Kind.Host:
                Jump(next, at, Pc.ReleaseReadStop);
                break;
            case Kind.Stopper when added:
                Jump(next, at, Pc.DrainEndCheckQueue);
                break;
            case Kind.Stopper:
                StartDrainEndFinish(next, at);
                break;
            default:
                Jump(next, at, Pc.ExitDecrement);
                break;
        }
    }

    /// <summary>
    /// Returns from TryFinish: a host thread goes back to the host's queue, an enqueuer to its next item; a stopper
    /// goes from the TryFinish of OnDrainOutsideRunnersEnded to OnStopRequested's (PoolRun.cs, RequestStop: "OnStopRequested();"),
    /// and is then done.
    /// </summary>
    private void ReturnFromFinish(byte[] next, int at, Kind kind)
    {
        next[at + SeenOffset] = 0;
        switch (kind)
        {
            case Kind.Host:
                Jump(next, at, Pc.HostTake);
                break;
            case Kind.Stopper when next[at + CountOffset] == InDrainEndFinish:
                next[at + CountOffset] = 0;
                Jump(next, at, _quietReads[0]);
                break;
            case Kind.Stopper:
                Jump(next, at, Pc.Done);
                break;
            default:
                NextSubmission(next, at);
                break;
        }
    }

    /// <summary>An enqueuer is done with one item (enqueued or refused): the next, or done.</summary>
    private static void NextSubmission(byte[] next, int at)
    {
        var left = next[at + CountOffset] - 1;
        next[at + CountOffset] = (byte)left;
        Jump(next, at, left > 0 ? Pc.EnterGate : Pc.Done);
    }

    private static void Jump(byte[] state, int at, Pc pc) => state[at + PcOffset] = (byte)pc;

    private static byte[] Copy(byte[] state) => (byte[])state.Clone();

    /// <summary>The properties every reachable state must have; a description of the first one broken, if any.</summary>
    public string? CheckState(byte[] state)
    {
        var gate = state[GateAt];
        var queued = Get(state, QueueAt);
        var turns = Get(state, TurnsAt);
        var running = Get(state, RunningAt);
        var exited = Get(state, ExitedAt);
        var hostQueue = Get(state, HostQueueAt);
        var drainers = Get(state, DrainersAt);

        var insideGate = 0;
        var aboutToEnqueue = 0;
        var turnsHeld = hostQueue;
        var inTurnLoop = 0;
        var itemsRunning = 0;
        var itemsCanceling = 0;
        var draining = 0;
        var turnsClaimedOffHost = 0;
        for (var thread = 0; thread < _threads; thread++)
        {
            var pc = (Pc)state[BlockAt(thread) + PcOffset];
            switch (KindOf(thread))
            {
                case Kind.Host:
                    turnsHeld += pc is Pc.TurnIncrementRunning or Pc.TurnDequeue or Pc.TurnRunItem or Pc.TurnReadHostQueue or Pc.TurnReadLimitToGoOn
                        or Pc.TurnDecrementRunning or Pc.TurnCheckQueue or Pc.TurnReadTurns or Pc.TurnRequeue or Pc.ReleaseDecrement or Pc.QueueTurn ? 1 : 0;
                    inTurnLoop += pc is Pc.TurnDequeue or Pc.TurnRunItem or Pc.TurnReadHostQueue or Pc.TurnReadLimitToGoOn or Pc.TurnDecrementRunning ? 1 : 0;
                    itemsRunning += pc == Pc.TurnRunItem ? 1 : 0;
                    break;
                case Kind.Stopper:
                    itemsCanceling += pc == Pc.CancelItem ? 1 : 0;
                    draining += CountsDrainers && pc is Pc.CancelDequeue or Pc.CancelItem or Pc.DrainEnd ? 1 : 0;
                    turnsHeld += pc == Pc.QueueTurn ? 1 : 0;
                    turnsClaimedOffHost += pc == Pc.QueueTurn ? 1 : 0;
                    break;
                default:
                    insideGate += pc is Pc.Enqueue or Pc.AddTurnRead or Pc.AddTurnCas or Pc.QueueTurn or Pc.ExitDecrement ? 1 : 0;
                    aboutToEnqueue += pc == Pc.Enqueue ? 1 : 0;
                    turnsHeld += pc == Pc.QueueTurn ? 1 : 0;
                    break;
            }
        }

        // Accounting: the model's bookkeeping agrees with the threads' positions.
        if (Checking(Checks.Accounting))
        {
            if (queued < 0 || turns < 0 || running < 0 || hostQueue < 0 || drainers < 0)
            {
                return string.Create(CultureInfo.InvariantCulture, $"ACCOUNTING: a counter is negative (queue {queued}, _turns {turns}, _running {running}, host queue {hostQueue}, _outsideDrainers {drainers})");
            }

            if (Enqueuers(gate) != insideGate)
            {
                return string.Create(CultureInfo.InvariantCulture, $"ACCOUNTING: the gate counts {Enqueuers(gate)} enqueuers but {insideGate} are inside");
            }

            if (turns != turnsHeld)
            {
                return string.Create(CultureInfo.InvariantCulture, $"ACCOUNTING: _turns is {turns} but {turnsHeld} turns exist (queued on the host, running, or claimed)");
            }

            if (running != inTurnLoop)
            {
                return string.Create(CultureInfo.InvariantCulture, $"ACCOUNTING: _running is {running} but {inTurnLoop} host threads are in a turn's loop");
            }

            if (drainers != draining)
            {
                return string.Create(CultureInfo.InvariantCulture, $"ACCOUNTING: _outsideDrainers is {drainers} but {draining} stoppers are between BeginDrainOutsideRunners and EndDrainOutsideRunners");
            }
        }

        // I2: the limit.
        if (Checking(Checks.Limit) && turns > _limit)
        {
            return string.Create(CultureInfo.InvariantCulture, $"I2 LIMIT: _turns is {turns} > limit {_limit}");
        }

        if (Checking(Checks.Limit) && itemsRunning > _limit)
        {
            return string.Create(CultureInfo.InvariantCulture, $"I2 LIMIT: {itemsRunning} items run in turns at once > limit {_limit}");
        }

        // I4: nothing is accepted after the gate closed.
        if (Checking(Checks.NothingAcceptedAfterClose) && (gate & ClosedBit) != 0 && aboutToEnqueue > 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"I4 ACCEPTED AFTER CLOSE: the gate is Closed but {aboutToEnqueue} admitted enqueuer(s) are about to enqueue");
        }

        // Not an invariant (see the remarks): the gate closed while a stopper holds an item it took.
        if (Checking(Checks.NotClosedWhileCanceling) && (gate & ClosedBit) != 0 && itemsCanceling > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"CLOSED WHILE CANCELING: the gate is Closed while {itemsCanceling} item(s) taken from the queue by CancelQueuedSubmissions are not yet canceled (a continuation put back now would be refused), _outsideDrainers {drainers}, Exited completed {exited} times");
        }

        // I3: Exited at most once, only after a stop, and not before everything accepted has run.
        if (Checking(Checks.FinishesOnce) && exited > 1)
        {
            return string.Create(CultureInfo.InvariantCulture, $"I3 EXITED TWICE: Exited was completed {exited} times");
        }

        if (exited == 0)
        {
            return null;
        }

        if (Checking(Checks.FinishesOnce) && (gate & StopRequestedBit) == 0)
        {
            return "I3 FINISHED WITHOUT A STOP";
        }

        if (Checking(Checks.NotFinishedEarly) && (queued > 0 || itemsRunning > 0 || aboutToEnqueue > 0))
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"I3 FINISHED EARLY: Exited completed while {queued} item(s) are queued, {itemsRunning} run in turns, {aboutToEnqueue} are about to be enqueued by admitted enqueuers");
        }

        if (Checking(Checks.NotFinishedWhileCanceling) && itemsCanceling > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"I3 FINISHED WHILE CANCELING: Exited completed while {itemsCanceling} item(s) taken from the queue by CancelQueuedSubmissions are not yet canceled (or, a continuation, put back)");
        }

        if (Checking(Checks.NoTurnAfterFinishOffHost) && turnsClaimedOffHost > 0)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"TURN AFTER FINISH OFF THE HOST: Exited completed and the borrower left its host, yet a stopper that runs no item of the host holds {turnsClaimedOffHost} turn(s) it claimed in OnDrainOutsideRunnersEnded and will queue on the host (or, closed, on the .NET thread pool)");
        }

        if (Checking(Checks.NoTurnAfterFinish) && turns > 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"TURN AFTER FINISH: Exited completed and the borrower left its host, yet {turns} turn(s) hold a slot and will be queued on the host or run there");
        }

        return null;
    }

    /// <summary>The check of a state where no thread can take a step.</summary>
    public string? CheckTerminal(byte[] state)
    {
        var queued = Get(state, QueueAt);
        var turns = Get(state, TurnsAt);
        var blocked = 0;
        for (var thread = 0; thread < _hosts; thread++)
        {
            blocked += (Pc)state[BlockAt(thread) + PcOffset] == Pc.TurnRunItem ? 1 : 0;
        }

        // I1: every queued item has a turn that will run it. With items that block forever, items may wait behind
        // turns that hold every slot or every host thread, but never with no turn at all.
        if (Checking(Checks.NoStrandedItem) && queued > 0 && (!_itemsBlockForever || turns == 0))
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"I1 STRANDED ITEM: no thread can move, {queued} item(s) queued, {turns} turn(s) hold a slot, {blocked} item(s) blocked");
        }

        // I3: after a stop the run finishes, unless an item it accepted never returns.
        var stopped = (state[GateAt] & StopRequestedBit) != 0;
        if (Checking(Checks.FinishesOnce) && stopped && blocked == 0 && Get(state, ExitedAt) != 1)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"I3 NOT FINISHED: no thread can move after a stop, Exited completed {Get(state, ExitedAt)} times (queue {queued}, _turns {turns}, gate {DescribeGate(state[GateAt])})");
        }

        return null;
    }

    private bool Checking(Checks check) => (_checks & check) != 0;

    /// <summary>Gets the runs of interchangeable threads: the host threads, the submitters, the internal enqueuers, the stoppers.</summary>
    public IReadOnlyList<StateSpaceExplorer.Symmetry> Symmetries =>
    [
        new(BlockAt(0), _hosts, BlockSize),
        new(BlockAt(_hosts), _submitters, BlockSize),
        new(BlockAt(_hosts + _submitters), _continuations, BlockSize),
        new(BlockAt(_hosts + _submitters + _continuations), _stoppers, BlockSize),
    ];

    private static string DescribeGate(byte gate) =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"{Enqueuers(gate)}{((gate & StopRequestedBit) != 0 ? "+Stop" : string.Empty)}{((gate & ClosedBit) != 0 ? "+Closed" : string.Empty)}");

    /// <summary>A one-line summary of a state: the shared values, then each thread's next step.</summary>
    public string Describe(byte[] state)
    {
        var text = new StringBuilder();
        text.Append(
            CultureInfo.InvariantCulture,
            $"[gate={DescribeGate(state[GateAt])} _stopRequested={state[StopMirrorAt]} queue={Get(state, QueueAt)} _turns={Get(state, TurnsAt)} _running={Get(state, RunningAt)} _finished={state[FinishedAt]} exited={Get(state, ExitedAt)} hostQueue={Get(state, HostQueueAt)} _outsideDrainers={Get(state, DrainersAt)} |");
        for (var thread = 0; thread < _threads; thread++)
        {
            var at = BlockAt(thread);
            var pc = (Pc)state[at + PcOffset];
            text.Append(CultureInfo.InvariantCulture, $" {ThreadName(thread)}:{pc}");
            switch (KindOf(thread))
            {
                case Kind.Host when pc is Pc.TurnDequeue or Pc.TurnRunItem or Pc.TurnReadHostQueue or Pc.TurnReadLimitToGoOn or Pc.TurnDecrementRunning:
                    text.Append(CultureInfo.InvariantCulture, $"(ran {state[at + CountOffset]})");
                    break;
                case Kind.Submitter or Kind.Continuation when pc != Pc.Done:
                    text.Append(CultureInfo.InvariantCulture, $"({state[at + CountOffset]} left)");
                    break;
                case Kind.Stopper when state[at + CountOffset] == InDrainEndFinish:
                    text.Append("(in OnDrainOutsideRunnersEnded)");
                    break;
            }
        }

        return text.Append(']').ToString();
    }
}
