using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;

namespace ThreadLineage.Pools;

/// <summary>
/// A run with dedicated worker threads: this file holds its state, the workers' start and exit, and the run's close.
/// The threads serve this run's queue; a borrowing run's items reach them as <em>turns</em> queued there.
/// </summary>
/// <remarks>
/// Split by concept: <c>DedicatedRun.Parking.cs</c> is the run loop and the parking and wake-up protocol (with its
/// invariant); <c>DedicatedRun.Elasticity.cs</c> is growth on demand, <c>SetMaxWorkers</c> and retirement;
/// <see cref="WorkerSlot"/> is one worker thread's own counters. At least one worker stays alive while the run is
/// running (MinWorkers is at least 1), so the last worker to exit is always the one that closes the run.
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The wake semaphore never allocates a wait handle (AvailableWaitHandle is not used), and late Release calls must not meet a disposed object.")]
internal sealed partial class DedicatedRun : PoolRun
{
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

    // How long this pool's searching worker spins now, adapted to how soon its work arrives. Plain reads and writes:
    // a heuristic; a lost update changes the length of one spin, never whether an item is found (a worker re-checks
    // the queue after announcing that it parks).
    private SpinLength _spin = new();

    /// <summary>Gets the length of this pool's next spin, in <see cref="Stopwatch"/> ticks (tests).</summary>
    internal long SpinTicks => _spin.Ticks;

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
                $"Thread pool manager '{Manager.Id}' did not start: the worker-start hook (OnWorkerStarted or the WorkerStarted option) threw on {failures.Length} of {count} workers. " +
                "No worker is left running; fix the hook and call Start again.",
                failures);
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

    private void ExitWorker(ExecutionContext workerContext)
    {
        // Interlocked: exactly one worker sees zero and closes the run (retirement never takes the last one).
        if (Interlocked.Decrement(ref _liveWorkers) == 0)
        {
            Close(workerContext);
        }

        AssertWorkerCounters();
        t_workerOf = null;
    }

    /// <summary>Checks the workers' counters (Debug builds only; the Debug test pass runs them).</summary>
    [Conditional("DEBUG")]
    private void AssertWorkerCounters()
    {
        Debug.Assert(Volatile.Read(ref _parked) >= 0, "more parked workers claimed than announced");
        Debug.Assert(Volatile.Read(ref _searching) is 0 or 1, "more than one searching worker");
        Debug.Assert(Volatile.Read(ref _liveWorkers) >= 0, "more workers left than started");
        Debug.Assert(Volatile.Read(ref _awakeWorkers) >= 0, "more workers went idle than woke");
        AssertRunCounters();
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
}
