using System.Diagnostics;
using System.Globalization;
using System.Text;
using static ThreadLineage.Tests.Robustness.StateSpaceExplorer;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// A model of the worker parking protocol (<c>DedicatedRun.RunLoop</c>, <c>SpinForWork</c>, <c>Park</c>,
/// <c>WaitForPermit</c>, <c>WakeOrSpawn</c>, <c>TryClaimParked</c> in
/// <c>src/ThreadLineage/Pools/DedicatedRun.Parking.cs</c>, and <c>Enqueue</c> → <c>OnItemQueued</c> in <c>PoolRun.cs</c>), whose
/// every interleaving <see cref="StateSpaceExplorer"/> explores. This file holds the model only: the state, the steps
/// of each thread (program counters) and the properties checked.
/// </summary>
/// <remarks>
/// <para>
/// <b>What is modelled.</b> A fixed-size pool (MinWorkers == MaxWorkers: no spawning, no retirement, no idle
/// timeout) that is never stopped, with <c>W</c> workers and <c>P</c> producers that each enqueue <c>K</c> items.
/// Items are interchangeable, so the queue is just its length. The shared state is the queue length,
/// <c>_searching</c>, <c>_parked</c> and the permits of the <c>_wake</c> semaphore; each thread has a program
/// counter (<see cref="Pc"/>) and its locals (a worker's <c>searching</c> and <c>idle</c>, and the value
/// <c>TryClaimParked</c> last read from <c>_parked</c>).
/// </para>
/// <para>
/// <b>Granularity.</b> One step is one interlocked operation or one read of shared state, in the order the code
/// does them; purely local work between two such operations is folded into the step before it. Reads of values no
/// modelled thread writes are constant and take no step:
/// <c>MayExit</c> (DedicatedRun.cs, MayExit: "IsStopRequested &amp;&amp; !HasOpenBorrowers &amp;&amp; !HasOutsideDrainers"),
/// always false: the run is never stopped, so the borrowers and the outside drainers are never read;
/// <c>_liveWorkers &gt; _maxWorkers</c> (DedicatedRun.Parking.cs, RunLoop: "Volatile.Read(ref _liveWorkers) &gt; _maxWorkers",
/// and the shrink tests of Park), always false;
/// <c>_liveWorkers &lt; _maxWorkers</c> (DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _liveWorkers) &lt; _maxWorkers)"),
/// always false: WakeOrSpawn never spawns at MinWorkers == MaxWorkers;
/// <c>_liveWorkers &lt;= _minWorkers</c> (DedicatedRun.Parking.cs, Park: "Volatile.Read(ref _liveWorkers) &lt;= _minWorkers"),
/// always true: Park always waits without a timeout.
/// The <c>_awakeWorkers</c> counter, the idle waiters, the statistics slot, the count of queued turns (<c>_queuedTurns</c>:
/// PoolRun.cs, TryEnqueueTurn: "Interlocked.Increment(ref _queuedTurns);" and
/// PoolRun.cs, TryDequeue: "Interlocked.Decrement(ref _queuedTurns);") and the background/foreground toggle feed no
/// decision of the protocol and are left out. So is <c>WakeAll</c> (DedicatedRun.Parking.cs, WakeAll): its callers are
/// a stop, a borrower closing, the end of an outside drain (DedicatedRun.Parking.cs, OnStopRequested;
/// DedicatedRun.Parking.cs, OnBorrowerClosed; DedicatedRun.Parking.cs, OnDrainOutsideRunnersEnded) and a resize
/// (DedicatedRun.Elasticity.cs, Resize: "WakeAll();"), none of which is modelled. A borrower's turn reaches this queue
/// through the same <c>Enqueue</c> as an item does, so a producer stands for either:
/// PoolRun.cs, TryEnqueueTurn: "TryEnqueueInternal(WorkItem.ForTurn(borrower))" →
/// PoolRun.cs, TryEnqueueInternal: "Enqueue(item);" → PoolRun.cs, Enqueue.
/// </para>
/// <para>
/// <b>Citations.</b> Each step names the code it models by file (in <c>src/ThreadLineage/Pools</c>), member and, where
/// the member has several steps, quotes of that code in the order it runs, as in
/// DedicatedRun.Parking.cs, Park: "Interlocked.Increment(ref _parked);".
/// <see cref="ParkingProtocolModelTests.Citations_QuoteTheCurrentSource"/> checks that every quote still occurs in that
/// member (comments removed, each run of whitespace read as one space), so that a citation that no longer matches the
/// code fails a test instead of rotting like a line number. 0892fa0^:WorkerGroup.Workers.cs, RunLoop cites the code
/// before commit 0892fa0, the code of <see cref="HandOffRule.OldRule"/>, which no longer exists.
/// </para>
/// <para>
/// <b>Spinning.</b> <c>SpinForWork</c> reads the queue, and when it is empty checks its deadline. The deadline is
/// time, not shared state: it is modelled as a nondeterministic choice taken in a step of its own, so the spin may
/// time out at any moment relative to the other threads, also when items have arrived since its last read. From
/// the time-out until its <c>Interlocked.Decrement(ref _searching)</c> the worker no longer looks at the queue, yet
/// producers still see a searcher and wake nobody: the window of the lost wake-up fixed in 0892fa0. The spin's length
/// adapts to how soon work arrives (<c>SpinLength</c>, down to none, when the queue is still read once): that only
/// moves the deadline, which the model already lets fall anywhere.
/// </para>
/// <para>
/// <b>Running an item.</b> By default a worker that takes an item runs it forever, like an item that waits at a
/// barrier for the others: the strongest check, since then every item must be taken by a worker of its own.
/// With <c>itemsBlockForever: false</c> an item returns at once and its worker goes back to the queue.
/// </para>
/// <para>
/// <b>Checks.</b> In every reachable state: <c>_parked &gt;= 0</c>, permits &gt;= 0, <c>_searching</c> is 0 or
/// 1, <c>_searching</c> equals the number of workers whose local <c>searching</c> is set, and permit accounting:
/// <c>_parked</c> + permits + releases claimed but not yet made equals the number of workers between their
/// announcement (<c>Interlocked.Increment(ref _parked)</c>) and taking a permit or withdrawing, so no wake-up is
/// ever lost or minted. In every state where no thread can take a step (the producers are done and every worker
/// runs an item forever or waits on the semaphore with no permit), no item may be queued while a worker waits on
/// the semaphore: the protocol's invariant "every queued item has a worker that is awake or about to be woken".
/// With <c>W</c> at least the number of items this is simply "the queue is empty"; with fewer workers, items may
/// legitimately stay queued once every worker is running one forever.
/// </para>
/// <para>
/// <b>Search.</b> By <see cref="StateSpaceExplorer"/>: breadth first, so a counterexample is a shortest one.
/// Workers are interchangeable and so are producers (<see cref="Symmetries"/>), so states are identified up to a
/// permutation of the workers and of the producers. A counterexample's trace names each thread consistently from
/// start to end.
/// </para>
/// </remarks>
internal sealed class ParkingProtocolModel : StateSpaceExplorer.IModel
{
    // A state is a byte array: the shared counters, then one block per worker, then one block per producer.
    // Every value is read and written as an sbyte (StateSpaceExplorer.Get, Set), so a decrement below zero shows up
    // as a negative value (a violation) instead of wrapping.

    // Shared state: the queue length, _searching, _parked and the _wake semaphore's free permits.
    private const int QueueAt = 0;
    private const int SearchingAt = 1;
    private const int ParkedAt = 2;
    private const int PermitsAt = 3;
    private const int SharedSize = 4;

    // A worker's block: program counter, RunLoop's locals searching and idle, the value TryClaimParked last read.
    private const int WorkerSize = 4;
    private const int PcOffset = 0;
    private const int SearchingOffset = 1;
    private const int IdleOffset = 2;
    private const int WorkerSeenOffset = 3;

    // A producer's block: program counter (PcOffset), items still to enqueue, the value TryClaimParked last read.
    private const int ProducerSize = 3;
    private const int RemainingOffset = 1;
    private const int ProducerSeenOffset = 2;

    private readonly int _workers;
    private readonly int _producers;
    private readonly int _itemsPerProducer;
    private readonly HandOffRule _rule;
    private readonly bool _itemsBlockForever;
    private readonly int _stateSize;

    /// <summary>Creates a model of <paramref name="workers"/> workers and <paramref name="producers"/> producers.</summary>
    /// <param name="workers">The pool size (MinWorkers == MaxWorkers), at least 1.</param>
    /// <param name="producers">Threads that enqueue, at least 1.</param>
    /// <param name="itemsPerProducer">Items each producer enqueues, one after the other.</param>
    /// <param name="rule">When a worker that took an item wakes another for the rest of the queue.</param>
    /// <param name="itemsBlockForever">Whether a worker that takes an item runs it forever (see the remarks).</param>
    public ParkingProtocolModel(int workers, int producers, int itemsPerProducer, HandOffRule rule, bool itemsBlockForever = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(producers, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(itemsPerProducer, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(workers, 8);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(producers * itemsPerProducer, 100);
        _workers = workers;
        _producers = producers;
        _itemsPerProducer = itemsPerProducer;
        _rule = rule;
        _itemsBlockForever = itemsBlockForever;
        _stateSize = SharedSize + (workers * WorkerSize) + (producers * ProducerSize);
    }

    /// <summary>When a worker that has just taken an item wakes another worker for what is still queued.</summary>
    public enum HandOffRule
    {
        /// <summary>
        /// The current code (since 0892fa0; DedicatedRun.Parking.cs, RunLoop: "if (idle)"): the first item a worker takes after it found the queue
        /// empty (whether by spinning, by the re-check while parking, or after being woken) makes it call
        /// <c>WakeOrSpawn</c> if the queue is still not empty.
        /// </summary>
        FixedRule,

        /// <summary>
        /// The code before 0892fa0: only a worker still <c>searching</c> when it dequeued hands off, if
        /// <c>Interlocked.Decrement(ref _searching) == 0</c> and the queue is not empty
        /// (0892fa0^:WorkerGroup.Workers.cs, RunLoop: "if (Interlocked.Decrement(ref _searching) == 0 &amp;&amp; !_queue.IsEmpty)").
        /// </summary>
        OldRule,
    }

    /// <summary>
    /// A thread's program counter: the next shared operation it performs. Each value names the code it models.
    /// </summary>
    private enum Pc : byte
    {
        // ---- Worker: DedicatedRun.Parking.cs, RunLoop ----

        /// <summary>DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item))" → PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)".</summary>
        Dequeue,

        /// <summary>
        /// DedicatedRun.Parking.cs, RunLoop: "if (searching) { searching = false; Interlocked.Decrement(ref _searching); }"
        /// (old rule: 0892fa0^:WorkerGroup.Workers.cs, RunLoop: "if (Interlocked.Decrement(ref _searching) == 0").
        /// </summary>
        DequeuedStopSearching,

        /// <summary>
        /// DedicatedRun.Parking.cs, RunLoop: "idle = false; if (!IsQueueEmpty)" (old rule:
        /// 0892fa0^:WorkerGroup.Workers.cs, RunLoop: "Interlocked.Decrement(ref _searching) == 0 &amp;&amp; !_queue.IsEmpty"):
        /// the hand-off's read of the queue.
        /// </summary>
        HandOffCheckQueue,

        /// <summary>DedicatedRun.Parking.cs, RunLoop: "if (!searching &amp;&amp; Interlocked.CompareExchange(ref _searching, 1, 0) == 0)".</summary>
        BecomeSearcher,

        /// <summary>DedicatedRun.Parking.cs, SpinForWork: "if (!IsQueueEmpty || MayExit) { _spin.Lengthen(); return true; }".</summary>
        SpinCheckQueue,

        /// <summary>DedicatedRun.Parking.cs, SpinForWork: "while (Stopwatch.GetTimestamp() &lt; deadline)": either spin again or time out.</summary>
        SpinDeadline,

        /// <summary>
        /// After the spin timed out: DedicatedRun.Parking.cs, RunLoop: "if (SpinForWork())", "searching = false; Interlocked.Decrement(ref _searching);".
        /// </summary>
        StopSearching,

        /// <summary>The announcement: DedicatedRun.Parking.cs, Park: "Interlocked.Increment(ref _parked);".</summary>
        ParkAnnounce,

        /// <summary>Park's re-check after announcing: DedicatedRun.Parking.cs, Park: "if ((!IsQueueEmpty || MayExit".</summary>
        ParkRecheck,

        /// <summary>
        /// Withdrawing the announcement: DedicatedRun.Parking.cs, Park: "&amp;&amp; TryClaimParked())" →
        /// DedicatedRun.Parking.cs, TryClaimParked: "var parked = Volatile.Read(ref _parked);".
        /// </summary>
        WithdrawRead,

        /// <summary>
        /// Withdrawing: DedicatedRun.Parking.cs, Park: "&amp;&amp; TryClaimParked())" →
        /// DedicatedRun.Parking.cs, TryClaimParked: "Interlocked.CompareExchange(ref _parked, parked - 1, parked)".
        /// </summary>
        WithdrawCas,

        /// <summary>
        /// Blocked until a permit is free: DedicatedRun.Parking.cs, Park: "Volatile.Read(ref _liveWorkers) &lt;= _minWorkers", "WaitForPermit();" →
        /// DedicatedRun.Parking.cs, WaitForPermit: "_wake.Wait(Timeout.Infinite)".
        /// </summary>
        WaitPermit,

        /// <summary>
        /// DedicatedRun.Parking.cs, RunLoop: "RunItem(item, workerContext);", "continue;": runs forever, or returns and goes
        /// back to the loop's TryDequeue.
        /// </summary>
        Running,

        // ---- DedicatedRun.Parking.cs, WakeOrSpawn and DedicatedRun.Parking.cs, TryClaimParked: producers, and workers handing off ----

        /// <summary>DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _searching) &gt; 0) { return; }".</summary>
        WakeReadSearching,

        /// <summary>
        /// DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _parked) &gt; 0" (if not,
        /// DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _liveWorkers) &lt; _maxWorkers)" is false at MinWorkers == MaxWorkers: return).
        /// </summary>
        WakeReadParked,

        /// <summary>
        /// DedicatedRun.Parking.cs, WakeOrSpawn: "&amp;&amp; TryClaimParked())" →
        /// DedicatedRun.Parking.cs, TryClaimParked: "var parked = Volatile.Read(ref _parked);".
        /// </summary>
        ClaimRead,

        /// <summary>
        /// DedicatedRun.Parking.cs, TryClaimParked: "var seen = Interlocked.CompareExchange(ref _parked, parked - 1, parked);", "parked = seen;" on failure.
        /// </summary>
        ClaimCas,

        /// <summary>One permit for the claimed worker: DedicatedRun.Parking.cs, WakeOrSpawn: "_wake.Release();".</summary>
        Release,

        // ---- Producer: PoolRun.cs, Enqueue ----

        /// <summary>
        /// PoolRun.cs, Enqueue: "queue.Enqueue(item);" (then PoolRun.cs, Enqueue: "OnItemQueued();" →
        /// DedicatedRun.Parking.cs, OnItemQueued: "WakeOrSpawn()").
        /// </summary>
        Enqueue,

        /// <summary>The producer has enqueued all its items.</summary>
        Done,
    }

    /// <summary>Gets a short description of the configuration, e.g. "W=2 P=1 K=2 FixedRule items block forever".</summary>
    public string Configuration =>
        string.Create(
            CultureInfo.InvariantCulture,
            $"W={_workers} P={_producers} K={_itemsPerProducer} {_rule} items {(_itemsBlockForever ? "block forever" : "return")}");

    /// <summary>Gets the number of threads: the workers (W0, W1, ...), then the producers (P0, ...).</summary>
    public int Threads => _workers + _producers;

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
        for (var w = 0; w < _workers; w++)
        {
            // DedicatedRun.cs, WorkerMain: "var stopped = RunLoop(slot, workerContext);" →
            // DedicatedRun.Parking.cs, RunLoop: "var searching = false;", "var idle = true;", "while (true)": then the loop's TryDequeue.
            var at = WorkerAt(w);
            state[at + PcOffset] = (byte)Pc.Dequeue;
            state[at + IdleOffset] = _rule == HandOffRule.FixedRule ? (byte)1 : (byte)0;
        }

        for (var p = 0; p < _producers; p++)
        {
            var at = ProducerAt(p);
            state[at + PcOffset] = (byte)(_itemsPerProducer > 0 ? Pc.Enqueue : Pc.Done);
            state[at + RemainingOffset] = (byte)_itemsPerProducer;
        }

        return state;
    }

    private static int WorkerAt(int worker) => SharedSize + (worker * WorkerSize);

    private int ProducerAt(int producer) => SharedSize + (_workers * WorkerSize) + (producer * ProducerSize);

    private static int Get(byte[] state, int at) => (sbyte)state[at];

    private static void Set(byte[] state, int at, int value) => state[at] = unchecked((byte)(sbyte)value);

    /// <inheritdoc/>
    public string ThreadName(int thread) =>
        thread < _workers
            ? string.Create(CultureInfo.InvariantCulture, $"W{thread}")
            : string.Create(CultureInfo.InvariantCulture, $"P{thread - _workers}");

    /// <summary>Adds the steps thread <paramref name="thread"/> can take in <paramref name="state"/> (none if it is blocked).</summary>
    public void Successors(byte[] state, int thread, List<Transition> output)
    {
        var isWorker = thread < _workers;
        var at = isWorker ? WorkerAt(thread) : ProducerAt(thread - _workers);
        var seenAt = at + (isWorker ? WorkerSeenOffset : ProducerSeenOffset);
        var pc = (Pc)state[at + PcOffset];
        switch (pc)
        {
            case Pc.Dequeue:
            {
                // DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item))" →
                // PoolRun.cs, TryDequeue: "queue.TryDequeue(out item)": one atomic step.
                var next = Copy(state);
                if (Get(state, QueueAt) > 0)
                {
                    Set(next, QueueAt, Get(state, QueueAt) - 1);
                    if (state[at + SearchingOffset] != 0)
                    {
                        // Still searching (we came from the spin) → stop searching first:
                        // DedicatedRun.Parking.cs, RunLoop: "if (TryDequeue(out var item)) { if (searching)".
                        Jump(next, at, Pc.DequeuedStopSearching);
                    }
                    else
                    {
                        // Fixed rule: the first item after idling → the hand-off (DedicatedRun.Parking.cs, RunLoop: "if (idle)").
                        // Old rule: only a searching worker hands off, so straight to the item
                        // (0892fa0^:WorkerGroup.Workers.cs, RunLoop: "if (TryDequeue(out var item)) { if (searching)").
                        AfterStoppedSearching(next, at);
                    }

                    output.Add(new Transition(next, thread, "TryDequeue took an item (DedicatedRun.Parking.cs, RunLoop)"));
                }
                else
                {
                    // idle = true (fixed rule only; the old code had no such flag), MayExit is false, the CAS only if not already
                    // searching, else straight into SpinForWork: DedicatedRun.Parking.cs, RunLoop: "idle = true; if (MayExit)",
                    // DedicatedRun.Parking.cs, RunLoop: "if (!searching && Interlocked.CompareExchange(ref _searching, 1, 0) == 0)", "if (searching) { if (SpinForWork())".
                    if (_rule == HandOffRule.FixedRule)
                    {
                        next[at + IdleOffset] = 1;
                    }

                    Jump(next, at, state[at + SearchingOffset] != 0 ? Pc.SpinCheckQueue : Pc.BecomeSearcher);
                    output.Add(new Transition(next, thread, "TryDequeue found the queue empty (DedicatedRun.Parking.cs, RunLoop)"));
                }

                break;
            }

            case Pc.DequeuedStopSearching:
            {
                // DedicatedRun.Parking.cs, RunLoop: "if (searching) { searching = false; Interlocked.Decrement(ref _searching); }".
                var next = Copy(state);
                next[at + SearchingOffset] = 0;
                var searching = Get(state, SearchingAt) - 1;
                Set(next, SearchingAt, searching);
                if (_rule == HandOffRule.FixedRule)
                {
                    AfterStoppedSearching(next, at);
                }
                else
                {
                    // Hand off only if the decrement returned 0: 0892fa0^:WorkerGroup.Workers.cs, RunLoop: "if (Interlocked.Decrement(ref _searching) == 0".
                    Jump(next, at, searching == 0 ? Pc.HandOffCheckQueue : Pc.Running);
                }

                output.Add(new Transition(next, thread, "stopped searching: Interlocked.Decrement(ref _searching) (DedicatedRun.Parking.cs, RunLoop; old rule 0892fa0^:WorkerGroup.Workers.cs, RunLoop)"));
                break;
            }

            case Pc.HandOffCheckQueue:
            {
                // Not empty: DedicatedRun.Parking.cs, RunLoop: "if (!IsQueueEmpty) { WakeOrSpawn(); }"
                // (old: 0892fa0^:WorkerGroup.Workers.cs, RunLoop: "!_queue.IsEmpty) { WakeOrSpawn(); }");
                // else the item: DedicatedRun.Parking.cs, RunLoop: "RunItem(item, workerContext);".
                var next = Copy(state);
                var queued = Get(state, QueueAt) > 0;
                Jump(next, at, queued ? Pc.WakeReadSearching : Pc.Running);
                output.Add(new Transition(
                    next,
                    thread,
                    queued ? "hand-off: queue not empty → WakeOrSpawn (DedicatedRun.Parking.cs, RunLoop)" : "hand-off: queue empty → run the item (DedicatedRun.Parking.cs, RunLoop)"));
                break;
            }

            case Pc.BecomeSearcher:
            {
                // DedicatedRun.Parking.cs, RunLoop: "Interlocked.CompareExchange(ref _searching, 1, 0) == 0) { searching = true; }".
                var next = Copy(state);
                if (Get(state, SearchingAt) == 0)
                {
                    Set(next, SearchingAt, 1);
                    next[at + SearchingOffset] = 1;
                    Jump(next, at, Pc.SpinCheckQueue);
                    output.Add(new Transition(next, thread, "became the searcher: CAS _searching 0 → 1 (DedicatedRun.Parking.cs, RunLoop)"));
                }
                else
                {
                    // Not searching, so Park: DedicatedRun.Parking.cs, RunLoop: "if (searching) { if (SpinForWork())", "if (!Park())" →
                    // DedicatedRun.Parking.cs, Park: "if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers))", "Interlocked.Decrement(ref _awakeWorkers)", "Interlocked.Increment(ref _parked);":
                    // no shrink, the awake count is not modelled, and the announcement is the next step.
                    Jump(next, at, Pc.ParkAnnounce);
                    output.Add(new Transition(next, thread, "another worker searches: CAS _searching failed → Park (DedicatedRun.Parking.cs, RunLoop)"));
                }

                break;
            }

            case Pc.SpinCheckQueue:
            {
                // DedicatedRun.Parking.cs, SpinForWork: "if (!IsQueueEmpty || MayExit) { _spin.Lengthen(); return true; }" →
                // DedicatedRun.Parking.cs, RunLoop: "if (SpinForWork()) { continue; }" → the loop's TryDequeue.
                var next = Copy(state);
                var queued = Get(state, QueueAt) > 0;
                Jump(next, at, queued ? Pc.Dequeue : Pc.SpinDeadline);
                output.Add(new Transition(
                    next,
                    thread,
                    queued ? "spin saw work → back to TryDequeue (DedicatedRun.Parking.cs, SpinForWork → RunLoop)" : "spin saw the queue empty (DedicatedRun.Parking.cs, SpinForWork)"));
                break;
            }

            case Pc.SpinDeadline:
            {
                // DedicatedRun.Parking.cs, SpinForWork: "while (Stopwatch.GetTimestamp() < deadline)": the deadline is time, not
                // shared state: either outcome at any moment.
                var again = Copy(state);
                Jump(again, at, Pc.SpinCheckQueue);
                output.Add(new Transition(again, thread, "spin: deadline not reached, spin again (DedicatedRun.Parking.cs, SpinForWork)"));
                var timedOut = Copy(state);
                Jump(timedOut, at, Pc.StopSearching);
                output.Add(new Transition(timedOut, thread, "spin TIMED OUT: SpinForWork returns false (DedicatedRun.Parking.cs, SpinForWork)"));
                break;
            }

            case Pc.StopSearching:
            {
                // DedicatedRun.Parking.cs, RunLoop: "if (SpinForWork())", "searching = false; Interlocked.Decrement(ref _searching);", "if (!Park())"
                // → DedicatedRun.Parking.cs, Park: "Interlocked.Increment(ref _parked);".
                var next = Copy(state);
                next[at + SearchingOffset] = 0;
                Set(next, SearchingAt, Get(state, SearchingAt) - 1);
                Jump(next, at, Pc.ParkAnnounce);
                output.Add(new Transition(next, thread, "stopped searching before parking: Interlocked.Decrement(ref _searching) (DedicatedRun.Parking.cs, RunLoop)"));
                break;
            }

            case Pc.ParkAnnounce:
            {
                // DedicatedRun.Parking.cs, Park: "Interlocked.Increment(ref _parked);".
                var next = Copy(state);
                Set(next, ParkedAt, Get(state, ParkedAt) + 1);
                Jump(next, at, Pc.ParkRecheck);
                output.Add(new Transition(next, thread, "Park announces: Interlocked.Increment(ref _parked) (DedicatedRun.Parking.cs, Park)"));
                break;
            }

            case Pc.ParkRecheck:
            {
                // DedicatedRun.Parking.cs, Park: "if ((!IsQueueEmpty || MayExit || Volatile.Read(ref _liveWorkers) > _maxWorkers) && TryClaimParked())":
                // !IsQueueEmpty (MayExit and the shrink test are false) → TryClaimParked; else
                // DedicatedRun.Parking.cs, Park: "Volatile.Read(ref _liveWorkers) <= _minWorkers", "WaitForPermit();" (true at MinWorkers == MaxWorkers).
                var next = Copy(state);
                var queued = Get(state, QueueAt) > 0;
                Jump(next, at, queued ? Pc.WithdrawRead : Pc.WaitPermit);
                output.Add(new Transition(
                    next,
                    thread,
                    queued ? "Park re-check saw work → withdraw (DedicatedRun.Parking.cs, Park)" : "Park re-check saw the queue empty → wait (DedicatedRun.Parking.cs, Park)"));
                break;
            }

            case Pc.WithdrawRead:
            case Pc.ClaimRead:
            {
                // DedicatedRun.Parking.cs, TryClaimParked: "var parked = Volatile.Read(ref _parked); while (parked > 0)", "return false;"
                // (when the loop does not run).
                var next = Copy(state);
                var parked = Get(state, ParkedAt);
                var withdraw = pc == Pc.WithdrawRead;
                if (parked > 0)
                {
                    Set(next, seenAt, parked);
                    Jump(next, at, withdraw ? Pc.WithdrawCas : Pc.ClaimCas);
                }
                else if (withdraw)
                {
                    // TryClaimParked returned false: our announcement was claimed, a permit is ours
                    // (DedicatedRun.Parking.cs, Park: "Volatile.Read(ref _liveWorkers) <= _minWorkers", "WaitForPermit();").
                    Jump(next, at, Pc.WaitPermit);
                }
                else
                {
                    // WakeOrSpawn: nobody to claim, and at MinWorkers == MaxWorkers nothing to spawn: return
                    // (DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _liveWorkers) < _maxWorkers)").
                    Return(next, at, isWorker);
                }

                output.Add(new Transition(
                    next,
                    thread,
                    parked > 0 ? "TryClaimParked read _parked > 0 (DedicatedRun.Parking.cs, TryClaimParked)" : "TryClaimParked read _parked == 0 → false (DedicatedRun.Parking.cs, TryClaimParked)"));
                break;
            }

            case Pc.WithdrawCas:
            case Pc.ClaimCas:
            {
                // DedicatedRun.Parking.cs, TryClaimParked: "var seen = Interlocked.CompareExchange(ref _parked, parked - 1, parked);", "if (seen == parked) { return true; }", "parked = seen;".
                var next = Copy(state);
                var expected = Get(state, seenAt);
                var actual = Get(state, ParkedAt);
                var withdraw = pc == Pc.WithdrawCas;
                string what;
                if (actual == expected)
                {
                    Set(next, ParkedAt, actual - 1);
                    Set(next, seenAt, 0);
                    if (withdraw)
                    {
                        // Withdrew: DedicatedRun.Parking.cs, Park: "&& TryClaimParked()) { Interlocked.Increment(ref _awakeWorkers); return true; }" →
                        // DedicatedRun.Parking.cs, RunLoop: "if (!Park())" is false → the loop's TryDequeue.
                        Jump(next, at, Pc.Dequeue);
                        what = "withdrew the announcement: CAS _parked succeeded → back to TryDequeue (DedicatedRun.Parking.cs, TryClaimParked → Park)";
                    }
                    else
                    {
                        Jump(next, at, Pc.Release);
                        what = "claimed a parked worker: CAS _parked succeeded (DedicatedRun.Parking.cs, TryClaimParked)";
                    }
                }
                else if (actual > 0)
                {
                    Set(next, seenAt, actual);
                    what = "CAS _parked failed, retry with the value seen (DedicatedRun.Parking.cs, TryClaimParked)";
                }
                else
                {
                    Set(next, seenAt, 0);
                    if (withdraw)
                    {
                        Jump(next, at, Pc.WaitPermit);
                        what = "CAS _parked failed, _parked is 0: we were claimed → wait for the permit (DedicatedRun.Parking.cs, TryClaimParked → Park)";
                    }
                    else
                    {
                        Return(next, at, isWorker);
                        what = "CAS _parked failed, _parked is 0: nobody to wake (DedicatedRun.Parking.cs, TryClaimParked)";
                    }
                }

                output.Add(new Transition(next, thread, what));
                break;
            }

            case Pc.WaitPermit:
            {
                // DedicatedRun.Parking.cs, WaitForPermit: "_wake.Wait(Timeout.Infinite)" blocks until a permit is free and takes it;
                // then DedicatedRun.Parking.cs, Park: "WaitForPermit(); Interlocked.Increment(ref _awakeWorkers); return true;" →
                // DedicatedRun.Parking.cs, RunLoop: "if (!Park())" is false → the loop's TryDequeue.
                if (Get(state, PermitsAt) > 0)
                {
                    var next = Copy(state);
                    Set(next, PermitsAt, Get(state, PermitsAt) - 1);
                    Jump(next, at, Pc.Dequeue);
                    output.Add(new Transition(next, thread, "woken: took a permit from _wake (DedicatedRun.Parking.cs, WaitForPermit → Park)"));
                }

                break;
            }

            case Pc.Running:
            {
                if (!_itemsBlockForever)
                {
                    // RunItem returned, no shrink, back to the loop's TryDequeue; idle stays false:
                    // DedicatedRun.Parking.cs, RunLoop: "RunItem(item, workerContext);", "if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers)", "continue;".
                    var next = Copy(state);
                    Jump(next, at, Pc.Dequeue);
                    output.Add(new Transition(next, thread, "the item returned → back to TryDequeue (DedicatedRun.Parking.cs, RunLoop)"));
                }

                break;
            }

            case Pc.WakeReadSearching:
            {
                // DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _searching) > 0) { return; }".
                var next = Copy(state);
                var searcher = Get(state, SearchingAt) > 0;
                if (searcher)
                {
                    Return(next, at, isWorker);
                }
                else
                {
                    Jump(next, at, Pc.WakeReadParked);
                }

                output.Add(new Transition(
                    next,
                    thread,
                    searcher ? "WakeOrSpawn saw a searcher → wakes nobody (DedicatedRun.Parking.cs, WakeOrSpawn)" : "WakeOrSpawn saw no searcher (DedicatedRun.Parking.cs, WakeOrSpawn)"));
                break;
            }

            case Pc.WakeReadParked:
            {
                // DedicatedRun.Parking.cs, WakeOrSpawn: "if (Volatile.Read(ref _parked) > 0 && TryClaimParked())", "if (Volatile.Read(ref _liveWorkers) < _maxWorkers)":
                // no parked worker → the spawn test, false here: return.
                var next = Copy(state);
                var parked = Get(state, ParkedAt) > 0;
                if (parked)
                {
                    Jump(next, at, Pc.ClaimRead);
                }
                else
                {
                    Return(next, at, isWorker);
                }

                output.Add(new Transition(
                    next,
                    thread,
                    parked ? "WakeOrSpawn saw _parked > 0 → TryClaimParked (DedicatedRun.Parking.cs, WakeOrSpawn)" : "WakeOrSpawn saw _parked == 0 → wakes nobody (DedicatedRun.Parking.cs, WakeOrSpawn)"));
                break;
            }

            case Pc.Release:
            {
                // DedicatedRun.Parking.cs, WakeOrSpawn: "_wake.Release(); return;".
                var next = Copy(state);
                Set(next, PermitsAt, Get(state, PermitsAt) + 1);
                Return(next, at, isWorker);
                output.Add(new Transition(next, thread, "released a permit: _wake.Release() (DedicatedRun.Parking.cs, WakeOrSpawn)"));
                break;
            }

            case Pc.Enqueue:
            {
                // PoolRun.cs, Enqueue: "queue.Enqueue(item); OnItemQueued();" → DedicatedRun.Parking.cs, OnItemQueued: "WakeOrSpawn()".
                var next = Copy(state);
                Set(next, QueueAt, Get(state, QueueAt) + 1);
                next[at + RemainingOffset]--;
                Jump(next, at, Pc.WakeReadSearching);
                output.Add(new Transition(next, thread, "enqueued an item: queue.Enqueue (PoolRun.cs, Enqueue)"));
                break;
            }

            case Pc.Done:
                break;

            default:
                throw new UnreachableException($"program counter {pc}");
        }
    }

    /// <summary>After taking an item and no longer searching: the hand-off (fixed rule, if idle) or the item.</summary>
    private void AfterStoppedSearching(byte[] next, int at)
    {
        if (_rule == HandOffRule.FixedRule && next[at + IdleOffset] != 0)
        {
            // DedicatedRun.Parking.cs, RunLoop: "if (idle) { idle = false; if (!IsQueueEmpty)" — the read is the next step.
            next[at + IdleOffset] = 0;
            Jump(next, at, Pc.HandOffCheckQueue);
        }
        else
        {
            // DedicatedRun.Parking.cs, RunLoop: "RunItem(item, workerContext);".
            Jump(next, at, Pc.Running);
        }
    }

    /// <summary>
    /// Returns from WakeOrSpawn: a worker runs its item (DedicatedRun.Parking.cs, RunLoop: "WakeOrSpawn();", "RunItem(item, workerContext);");
    /// a producer enqueues its next item or is done.
    /// </summary>
    private static void Return(byte[] next, int at, bool isWorker)
    {
        if (isWorker)
        {
            Set(next, at + WorkerSeenOffset, 0);
            Jump(next, at, Pc.Running);
            return;
        }

        Set(next, at + ProducerSeenOffset, 0);
        Jump(next, at, next[at + RemainingOffset] > 0 ? Pc.Enqueue : Pc.Done);
    }

    private static void Jump(byte[] state, int at, Pc pc) => state[at + PcOffset] = (byte)pc;

    private static byte[] Copy(byte[] state) => (byte[])state.Clone();

    /// <summary>The properties every reachable state must have; a description of the first one broken, if any.</summary>
    public string? CheckState(byte[] state)
    {
        var parked = Get(state, ParkedAt);
        var permits = Get(state, PermitsAt);
        var searching = Get(state, SearchingAt);
        if (parked < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"_parked is negative ({parked})");
        }

        if (permits < 0)
        {
            return string.Create(CultureInfo.InvariantCulture, $"the semaphore has a negative number of permits ({permits})");
        }

        if (searching is not (0 or 1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"_searching is {searching}, not 0 or 1");
        }

        var searchers = 0;
        var announced = 0;
        for (var w = 0; w < _workers; w++)
        {
            var at = WorkerAt(w);
            searchers += state[at + SearchingOffset];
            if ((Pc)state[at + PcOffset] is Pc.ParkRecheck or Pc.WithdrawRead or Pc.WithdrawCas or Pc.WaitPermit)
            {
                announced++;
            }
        }

        if (searchers != searching)
        {
            return string.Create(CultureInfo.InvariantCulture, $"_searching is {searching} but {searchers} workers have searching set");
        }

        var releasing = 0;
        for (var thread = 0; thread < _workers + _producers; thread++)
        {
            var at = thread < _workers ? WorkerAt(thread) : ProducerAt(thread - _workers);
            releasing += (Pc)state[at + PcOffset] == Pc.Release ? 1 : 0;
        }

        if (parked + permits + releasing != announced)
        {
            return string.Create(
                CultureInfo.InvariantCulture,
                $"permit accounting: _parked ({parked}) + permits ({permits}) + releases under way ({releasing}) != announced workers ({announced})");
        }

        return null;
    }

    /// <summary>The check of a state where no thread can take a step.</summary>
    public string? CheckTerminal(byte[] state)
    {
        var queued = Get(state, QueueAt);
        if (queued == 0)
        {
            return null;
        }

        var waiting = 0;
        for (var w = 0; w < _workers; w++)
        {
            waiting += (Pc)state[WorkerAt(w) + PcOffset] == Pc.WaitPermit ? 1 : 0;
        }

        return waiting == 0
            ? null // Every worker runs an item forever: the items still queued wait for a free worker, legitimately.
            : string.Create(
                CultureInfo.InvariantCulture,
                $"LOST WAKE-UP: no thread can move, {queued} item(s) queued, {waiting} worker(s) blocked in _wake.Wait with no permit");
    }

    /// <summary>Gets the runs of interchangeable threads: the workers, and the producers.</summary>
    public IReadOnlyList<StateSpaceExplorer.Symmetry> Symmetries =>
        [new(SharedSize, _workers, WorkerSize), new(ProducerAt(0), _producers, ProducerSize)];

    /// <summary>A one-line summary of a state: the shared counters, then each thread's next step.</summary>
    public string Describe(byte[] state)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"[queue={Get(state, QueueAt)} _searching={Get(state, SearchingAt)} _parked={Get(state, ParkedAt)} permits={Get(state, PermitsAt)} |");
        for (var w = 0; w < _workers; w++)
        {
            var at = WorkerAt(w);
            text.Append(CultureInfo.InvariantCulture, $" W{w}:{(Pc)state[at + PcOffset]}");
            if (state[at + SearchingOffset] != 0)
            {
                text.Append("+searching");
            }

            if (state[at + IdleOffset] != 0)
            {
                text.Append("+idle");
            }
        }

        for (var p = 0; p < _producers; p++)
        {
            var at = ProducerAt(p);
            text.Append(CultureInfo.InvariantCulture, $" P{p}:{(Pc)state[at + PcOffset]}({state[at + RemainingOffset]} left)");
        }

        return text.Append(']').ToString();
    }
}
