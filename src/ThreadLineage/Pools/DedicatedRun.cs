using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;

namespace ThreadLineage.Pools;

/// <summary>
/// A run with dedicated worker threads: creation (up front and on demand), the run loop, parking, retirement and
/// exit. The threads serve this run's queue; a borrowing run's items reach them as <em>turns</em> queued there.
/// </summary>
/// <remarks>
/// <para>
/// The protocol's invariant: <b>every queued item has a worker that is awake or about to be woken.</b>
/// </para>
/// <para>
/// Parking: a worker with nothing to do announces itself in <c>_parked</c>, re-checks the queue, and
/// waits on <c>_wake</c>. A producer that enqueues and then sees an announced worker claims it
/// (decrements <c>_parked</c>) and releases one permit. Both sides use interlocked operations (full
/// fences), so either the worker's re-check sees the item or the producer sees the announcement.
/// Workers are interchangeable, so it does not matter which announcement is claimed.
/// </para>
/// <para>
/// Searching: one idle worker at a time spins for new work, and a producer that sees it searching wakes
/// nobody. The searcher therefore owes a wake-up for whatever it leaves behind: the first item any worker
/// takes after it found the queue empty (by spinning, by re-checking while parking, or after being woken)
/// makes it wake another worker if the queue is still not empty. The woken worker does the same, so a
/// burst wakes one worker per queued item until the queue is empty or nobody is parked.
/// </para>
/// <para>
/// At least one worker stays alive while the run is running (MinWorkers is at least 1), so the last
/// worker to exit is always the one that closes the run.
/// </para>
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The wake semaphore never allocates a wait handle (AvailableWaitHandle is not used), and late Release calls must not meet a disposed object.")]
internal sealed class DedicatedRun : PoolRun
{
    // How long a worker with nothing to do spins before it parks: long enough to catch the next item of a
    // busy producer (a submission takes well under a microsecond), short enough that an idle pool costs nothing.
    // Measured in time, not iterations, because the cost of a pause instruction varies tenfold across CPUs.
    private static readonly long s_spinTicks = Stopwatch.Frequency * 5 / 1_000_000;

    [ThreadStatic]
    private static DedicatedRun? t_workerOf;

    // The current thread's worker slot, if it is a worker: where it counts completed items without contention.
    [ThreadStatic]
    private static WorkerSlot? t_slot;

    // The worker's own context (lineage: the manager's owner), for work run inline while the worker waits.
    [ThreadStatic]
    private static ExecutionContext? t_workerContext;

    private readonly SemaphoreSlim _wake = new(0);
    private readonly Lock _threadsLock = new();
    private readonly List<WorkerSlot> _workers = [];

    private volatile int _maxWorkers;
    private volatile int _minWorkers;
    private int _parked;

    // Idle workers spinning for new work (at most one). Producers wake a parked worker only when it is 0.
    private int _searching;
    private int _liveWorkers;
    private int _awakeWorkers;
    private int _workerNumber;
    private int _closeClaimed;

    // A worker's own context (lineage: the manager's owner), for work that flows no context.
    private ExecutionContext? _baseContext;

    public DedicatedRun(ThreadPoolManager manager, PoolSettings settings, PoolRun? previous)
        : base(manager, settings, previous, createQueue: true)
    {
        _maxWorkers = settings.MaxWorkers;
        _minWorkers = settings.MinWorkers;
    }

    /// <summary>Gets the run whose worker the current thread is, if any.</summary>
    public static DedicatedRun? Current => t_workerOf;

    /// <summary>Gets the current worker thread's own context (its manager's lineage, nothing else), if it is a worker.</summary>
    public static ExecutionContext? CurrentWorkerContext => t_workerContext;

    public override DedicatedRun Threads => this;

    public override PoolRun? Host => null;

    public override int MaxWorkers => _maxWorkers;

    public override int LiveWorkers => Volatile.Read(ref _liveWorkers);

    /// <summary>Gets the context of this run's workers (captured by the first worker before <c>Start</c> returns).</summary>
    public ExecutionContext? BaseContext => Volatile.Read(ref _baseContext);

    /// <summary>Gets the number of workers running an item right now (statistics only: it takes a lock).</summary>
    public override int BusyWorkers
    {
        get
        {
            var busy = 0;
            lock (_threadsLock)
            {
                foreach (var worker in _workers)
                {
                    busy += worker.IsRunningItem ? 1 : 0;
                }
            }

            return busy;
        }
    }

    /// <summary>Creates the first <c>MinWorkers</c> workers and waits until each has run <c>OnWorkerStarted</c>.</summary>
    /// <exception cref="AggregateException">An <c>OnWorkerStarted</c> threw; every worker has exited again.</exception>
    public void Start()
    {
        var count = _minWorkers;
        var errors = new Exception?[count];
        using var initialized = new CountdownEvent(count);
        _liveWorkers = count;
        for (var i = 0; i < count; i++)
        {
            var index = i;
            SpawnThread(slot => WorkerMain(slot, index, initialized, errors));
        }

        initialized.Wait();
        var failures = errors.Where(static e => e is not null).Select(static e => e!).ToArray();
        if (failures.Length > 0)
        {
            RequestStop(cancelPending: true);
            WaitForExit();
            throw new AggregateException(
                $"Thread pool manager '{Manager.Id}' did not start: OnWorkerStarted threw on {failures.Length} of {count} workers. " +
                "No worker is left running; fix OnWorkerStarted and call Start again.",
                failures);
        }
    }

    /// <summary>Changes the number of workers; extra workers retire when they next look for work.</summary>
    public override void Resize(int maxWorkers)
    {
        _maxWorkers = maxWorkers;
        if (_minWorkers > maxWorkers)
        {
            _minWorkers = maxWorkers;
        }

        // Parked workers re-check the size when woken; queued work may use the new room at once.
        WakeAll();
        var waiting = QueuedItems;
        while (waiting-- > 0 && TrySpawnWorker())
        {
        }
    }

    /// <summary>
    /// Blocks until the workers have exited, or, on one of this run's own workers, until every other worker has
    /// exited or is idle with nothing queued (the calling worker closes the run when it returns to its loop).
    /// </summary>
    public override void WaitForExit()
    {
        if (t_workerOf == this)
        {
            // Polling: a stop from one of the pool's own items is rare, and this keeps the workers' paths free of
            // any signalling for it. While a borrower of this run is open (perhaps the one whose item calls us), the
            // others stay parked instead of exiting: then idle with nothing queued is as far as they go.
            var spinner = new SpinWait();
            while (Volatile.Read(ref _liveWorkers) > 1 && !(HasOpenBorrowers && IsQueueEmpty && Volatile.Read(ref _awakeWorkers) <= 1))
            {
                spinner.SpinOnce();
            }

            return;
        }

#pragma warning disable VSTHRD002 // Stop(wait: true) is synchronous by contract; the workers complete Exited without needing this thread.
        Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        JoinThreads();
        WaitForPrevious();
    }

    /// <summary>Waits until the threads of this run have terminated (they have finished all work when <see cref="PoolRun.Exited"/> completes).</summary>
    public override void JoinThreads()
    {
        Thread[] threads;
        lock (_threadsLock)
        {
            threads = [.. _workers.Select(static w => w.Thread)];
        }

        foreach (var thread in threads)
        {
            if (thread != Thread.CurrentThread)
            {
                thread.Join();
            }
        }
    }

    private protected override bool IsIdle => IsQueueEmpty && Volatile.Read(ref _awakeWorkers) == 0;

    private protected override ExecutionContext? OwnContext => BaseContext;

    private bool MayExit => IsStopRequested && !HasOpenBorrowers && !HasOutsideDrainers;

    private void SpawnThread(Action<WorkerSlot> body)
    {
        var slot = new WorkerSlot(Manager);
        var thread = new Thread(() => body(slot))
        {
            Name = $"{Settings.ThreadNamePrefix}-{Interlocked.Increment(ref _workerNumber)}",
            // Idle workers never keep the process alive; a worker turns foreground while it runs work
            // of a non-background pool (see RunLoop).
            IsBackground = true,
        };
        slot.Thread = thread;
        lock (_threadsLock)
        {
            // Forget retired workers so a long-lived elastic pool does not accumulate dead threads.
            _workers.RemoveAll(static w => !w.Thread.IsAlive);
            _workers.Add(slot);
        }

        // UnsafeStart: the worker must not capture (and keep alive) the starter's AsyncLocals.
        thread.UnsafeStart();
    }

    /// <summary>Adds a worker if the run is below its size; called by producers that found no parked worker.</summary>
    private bool TrySpawnWorker()
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live < _maxWorkers && !IsStopRequested)
        {
            // Compare-exchange: never exceed MaxWorkers when producers race to grow the pool.
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live + 1, live);
            if (seen == live)
            {
                SpawnThread(slot => WorkerMain(slot, index: -1, initialized: null, errors: null));
                return true;
            }

            live = seen;
        }

        return false;
    }

    /// <summary>
    /// Counts a completed item of <paramref name="manager"/> on the current worker's own slot (a plain write to a
    /// line no other thread writes) instead of a counter all workers share; <see langword="false"/> off the workers.
    /// </summary>
    public static bool TryCountCompletedOnWorker(ThreadPoolManager manager)
    {
        var slot = t_slot;
        if (slot is null || !ReferenceEquals(slot.Manager, manager))
        {
            return false;
        }

        slot.CountCompleted();
        return true;
    }

    /// <summary>Gets the completed items counted on the slots of live workers and not yet folded into the manager.</summary>
    public override long UnfoldedCompleted
    {
        get
        {
            long completed = 0;
            lock (_threadsLock)
            {
                foreach (var worker in _workers)
                {
                    completed += worker.Completed;
                }
            }

            return completed;
        }
    }

    private void WorkerMain(WorkerSlot slot, int index, CountdownEvent? initialized, Exception?[]? errors)
    {
        t_workerOf = this;
        t_slot = slot;
        EnterItems(this);
        Lineage.SetWorkerLineage(Manager.Owner);
        var workerContext = ExecutionContext.Capture()!;
        t_workerContext = workerContext;
        // Interlocked: the first worker publishes the pool's own context; all workers' are alike.
        Interlocked.CompareExchange(ref _baseContext, workerContext, null);
        Interlocked.Increment(ref _awakeWorkers);
        try
        {
            Manager.RaiseWorkerStarted(Settings);
        }
        catch (Exception exception)
        {
            // At Start: reported by Start, which stops the run. On demand: logged; the pool keeps its other workers.
            if (errors is not null)
            {
                errors[index] = exception;
            }

            initialized?.Signal();
            Interlocked.Decrement(ref _awakeWorkers);
            if (errors is not null)
            {
                PoolLog.Safely(static (logger, state) => PoolLog.WorkerStartFailed(logger, state.Id, state.Exception), Settings.Logger, (Manager.Id, Exception: exception));
                ExitWorker(workerContext);
                return;
            }

            PoolLog.Safely(static (logger, state) => PoolLog.OnDemandWorkerStartFailed(logger, state.Id, state.Exception), Settings.Logger, (Manager.Id, Exception: exception));
            // Interlocked: a worker created on demand leaves. If peers retired meanwhile and we were the
            // last, the running pool must not be left without a worker: bring up a replacement.
            if (Interlocked.Decrement(ref _liveWorkers) == 0)
            {
                if (IsStopRequested || !TrySpawnWorker())
                {
                    // Stopping (or cannot grow): this departure is the last one, so it closes the run.
                    Interlocked.Increment(ref _liveWorkers);
                    ExitWorker(workerContext);
                    return;
                }
            }

            return;
        }

        initialized?.Signal();
        WaitForPreviousToDrain();
        var stopped = RunLoop(slot, workerContext);
        // Before the run can close (and Stop return), so that statistics are exact once it has.
        Manager.FoldCompleted(slot.TakeCompleted());
        t_slot = null;
        if (stopped)
        {
            ExitWorker(workerContext);
        }

        // The thread is still alive, so a waiting stop (which joins the threads) returns after the hook.
        RaiseWorkerStopping();
    }

    /// <summary>
    /// A restart while the previous run still drains: its queued items start before this run's, and the two runs
    /// together never run more than MaxWorkers items (a one-worker pool stays an event loop), so this run's workers
    /// take work only once the previous run has drained. Items submitted meanwhile wait in this run's queue.
    /// </summary>
    private void WaitForPreviousToDrain()
    {
        if (Previous is { IsDrained: false } previous)
        {
#pragma warning disable VSTHRD002 // A worker thread of its own, not a caller's: blocking it is the point.
            previous.Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        }
    }

    private void RaiseWorkerStopping()
    {
        if (Settings.WorkerStopping is not { } hook)
        {
            return;
        }

        try
        {
            hook(Manager);
        }
        catch (Exception exception)
        {
            // The thread is leaving anyway: a throwing hook is reported, never allowed to crash the process.
            PoolLog.Safely(static (logger, state) => PoolLog.WorkerStoppingFailed(logger, state.Id, state.Exception), Settings.Logger, (Manager.Id, Exception: exception));
        }
    }

    /// <summary>Runs work until the run stops (returns <see langword="true"/>) or this worker retires (<see langword="false"/>).</summary>
    private bool RunLoop(WorkerSlot slot, ExecutionContext workerContext)
    {
        // Idle workers are background threads; a worker of a non-background pool turns foreground while
        // it has work, so running and queued work keeps the process alive but an idle pool does not.
        var toggleBackground = !Settings.IsBackground;
        var isForeground = false;
        var searching = false;

        // Set from the moment the worker finds the queue empty (it then searches or parks) until it takes an item.
        var idle = true;
        while (true)
        {
            if (TryDequeue(out var item))
            {
                if (searching)
                {
                    // Interlocked: we stop searching, before the hand-off below reads the queue.
                    searching = false;
                    Interlocked.Decrement(ref _searching);
                }

                if (idle)
                {
                    // The hand-off (see the remarks): producers woke nobody while a worker searched, so the first
                    // item found after idling obliges its finder to wake a worker for whatever is still queued.
                    // Without it, a search that timed out and then found the first of two items while parking
                    // left the second queued next to a parked worker.
                    idle = false;
                    if (!IsQueueEmpty)
                    {
                        WakeOrSpawn();
                    }
                }

                if (toggleBackground && !isForeground)
                {
                    Thread.CurrentThread.IsBackground = false;
                    isForeground = true;
                }

                // Plain volatile writes on this worker's own slot: statistics only, nothing waits on them.
                slot.IsRunningItem = true;
                RunItem(item, workerContext);
                slot.IsRunningItem = false;
                if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers) && !RetiredUnlessWorkArrived())
                {
                    return false;
                }

                continue;
            }

            idle = true;
            if (MayExit)
            {
                // The queue was empty after the stop and no borrower is open: leave. The last worker out drains any straggler.
                if (searching)
                {
                    Interlocked.Decrement(ref _searching);
                }

                Interlocked.Decrement(ref _awakeWorkers);
                return true;
            }

            // One idle worker at a time searches (spins) for new work; while it does, producers wake nobody.
            // Compare-exchange: become the searcher only if there is none.
            if (!searching && Interlocked.CompareExchange(ref _searching, 1, 0) == 0)
            {
                searching = true;
            }

            if (searching)
            {
                if (SpinForWork())
                {
                    // Work arrived within a few microseconds: parking and waking would have cost far more.
                    continue;
                }

                // Interlocked: stop searching before parking; Park re-checks the queue after announcing, so an
                // item enqueued by a producer that saw us searching (and woke nobody) is not missed.
                searching = false;
                Interlocked.Decrement(ref _searching);
            }

            if (isForeground)
            {
                Thread.CurrentThread.IsBackground = true;
                isForeground = false;
            }

            if (!Park())
            {
                return false;
            }
        }
    }

    /// <summary>Spins for about 5 µs (never yielding the core) in case work arrives right away.</summary>
    private bool SpinForWork()
    {
        var deadline = Stopwatch.GetTimestamp() + s_spinTicks;
        do
        {
            if (!IsQueueEmpty || MayExit)
            {
                return true;
            }

            Thread.SpinWait(1);
        }
        while (Stopwatch.GetTimestamp() < deadline);

        return false;
    }

    /// <summary>Parks until woken; returns <see langword="false"/> if the worker retired instead.</summary>
    private bool Park()
    {
        // A pool shrunk by SetMaxWorkers: an idle worker over the size retires instead of parking.
        if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers))
        {
            return RetiredUnlessWorkArrived();
        }

        // Interlocked: awake count first, so an idle waiter sees "nothing running" only when that is true.
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && IsQueueEmpty)
        {
            ReleaseIdleWaiters();
        }

        // Interlocked: announce before re-checking, so a producer that enqueues after our re-check sees us.
        Interlocked.Increment(ref _parked);
        if ((!IsQueueEmpty || MayExit || Volatile.Read(ref _liveWorkers) > _maxWorkers) && TryClaimParked())
        {
            // Work, a stop or a shrink arrived while announcing and nobody claimed us: withdraw and go back.
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        if (Settings.IdleTimeout == Timeout.InfiniteTimeSpan || Volatile.Read(ref _liveWorkers) <= _minWorkers)
        {
            // Either nothing is pending, or a producer claimed an announced worker and released a permit for it.
            WaitForPermit();
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        if (WaitForPermit(Settings.IdleTimeout))
        {
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        // Idle for IdleTimeout. Withdraw the announcement; if a producer claimed every announcement
        // meanwhile, a permit is on its way for us: take it and work instead of retiring.
        if (!TryClaimParked())
        {
            WaitForPermit();
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        Interlocked.Increment(ref _awakeWorkers);
        return !TryRetire(_minWorkers) || RetiredUnlessWorkArrived();
    }

    /// <summary>Waits for a wake permit; an interrupt left pending by a work item does not kill the worker.</summary>
    private bool WaitForPermit(TimeSpan timeout = default)
    {
        while (true)
        {
            try
            {
                return timeout == default ? _wake.Wait(Timeout.Infinite) : _wake.Wait(timeout);
            }
            catch (ThreadInterruptedException)
            {
                // A work item interrupted its own worker and returned: the interrupt surfaced here. It was
                // meant for that item, not for the pool; wait again (the permit accounting is unchanged).
            }
        }
    }

    /// <summary>
    /// Called right after this worker retired. A submission that arrived as we retired saw either our
    /// announcement (withdrawn, so it claimed another) or the lower live count (so it spawned a worker);
    /// re-check in case it saw neither, and come back if the pool still has room.
    /// </summary>
    /// <returns><see langword="true"/> if the worker came back to work.</returns>
    private bool RetiredUnlessWorkArrived()
    {
        if (!IsQueueEmpty && TryUnretire())
        {
            return true;
        }

        // Interlocked: leaving may make the pool idle, exactly as parking does.
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && IsQueueEmpty)
        {
            ReleaseIdleWaiters();
        }

        return false;
    }

    private bool TryRetire(int floor)
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live > Math.Max(1, floor) && !IsStopRequested)
        {
            // Compare-exchange: retire only while the pool stays at or above its floor (and at least one worker).
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live - 1, live);
            if (seen == live)
            {
                return true;
            }

            live = seen;
        }

        return false;
    }

    private bool TryUnretire()
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live < _maxWorkers && live > 0 && !IsStopRequested)
        {
            // Compare-exchange: come back only if the pool still has room for us.
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live + 1, live);
            if (seen == live)
            {
                return true;
            }

            live = seen;
        }

        return false;
    }

    private protected override void OnItemQueued() => WakeOrSpawn();

    // Parked workers re-check whether they may leave (or must cancel what is queued).
    private protected override void OnStopRequested() => WakeAll();

    // A borrower that drained may have been the last thing keeping a stopping run's workers from leaving.
    private protected override void OnBorrowerClosed() => WakeAll();

    // Likewise a stop that was canceling what was queued.
    private protected override void OnDrainOutsideRunnersEnded() => WakeAll();

    private void WakeOrSpawn()
    {
        // A searching worker will find the item within microseconds: waking another would cost a system
        // call per item. (The searcher re-checks the queue after it stops searching and before it parks.)
        if (Volatile.Read(ref _searching) > 0)
        {
            return;
        }

        if (Volatile.Read(ref _parked) > 0 && TryClaimParked())
        {
            _wake.Release();
            return;
        }

        // No parked worker to take it: grow if the pool is below its size (no-op at MinWorkers == MaxWorkers).
        if (Volatile.Read(ref _liveWorkers) < _maxWorkers)
        {
            TrySpawnWorker();
        }
    }

    private void WakeAll()
    {
        // Interlocked: claim every announced worker at once; each gets one permit.
        var parked = Interlocked.Exchange(ref _parked, 0);
        if (parked > 0)
        {
            _wake.Release(parked);
        }
    }

    private bool TryClaimParked()
    {
        var parked = Volatile.Read(ref _parked);
        while (parked > 0)
        {
            // Compare-exchange: claim exactly one announced worker, never driving the count below zero.
            var seen = Interlocked.CompareExchange(ref _parked, parked - 1, parked);
            if (seen == parked)
            {
                return true;
            }

            parked = seen;
        }

        return false;
    }

    private void ExitWorker(ExecutionContext workerContext)
    {
        // Interlocked: exactly one worker sees zero and closes the run (retirement never takes the last one).
        if (Interlocked.Decrement(ref _liveWorkers) == 0)
        {
            Close(workerContext);
        }

        t_workerOf = null;
    }

    private void Close(ExecutionContext workerContext)
    {
        // Interlocked: exactly one close, even if a failed start and a stop race.
        if (Interlocked.Exchange(ref _closeClaimed, 1) != 0)
        {
            return;
        }

        CloseGateAndDrainEnqueuers(workerContext);
        CompleteExited();
    }

    /// <summary>One worker thread: whether it is running an item (for <see cref="BusyWorkers"/>) and its completed count.</summary>
    private sealed class WorkerSlot(ThreadPoolManager manager)
    {
        private volatile bool _isRunningItem;

        // Written only by the worker itself; read by statistics.
        private long _completed;

        public ThreadPoolManager Manager { get; } = manager;

        public Thread Thread { get; set; } = null!;

        public long Completed => Volatile.Read(ref _completed);

        public void CountCompleted() => Volatile.Write(ref _completed, _completed + 1);

        /// <summary>Returns the count and resets it; called by the worker itself as it leaves.</summary>
        public long TakeCompleted()
        {
            var completed = _completed;
            Volatile.Write(ref _completed, 0);
            return completed;
        }

        public bool IsRunningItem
        {
            get => _isRunningItem;
            set => _isRunningItem = value;
        }
    }
}
