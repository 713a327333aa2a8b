using System.Diagnostics;
using ThreadLineage.Internal;
using ThreadLineage.Telemetry;

namespace ThreadLineage.Pools;

/// <content>
/// The worker threads: creation (up front and on demand), the run loop, parking, retirement and exit.
/// </content>
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
internal sealed partial class WorkerGroup
{
    // How long a worker with nothing to do spins before it parks: long enough to catch the next item of a
    // busy producer (a submission takes well under a microsecond), short enough that an idle pool costs nothing.
    // Measured in time, not iterations, because the cost of a pause instruction varies tenfold across CPUs.
    private static readonly long s_spinTicks = Stopwatch.Frequency * 5 / 1_000_000;

    [ThreadStatic]
    private static WorkerGroup? t_workerOf;

    // The current thread's worker slot, if it is a worker: where it counts completed items without contention.
    [ThreadStatic]
    private static WorkerSlot? t_slot;

    // The worker's own context (lineage: the manager's owner), for work run inline while the worker waits.
    [ThreadStatic]
    private static ExecutionContext? t_workerContext;

    private readonly SemaphoreSlim _wake = new(0);
    private readonly object _exitMonitor = new();
    private readonly Lock _threadsLock = new();
    private readonly List<WorkerSlot> _workers = [];
    private readonly Lock _idleLock = new();
    private List<TaskCompletionSource>? _idleWaiters;

    private volatile int _maxWorkers;
    private volatile int _minWorkers;
    private int _parked;

    // Idle workers spinning for new work (at most one). Producers wake a parked worker only when it is 0.
    private int _searching;
    private int _liveWorkers;
    private int _awakeWorkers;
    private int _workerNumber;
    private int _closeClaimed;

    /// <summary>Gets the run whose worker the current thread is, if any.</summary>
    public static WorkerGroup? Current => t_workerOf;

    public int MaxWorkers => _maxWorkers;

    public int LiveWorkers => Volatile.Read(ref _liveWorkers);

    /// <summary>Gets the number of workers running an item right now (statistics only: it takes a lock).</summary>
    public int BusyWorkers
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
    public void Resize(int maxWorkers)
    {
        _maxWorkers = maxWorkers;
        if (_minWorkers > maxWorkers)
        {
            _minWorkers = maxWorkers;
        }

        // Parked workers re-check the size when woken; queued work may use the new room at once.
        WakeAll();
        var waiting = _queue.Count;
        while (waiting-- > 0 && TrySpawnWorker())
        {
        }
    }

    /// <summary>Blocks until the workers have exited, or, on one of this run's own workers, until the others have.</summary>
    public void WaitForExit()
    {
        if (t_workerOf == this)
        {
            // The calling worker cannot exit while it waits; it closes the run when it returns to its loop.
            lock (_exitMonitor)
            {
                while (Volatile.Read(ref _liveWorkers) > 1)
                {
                    Monitor.Wait(_exitMonitor);
                }
            }

            return;
        }

#pragma warning disable VSTHRD002 // Stop(wait: true) is synchronous by contract; the workers complete Exited without needing this thread.
        Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
        JoinThreads();
        WaitForPrevious();
    }

    /// <summary>Waits for the run this one replaced, if it still drains (a restart right after a non-waiting stop).</summary>
    public void WaitForPrevious()
    {
        if (Previous is { } previous)
        {
            previous.WaitForExit();
            ForgetPrevious(previous);
        }
    }

    /// <summary>
    /// At process exit: waits for the queue to drain and running work to finish, for as long as the run makes
    /// progress. A run that makes none for <paramref name="stall"/> (a work item that itself called
    /// <c>Environment.Exit</c> and waits inside it, or a deadlock) is abandoned so that the process can end.
    /// </summary>
    public void WaitForExitAtProcessExit(TimeSpan stall)
    {
        var mark = ProgressMark();
        var lastProgress = Stopwatch.GetTimestamp();
        while (!((IAsyncResult)Exited).AsyncWaitHandle.WaitOne(TimeSpan.FromMilliseconds(100)))
        {
            var now = ProgressMark();
            if (now != mark)
            {
                mark = now;
                lastProgress = Stopwatch.GetTimestamp();
            }
            else if (Stopwatch.GetElapsedTime(lastProgress) > stall)
            {
                return;
            }
        }

        Previous?.WaitForExitAtProcessExit(stall);
    }

    private long ProgressMark()
    {
        var statistics = Manager.GetStatistics();
        return statistics.Completed + statistics.Faulted + statistics.Canceled - QueuedItems;
    }

    /// <summary>Waits until the threads of this run have terminated (they have finished all work when <see cref="Exited"/> completes).</summary>
    public void JoinThreads()
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

    /// <summary>Completes when the queue is empty and no worker is running work.</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken)
    {
        if (IsIdle)
        {
            return Task.CompletedTask;
        }

        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_idleLock)
        {
            (_idleWaiters ??= []).Add(waiter);
        }

        // Re-check after registering: a worker that went idle before we registered did not see us.
        if (IsIdle)
        {
            ReleaseIdleWaiters();
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs a task inline on a worker of this run that is blocked waiting for it.</summary>
    public bool TryExecuteInline(Task task)
    {
        Debug.Assert(t_workerOf == this, "only this run's own workers may run its work inline");
        // The waiting item's context must come back intact, and a task that captured no context runs in the
        // worker's own context, not in the waiter's.
        // Ownership is suspended around the context switches too: switching back to the waiter's context
        // must not make the waiter forget the node it owns.
        var owned = Lineage.SuspendOwnership();
        var waiterContext = ExecutionContext.Capture();
        try
        {
            if (waiterContext is not null)
            {
                ExecutionContext.Restore(t_workerContext!);
            }

            return Execute(task);
        }
        finally
        {
            if (waiterContext is not null)
            {
                ExecutionContext.Restore(waiterContext);
            }

            Lineage.ResumeOwnership(owned);
        }
    }

    private bool IsIdle => _queue.IsEmpty && Volatile.Read(ref _awakeWorkers) == 0;

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
    public long UnfoldedCompleted
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
        Lineage.SetWorkerLineage(Manager.Owner);
        var workerContext = ExecutionContext.Capture()!;
        t_workerContext = workerContext;
        // Interlocked: the first worker publishes the pool's own context; all workers' are alike.
        Interlocked.CompareExchange(ref _baseContext, workerContext, null);
        Interlocked.Increment(ref _awakeWorkers);
        try
        {
            Manager.RaiseWorkerStarted();
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

            PulseExit();
            return;
        }

        initialized?.Signal();
        var stopped = RunLoop(slot, workerContext);
        // Before the run can close (and Stop return), so that statistics are exact once it has.
        Manager.FoldCompleted(slot.TakeCompleted());
        t_slot = null;
        if (stopped)
        {
            ExitWorker(workerContext);
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
                    if (!_queue.IsEmpty)
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
            if (IsStopRequested)
            {
                // The queue was empty after the stop: leave. The last worker out drains any straggler.
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
            if (!_queue.IsEmpty || IsStopRequested)
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
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && _queue.IsEmpty)
        {
            ReleaseIdleWaiters();
        }

        // Interlocked: announce before re-checking, so a producer that enqueues after our re-check sees us.
        Interlocked.Increment(ref _parked);
        if ((!_queue.IsEmpty || IsStopRequested || Volatile.Read(ref _liveWorkers) > _maxWorkers) && TryClaimParked())
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
        if (!_queue.IsEmpty && TryUnretire())
        {
            return true;
        }

        // Interlocked: leaving may make the pool idle, exactly as parking does.
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && _queue.IsEmpty)
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
                PulseExit();
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

    private void RunItem(in WorkItem item, ExecutionContext workerContext)
    {
        if (item.Work is Task task)
        {
            // A task runs in the context it captured when it was created and restores ours afterwards. One
            // created without a context (flow off, or submitted under ExecutionContext.SuppressFlow) runs in
            // ours: undo whatever AsyncLocals it changed, so nothing reaches the next item. Restore is a
            // reference comparison when nothing changed.
            Execute(task, item.EnqueuedAt);
            ExecutionContext.Restore(workerContext);
        }
        else
        {
            RunPosted(item, workerContext);
        }
    }

    private bool Execute(Task task, long enqueuedAt = 0)
    {
        if (_cancelPending && task is IPoolWorkItem)
        {
            // Stop(cancelPending: true): a queued submission ends Canceled without running.
            TaskCanceler.RequestCancellation(task);
        }

        PoolMetrics.RecordQueueWait(Manager, enqueuedAt);
        return Manager.Scheduler.Execute(task);
    }

    private void RunPosted(in WorkItem item, ExecutionContext workerContext)
    {
        PoolMetrics.RecordQueueWait(Manager, item.EnqueuedAt);
        if (_cancelPending)
        {
            Manager.AccountPostedCanceled(item.TaskType);
            return;
        }

        var owned = Lineage.SuspendOwnership();
        var started = PoolMetrics.RunStartTimestamp();
        try
        {
            if (item.Context is { } context)
            {
                ExecutionContext.Restore(context);
            }

            if (item.Invoker is { } invoker)
            {
                invoker.Invoke((Delegate)item.Work, item.State);
            }
            else
            {
                ((Action)item.Work)();
            }

            Manager.AccountPosted(exception: null, item.TaskType, started);
        }
        catch (Exception exception)
        {
            // A posted item has no task to carry its fault: count it and log it; the worker lives on.
            Manager.AccountPosted(exception, item.TaskType, started);
        }
        finally
        {
            // One item's AsyncLocals never reach the next: always return to the worker's own context.
            ExecutionContext.Restore(workerContext);
            Lineage.ResumeOwnership(owned);
        }
    }

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

    private void ReleaseIdleWaiters()
    {
        List<TaskCompletionSource>? waiters;
        lock (_idleLock)
        {
            waiters = _idleWaiters;
            _idleWaiters = null;
        }

        if (waiters is not null)
        {
            foreach (var waiter in waiters)
            {
                waiter.TrySetResult();
            }
        }
    }

    private void ExitWorker(ExecutionContext workerContext)
    {
        // Interlocked: exactly one worker sees zero and closes the run (retirement never takes the last one).
        if (Interlocked.Decrement(ref _liveWorkers) == 0)
        {
            Close(workerContext);
        }

        PulseExit();
        t_workerOf = null;
    }

    private void PulseExit()
    {
        lock (_exitMonitor)
        {
            Monitor.PulseAll(_exitMonitor);
        }
    }

    private void Close(ExecutionContext workerContext)
    {
        // Interlocked: exactly one close, even if a failed start and a stop race.
        if (Interlocked.Exchange(ref _closeClaimed, 1) != 0)
        {
            return;
        }

        // Interlocked: from here on every enqueue is refused. Keep draining until the enqueuers already
        // inside the gate are gone (one may be waiting for room in a full bounded queue).
        Interlocked.Or(ref _gate.Value, ClosedFlag);
        var spinner = new SpinWait();
        while (true)
        {
            if (TryDequeue(out var item))
            {
                Thread.CurrentThread.IsBackground = Settings.IsBackground;
                RunItem(item, workerContext);
                continue;
            }

            if ((Volatile.Read(ref _gate.Value) & EnqueuersMask) == 0 && _queue.IsEmpty)
            {
                break;
            }

            spinner.SpinOnce();
        }

        ReleaseIdleWaiters();
        _exited.TrySetResult();
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
