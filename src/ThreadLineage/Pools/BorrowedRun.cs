using System.Diagnostics;

namespace ThreadLineage.Pools;

/// <summary>
/// A run that borrows the threads of a host run (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>): it has its own
/// queue, limit, task type, statistics and lifecycle, and creates no thread.
/// </summary>
/// <remarks>
/// <para>
/// Its items reach the host's threads through <em>turns</em>: an entry in the host's queue that, when a host thread
/// takes it, runs this run's items until it has run <see cref="TurnLength"/> of them and something else waits on the
/// host, and then, if more are queued, queues the next turn at the back of the host's queue. At most <see cref="MaxWorkers"/> turns exist at once (each holds one slot of
/// <c>_turns</c>), so at most that many of this run's items run at once; because the host's queue is FIFO, the host's
/// own items and every other borrower's turns get their go in between, so a flood into one queue never starves another.
/// A borrower of a borrower queues its turns on its host's queue in the same way, so limits compose.
/// </para>
/// <para>
/// The protocol's invariant: <b>every queued item has a turn that will run it.</b> An enqueuer takes a free slot and
/// queues a turn, or sees every slot taken; a turn that finds the queue empty gives its slot back and then looks at
/// the queue again. Both sides change something with an interlocked operation (a full fence) before they look at what
/// the other changed, so either the enqueuer sees a free slot or the leaving turn sees the item and takes a slot back.
/// </para>
/// <para>
/// Stopping: a stop refuses new submissions; the run <em>finishes</em> (its <see cref="PoolRun.Exited"/> completes and
/// it leaves its host) once no turn holds a slot, the queue is empty, no enqueuer is inside the gate and no borrower of
/// its own is open. Every transition that can make that true (a turn ending, an enqueuer leaving, the stop itself, a
/// nested borrower finishing) calls <see cref="TryFinish"/>.
/// </para>
/// </remarks>
internal sealed class BorrowedRun : PoolRun
{
    /// <summary>
    /// Items one turn runs before the host's other queues get a go: short enough that an item submitted to an idle
    /// queue starts within a few items of everything else, long enough that queueing the next turn costs little per item.
    /// </summary>
    internal const int TurnLength = 4;

    private readonly PoolRun _host;
    private readonly ExecutionContext? _ownContext;
    private volatile int _limit;

    // Turns holding a slot: queued on the host or running. Never more than _limit (except briefly after a shrink).
    private int _turns;

    // Turns running right now (BusyWorkers, and the wait of a stop called from one of our own items).
    private int _running;
    private int _finished;

    // Set while the run this one replaced still drains: no turn is queued until it has (see the constructor).
    private volatile bool _held;

    public BorrowedRun(ThreadPoolManager manager, PoolSettings settings, PoolRun host, PoolRun? previous)
        : base(manager, settings, previous, createQueue: false)
    {
        _host = host;
        _limit = settings.MaxWorkers;
        _ownContext = settings.FlowExecutionContext ? null : CreateOwnContext(host.Threads.BaseContext, manager.Owner);
        if (previous is { IsDrained: false })
        {
            // A restart while the previous run drains: its queued items start before ours, and the two runs together
            // never run more than MaxWorkers items, so our turns begin once it has drained.
            _held = true;
            _ = previous.Exited.ContinueWith(
                static (_, state) => ((BorrowedRun)state!).Release(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
        }
    }

    public override DedicatedRun Threads => _host.Threads;

    public override PoolRun Host => _host;

    public override int MaxWorkers => _limit;

    public override int LiveWorkers => 0;

    public override int BusyWorkers => Volatile.Read(ref _running);

    private protected override ExecutionContext? OwnContext => _ownContext;

    private protected override bool IsIdle => IsQueueEmpty && Volatile.Read(ref _turns) == 0;

    // The queue first, then the turns: an item taken from the queue before the first read is run by a turn that holds
    // its slot until the item is done, so no turn at the second read means no item of ours still runs. (The other order
    // let a turn that re-took a slot between the two reads run the last item unseen: found by TurnProtocolModel.)
    private bool IsQuiet => IsQueueEmpty && Volatile.Read(ref _turns) == 0 && !HasOpenBorrowers && !HasOutsideDrainers;

    /// <summary>Gets or sets whether this run was stopped because its host stopped (for the message of a refused submission).</summary>
    public bool StoppedWithHost { get; set; }

    /// <summary>Registers with the host; fails if the host has begun to stop.</summary>
    public bool TryStart() => _host.TryAddBorrower(this);

    public override void Resize(int maxWorkers)
    {
        _limit = maxWorkers;
        // Queued work may use the new room at once; a lower limit takes effect as turns end.
        while (!IsQueueEmpty && TryAddTurn())
        {
        }
    }

    /// <summary>
    /// Waits until the run has finished. From one of its own items: until its other turns have ended. From a thread of
    /// the threads it borrows (an item of the host, or of another borrower): runs its queued items on this thread while
    /// it waits, since its turns may be queued behind the very item that waits.
    /// </summary>
    public override void WaitForExit()
    {
        if (IsRunningOnCurrentThread())
        {
            // Polling: a stop from one of the pool's own items is rare; this turn ends when the item returns.
            var spinner = new SpinWait();
            while (Volatile.Read(ref _running) > 1)
            {
                spinner.SpinOnce();
            }

            return;
        }

        if (ReferenceEquals(DedicatedRun.Current?.Manager, Threads.Manager))
        {
            HelpUntilFinished();
        }
        else
        {
#pragma warning disable VSTHRD002 // Stop(wait: true) is synchronous by contract; the host's threads complete Exited without this thread.
            Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        }

        WaitForPrevious();
    }

    /// <summary>Queues a turn (which holds a slot already) at the back of the host's queue.</summary>
    public void QueueTurnOnHost()
    {
        if (!_host.TryEnqueueTurn(this))
        {
            // The host closes only after every borrower finished. A turn can still be queued after we finished (a
            // ReleaseTurn, or the end of a stop's drain, that re-took a slot while another turn finished the run); it
            // finds our queue empty. If the host has closed meanwhile, it runs on the shared .NET thread pool instead:
            // nothing is lost either way (TurnProtocolModel checks both).
            ThreadPool.UnsafeQueueUserWorkItem(static run => run.RunTurn(run._ownContext ?? run.Threads.BaseContext!), this, preferLocal: false);
        }
    }

    /// <summary>Runs queued items on the current (host) thread, yielding after <see cref="TurnLength"/> when others wait; then queues the next turn or leaves.</summary>
    public void RunTurn(ExecutionContext workerContext)
    {
        // Interlocked: read by statistics and by a stop waiting from one of our own items.
        Interlocked.Increment(ref _running);
        var outer = EnterItems(this);
        var ran = 0;
        try
        {
            // A turn yields after TurnLength items only if something else waits on the host (or the limit was
            // lowered): with nobody waiting, queueing the next turn would only cost a round trip through the host's queue.
            while ((ran < TurnLength || (!_host.HasQueuedWork && Volatile.Read(ref _turns) <= _limit)) && TryDequeue(out var item))
            {
                RunItem(item, workerContext);
                ran++;
            }
        }
        finally
        {
            LeaveItems(outer);
            Interlocked.Decrement(ref _running);
        }

        // More work and the slot still within the limit (SetMaxWorkers may have lowered it): the next turn goes to
        // the back of the host's queue, behind whatever else the host has queued meanwhile.
        if (ran >= TurnLength && !IsQueueEmpty && Volatile.Read(ref _turns) <= _limit)
        {
            QueueTurnOnHost();
            return;
        }

        ReleaseTurn();
    }

    private protected override void OnItemQueued() => TryAddTurn();

    private protected override void OnStopRequested() => TryFinish();

    private protected override void OnBorrowerClosed() => TryFinish();

    private protected override void OnGateLeftWhileStopping() => TryFinish();

    private protected override void OnDrainOutsideRunnersEnded()
    {
        // What the drain put back (continuations) needs a turn; then the run may finish.
        while (!IsQueueEmpty && TryAddTurn())
        {
        }

        if (IsStopRequested)
        {
            TryFinish();
        }
    }

    /// <summary>The context work of a borrower with flow off runs in: the host's clean worker context, with this manager's lineage.</summary>
    private static ExecutionContext? CreateOwnContext(ExecutionContext? hostContext, LineageNode? owner)
    {
        if (hostContext is null)
        {
            return null;
        }

        // ExecutionContext.Run switches and restores the caller's context (suppressed flow included) itself; the
        // switch only suspends ownership around it, so that the switches leave the caller's node owned.
        ExecutionContext? created = null;
        using (ContextSwitch.Enter(target: null, returnTo: null))
        {
            ExecutionContext.Run(
                hostContext,
                state =>
                {
                    Lineage.SetWorkerLineage(owner);
                    created = ExecutionContext.Capture();
                },
                null);
        }

        return created;
    }

    private void Release()
    {
        _held = false;
        // A full fence between the write and the queue check, pairing with the enqueue (an interlocked step) an
        // enqueuer takes before it reads _held: either it sees us released, or we see its item.
        Interlocked.MemoryBarrier();
        while (!IsQueueEmpty && TryAddTurn())
        {
        }

        if (IsStopRequested)
        {
            TryFinish();
        }
    }

    private bool TryAddTurn()
    {
        if (_held)
        {
            return false;
        }

        var turns = Volatile.Read(ref _turns);
        while (turns < _limit)
        {
            // Compare-exchange: never more turns than the limit, however many enqueuers race for the last slot.
            var seen = Interlocked.CompareExchange(ref _turns, turns + 1, turns);
            if (seen == turns)
            {
                QueueTurnOnHost();
                return true;
            }

            turns = seen;
        }

        return false;
    }

    private void ReleaseTurn()
    {
        // Interlocked (a full fence) before looking at the queue: an enqueuer that saw every slot taken had enqueued
        // before it looked, so either we see its item now or it saw our slot free and queued a turn itself.
        if (Interlocked.Decrement(ref _turns) == 0 && IsQueueEmpty)
        {
            ReleaseIdleWaiters();
        }

        if (!IsQueueEmpty)
        {
            TryAddTurn();
        }

        if (IsStopRequested)
        {
            TryFinish();
        }

        AssertTurnCounters();
    }

    /// <summary>Checks the turn counters (Debug builds only; the Debug test pass runs them).</summary>
    [Conditional("DEBUG")]
    private void AssertTurnCounters()
    {
        var turns = Volatile.Read(ref _turns);
        Debug.Assert(turns >= 0, "more turns ended than began");
        Debug.Assert(Volatile.Read(ref _running) >= 0, "more turns stopped running than started");
        Debug.Assert(Volatile.Read(ref _finished) is 0 or 1, "the run finished more than once");
        AssertRunCounters();
    }

    /// <summary>Finishes the run once it was asked to stop and everything it accepted has run.</summary>
    private void TryFinish()
    {
        // Quiet, then close the gate (refused while an enqueuer is inside: it calls us again as it leaves), then quiet
        // again: an enqueuer that entered and left between the first look and the close queued an item and a turn,
        // and that turn's end calls us again.
        if (!IsStopRequested || !IsQuiet || !TryCloseGate() || !IsQuiet)
        {
            return;
        }

        // Interlocked: the end of a turn, an enqueuer leaving, the stop and a nested borrower finishing may race here.
        if (Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }

        CompleteExited();
        _host.RemoveBorrower(this);
    }

    private void HelpUntilFinished()
    {
        var workerContext = DedicatedRun.CurrentWorkerContext!;
        var spinner = new SpinWait();
        var drain = BeginDrainOutsideRunners();
        try
        {
            HelpWhileItemsRemain(workerContext, ref spinner);
        }
        finally
        {
            EndDrainOutsideRunners(drain);
        }
    }

    private void HelpWhileItemsRemain(ExecutionContext workerContext, ref SpinWait spinner)
    {
        // Done when everything queued has run and no turn runs an item. Turns still queued on the host (perhaps
        // behind the item that waits here) will find the queue empty and finish the run when they end.
        while (!IsDrained && !(IsQueueEmpty && Volatile.Read(ref _running) == 0))
        {
            if (TryDequeue(out var item))
            {
                // Beyond the limit by this one thread, as a nested wait that runs an item inline is.
                var outer = EnterItems(this);
                RunItem(item, workerContext);
                LeaveItems(outer);
                spinner = default;
                continue;
            }

            // Nothing queued: the rest is running on other threads.
            spinner.SpinOnce();
        }
    }
}
