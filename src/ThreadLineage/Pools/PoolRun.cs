using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;
using ThreadLineage.Telemetry;

namespace ThreadLineage.Pools;

/// <summary>
/// One run of a <see cref="ThreadPoolManager"/>, from <c>Start</c> until its queue has drained after a stop: the
/// FIFO queue the manager admits work into, its admission gate, bounded capacity, and how an item runs. Who runs
/// the queue is the subclass's business: <see cref="DedicatedRun"/> has threads of its own;
/// <see cref="BorrowedRun"/> borrows the threads of a host run, on which it queues <em>turns</em> that each
/// run a few of its items.
/// </summary>
/// <remarks>
/// <para>
/// The <em>gate</em> counts enqueuers in flight and carries two flags. <c>StopRequested</c> refuses new
/// submissions; <c>Closed</c>, set once the run has drained, refuses every enqueue. A run closes only when no
/// enqueuer is inside the gate, so an item that got through the gate always runs in this run: nothing is
/// stranded in a queue nobody reads. Items refused by a closed gate (continuations of async work resuming after
/// the pool stopped) are run elsewhere by the manager's scheduler.
/// </para>
/// <para>
/// A run may be the host of borrowing runs. It keeps them in <c>_borrowers</c> so that a stop reaches them, and
/// counts them in <c>_openBorrowers</c>: a host does not close while a borrower it serves is still open.
/// </para>
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The semaphore never allocates a wait handle (AvailableWaitHandle is not used), and late Release calls must not meet a disposed object.")]
[DebuggerDisplay("{GetType().Name,nq} of '{Manager.Id,nq}': {QueuedItems} queued, {BusyWorkers} busy, stop requested: {IsStopRequested}, drained: {IsDrained}")]
internal abstract class PoolRun
{
    // The run whose item (or borrowed turn) runs innermost on this thread, for "is this one of my own workers?".
    [ThreadStatic]
    private static PoolRun? t_itemRun;

    // Created on the first enqueue for a borrowing run (an idle borrower costs a few hundred bytes, not the queue's
    // first segment); at construction for a dedicated one. Never replaced once set.
    private volatile ConcurrentQueue<WorkItem>? _queue;

    // Bounded queues only: one permit per free queue slot, taken before an enqueue, returned on dequeue.
    private readonly SemaphoreSlim? _slots;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    // Guards the idle waiters and the borrowers, both off the hot path (one lock: a borrowing run is small). Created on
    // first use (SyncRoot): an idle borrower that never stops, waits or hosts anything does without it.
    private Lock? _lock;

    // How Stop(cancelPending: true) cancels queued submissions: the manager's, as the run was created.
    private readonly TaskCanceler _canceler;
    private List<TaskCompletionSource>? _idleWaiters;
    private List<BorrowedRun>? _borrowers;

    // Updated by every submission (twice): on a cache line of its own, away from the fields workers write.
    private AdmissionGate _gate;

    // Mirrors the gate's StopRequested flag for readers, so spinning workers do not read the gate's line
    // while producers update it on every submission.
    private volatile bool _stopRequested;
    private volatile bool _cancelPending;

    // Borrowing runs registered on this run and not yet finished; the run cannot finish while one is open.
    private int _openBorrowers;

    // Threads draining the queue from outside the runners (see BeginDrainOutsideRunners); the run cannot finish meanwhile.
    private int _outsideDrainers;

    // Entries in the queue that are borrowers' turns, not this manager's items (QueuedItems leaves them out).
    private int _queuedTurns;

    // The manager's run this one replaced while it was still draining: a waiting stop waits for it too.
    private PoolRun? _previous;

    private protected PoolRun(ThreadPoolManager manager, PoolSettings settings, PoolRun? previous, bool createQueue)
    {
        Manager = manager;
        Settings = settings;
        _previous = previous;
        _queue = createQueue ? new ConcurrentQueue<WorkItem>() : null;
        _canceler = manager.Canceler;
        if (settings.QueueCapacity is { } capacity)
        {
            _slots = new SemaphoreSlim(capacity);
        }
    }

    /// <summary>The outcome of asking a bounded queue for room.</summary>
    public enum Room
    {
        /// <summary>A slot is reserved (or the queue is unbounded): enqueue.</summary>
        Reserved,

        /// <summary>The queue is full and the mode rejects: throw <see cref="ThreadPoolFullException"/>.</summary>
        Rejected,

        /// <summary>The queue is full and the work must run on the calling thread.</summary>
        RunInCaller,

        /// <summary>The submission's token fired while it waited for room.</summary>
        Canceled,
    }

    public ThreadPoolManager Manager { get; }

    public PoolSettings Settings { get; }

    /// <summary>Gets the run whose threads run this run's items: itself for a dedicated run, the host's for a borrowing one.</summary>
    public abstract DedicatedRun Threads { get; }

    /// <summary>Gets the run this one borrows from, or <see langword="null"/> for a dedicated run.</summary>
    public abstract PoolRun? Host { get; }

    /// <summary>Gets the most items of this run that run at once (its threads, or its borrowing limit).</summary>
    public abstract int MaxWorkers { get; }

    /// <summary>Gets this run's own threads alive (0 for a borrowing run).</summary>
    public abstract int LiveWorkers { get; }

    /// <summary>Gets how many of this run's items are running right now (statistics only).</summary>
    public abstract int BusyWorkers { get; }

    /// <summary>Gets the completed items counted where the manager does not see them yet (worker slots).</summary>
    public virtual long UnfoldedCompleted => 0;

    /// <summary>Gets a task that completes when the run has drained and (for a dedicated run) its workers have exited.</summary>
#pragma warning disable VSTHRD003 // The run's own workers complete this task; it never needs the caller's context.
    public Task Exited => _exited.Task;
#pragma warning restore VSTHRD003

    public bool IsDrained => _exited.Task.IsCompleted;

    /// <summary>Gets the run this one replaced while it still drained, until that run has been waited for.</summary>
    public PoolRun? Previous => Volatile.Read(ref _previous);

    /// <summary>Gets the items of this manager waiting in the queue (borrowers' turns are not counted).</summary>
    public int QueuedItems => _queue is { } queue ? Math.Max(0, queue.Count - Volatile.Read(ref _queuedTurns)) : 0;

    public bool IsStopRequested => _stopRequested;

    /// <summary>
    /// Gets whether queued submissions are canceled through the runtime's fast path; when not, each submission is created
    /// with a token of its own (<see cref="OwnedCancellation"/>).
    /// </summary>
    public bool CancelsThroughRuntime => _canceler.IsAvailable;

    /// <summary>Gets whether a borrowing run registered on this one is still open (not yet drained).</summary>
    private protected bool HasOpenBorrowers => Volatile.Read(ref _openBorrowers) != 0;

    /// <summary>Gets whether a thread outside the runners holds items it took from the queue (see <see cref="BeginDrainOutsideRunners"/>).</summary>
    private protected bool HasOutsideDrainers => Volatile.Read(ref _outsideDrainers) != 0;

    /// <summary>Gets the context work runs in when it flows none (<see cref="ThreadPoolManagerOptions.FlowExecutionContext"/> off).</summary>
    private protected abstract ExecutionContext? OwnContext { get; }

    private protected bool IsQueueEmpty => _queue?.IsEmpty ?? true;

    /// <summary>Gets the context a posted item runs in: the poster's, or the pool's own when the pool flows none.</summary>
    private ExecutionContext? PostedContext => Settings.FlowExecutionContext ? ExecutionContext.Capture() : OwnContext;

    /// <summary>Gets whether anything waits in the queue (items or borrowers' turns): a borrower's turn yields only then.</summary>
    public bool HasQueuedWork => !IsQueueEmpty;

    private Lock SyncRoot
    {
        get
        {
            // Compare-exchange: racing first users agree on one lock.
            return Volatile.Read(ref _lock) ?? Interlocked.CompareExchange(ref _lock, new Lock(), null) ?? _lock;
        }
    }

    /// <summary>Forgets the previous run once it has been waited for, so a chain of restarts is not kept alive.</summary>
    public void ForgetPrevious(PoolRun drained) => Interlocked.CompareExchange(ref _previous, null, drained);

    /// <summary>Gets whether the current thread is running an item of this run, directly or inside a borrower's turn.</summary>
    public bool IsRunningOnCurrentThread()
    {
        for (var run = t_itemRun; run is not null; run = run.Host)
        {
            if (ReferenceEquals(run, this))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Enters the gate for a submission; fails once a stop has been requested.</summary>
    public bool TryEnterSubmission()
    {
        if (_gate.Enter().AdmitsSubmissions)
        {
            return true;
        }

        ExitGate();
        return false;
    }

    /// <summary>Leaves the gate after the submission was enqueued (or refused).</summary>
    public void ExitSubmission() => ExitGate();

    /// <summary>Reserves room for one admitted submission in a bounded queue, as <see cref="QueueFullMode"/> says.</summary>
    public Room ReserveRoom(CancellationToken cancellationToken)
    {
        if (_slots is null || _slots.Wait(0, CancellationToken.None))
        {
            return Room.Reserved;
        }

        switch (Settings.QueueFullMode)
        {
            case QueueFullMode.Reject:
                return Room.Rejected;
            case QueueFullMode.RunInCaller:
                return Room.RunInCaller;
            default:
                if (ReferenceEquals(DedicatedRun.Current?.Manager, Threads.Manager))
                {
                    // Waiting on one of the threads that run our items (our own, or the host's that we borrow, in this
                    // run or a previous one still draining) could wait for ourselves: room is made only when those
                    // threads take items. Run it here instead.
                    return Room.RunInCaller;
                }

                try
                {
                    _slots.Wait(cancellationToken);
                    return Room.Reserved;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return Room.Canceled;
                }
        }
    }

    /// <summary>Gives back room reserved by <see cref="ReserveRoom"/> for a submission that was not enqueued after all.</summary>
    public void ReleaseRoom() => _slots?.Release();

    /// <summary>
    /// Runs work on the calling thread the way a worker would (a full queue that runs work in the caller):
    /// the thread's own node is suspended, the work runs in the pool's own context when flow is off, and the
    /// caller's context comes back afterwards, so nothing the work sets or attaches reaches the caller.
    /// </summary>
    public void RunInCaller<TState>(Action<TState> body, TState state)
    {
        using (ContextSwitch.Enter(Settings.FlowExecutionContext ? null : OwnContext, returnTo: ExecutionContext.Capture()))
        {
            body(state);
        }
    }

    /// <summary>
    /// Creates a submission (a task, which captures the current context) as if on a worker: in the pool's own
    /// context, for pools with <see cref="ThreadPoolManagerOptions.FlowExecutionContext"/> off. The task then
    /// carries that context like any other and restores the worker's afterwards.
    /// </summary>
    public TItem CreateInPoolContext<TState, TItem>(Func<TState, TItem> create, TState state)
    {
        var callerContext = ExecutionContext.Capture();
        if (callerContext is null || OwnContext is not { } poolContext)
        {
            // The caller suppressed flow: the task captures nothing and runs in the worker's own context.
            return create(state);
        }

        // Not ExecutionContext.SuppressFlow: the Task constructor registers the token and only then records "no
        // context" with a plain (not atomic) update of its state flags, so a cancellation in between is lost and the
        // task later finishes a second time (InvalidCastException in Task.RunContinuations; exit probe
        // cancel-race-flow-off, tests/ThreadLineage.Tests/Robustness/README.md, finding 5). A task that captured a
        // context records it elsewhere and is not exposed.
        using (ContextSwitch.Enter(poolContext, returnTo: callerContext))
        {
            return create(state);
        }
    }

    /// <summary>Enqueues an admitted submission; the caller holds the gate and the reserved room.</summary>
    public void EnqueueAdmitted(Task item)
    {
        Debug.Assert(_gate.Read().Enqueuers > 0, "the submitter must hold the gate");
        Enqueue(WorkItem.ForTask(item, PoolMetrics.QueueWaitTimestamp()));
    }

    /// <summary>Enqueues an admitted posted item; the caller holds the gate and the reserved room.</summary>
    /// <param name="work">The posted delegate.</param>
    /// <param name="ownTaskType">The task type it was posted with when the pool has none (kept for logging), else <see langword="null"/>.</param>
    public void EnqueuePosted(Action work, string? ownTaskType)
    {
        Debug.Assert(_gate.Read().Enqueuers > 0, "the poster must hold the gate");
        Enqueue(ownTaskType is null
            ? WorkItem.ForPosted(work, PostedContext, PoolMetrics.QueueWaitTimestamp())
            : WorkItem.ForPosted(work, ownTaskType, PostedContext, PoolMetrics.QueueWaitTimestamp()));
    }

    /// <summary>Enqueues an admitted posted item with state; the caller holds the gate and the reserved room.</summary>
    /// <param name="work">The posted delegate.</param>
    /// <param name="state">Its argument.</param>
    /// <param name="ownTaskType">The task type it was posted with when the pool has none (kept for logging), else <see langword="null"/>.</param>
    public void EnqueuePosted<TState>(Action<TState> work, TState state, string? ownTaskType)
    {
        Debug.Assert(_gate.Read().Enqueuers > 0, "the poster must hold the gate");
        Enqueue(WorkItem.ForPosted(work, state, ownTaskType, PostedContext, PoolMetrics.QueueWaitTimestamp()));
    }

    /// <summary>Enqueues a task that is not a new submission (a continuation, a scheduler task) unless the run has closed.</summary>
    public bool TryEnqueueInternal(Task task) =>
        // Not a submission: it bypasses the bounded capacity, which must never refuse a continuation.
        TryEnqueueInternal(WorkItem.ForTask(task, PoolMetrics.QueueWaitTimestamp()));

    /// <summary>Queues a turn of <paramref name="borrower"/> on this run unless it has closed.</summary>
    public bool TryEnqueueTurn(BorrowedRun borrower)
    {
        // Interlocked: counted before it is visible in the queue, so QueuedItems never counts a turn as an item.
        Interlocked.Increment(ref _queuedTurns);
        if (TryEnqueueInternal(WorkItem.ForTurn(borrower)))
        {
            return true;
        }

        Interlocked.Decrement(ref _queuedTurns);
        return false;
    }

    /// <summary>Registers a borrowing run; fails once this run has been asked to stop.</summary>
    public bool TryAddBorrower(BorrowedRun borrower)
    {
        // The lock orders registration against RequestStop's snapshot: a borrower registered before the stop
        // is stopped by it; one that comes after is refused here.
        lock (SyncRoot)
        {
            if (_stopRequested)
            {
                return false;
            }

            (_borrowers ??= []).Add(borrower);
            // Interlocked: read without the lock by workers deciding whether they may exit.
            Interlocked.Increment(ref _openBorrowers);
            return true;
        }
    }

    /// <summary>Called by a borrowing run once it has drained: it no longer keeps this run open.</summary>
    public void RemoveBorrower(BorrowedRun borrower)
    {
        lock (SyncRoot)
        {
            _borrowers?.Remove(borrower);
        }

        // Interlocked before the notification: a worker that parks after reading the count sees zero, and one
        // that parked before is woken by OnBorrowerClosed.
        Interlocked.Decrement(ref _openBorrowers);
        AssertRunCounters();
        OnBorrowerClosed();
    }

    /// <summary>Returns the borrowing runs registered on this run (for diagnostics and statistics).</summary>
    public BorrowedRun[] SnapshotBorrowers()
    {
        lock (SyncRoot)
        {
            return _borrowers is null ? [] : [.. _borrowers];
        }
    }

    /// <summary>
    /// Stops accepting submissions; with <paramref name="cancelPending"/>, cancels the submissions still queued.
    /// Borrowing runs served by this run are stopped too (their managers stop running).
    /// </summary>
    public void RequestStop(bool cancelPending)
    {
        if (cancelPending)
        {
            // Set before the stop flag is published so that every worker that sees the stop also cancels.
            _cancelPending = true;
        }

        BorrowedRun[] borrowers;
        lock (SyncRoot)
        {
            // The gate's flag first, then the mirror for readers (a reader that sees it set also sees the gate refuse
            // submissions). Under the lock, so that no borrower registers after the snapshot below.
            _gate.RequestStop();
            _stopRequested = true;
            borrowers = _borrowers is null ? [] : [.. _borrowers];
        }

        foreach (var borrower in borrowers)
        {
            borrower.Manager.StopBecauseHostStopped(borrower, cancelPending);
        }

        if (cancelPending)
        {
            var drain = BeginDrainOutsideRunners();
            try
            {
                CancelQueuedSubmissions();
            }
            finally
            {
                EndDrainOutsideRunners(drain);
            }
        }

        OnStopRequested();
    }

    /// <summary>
    /// Announces a thread that takes items out of the queue without being one of the run's runners (a stop canceling
    /// what is queued, a borrower's stop helping on a host thread): the run does not finish while one is at work, since
    /// the items it took are not final yet. (A borrowing run's gate may already have closed: a continuation the drain
    /// puts back then runs on the shared .NET thread pool, as one that arrives after the close does.)
    /// </summary>
    private protected DrainOutsideRunners BeginDrainOutsideRunners()
    {
        // Interlocked, before the first dequeue: a runner that then finds the queue empty reads this count afterwards
        // and does not take the empty queue for a drained run.
        Interlocked.Increment(ref _outsideDrainers);
        return new DrainOutsideRunners(this);
    }

    /// <summary>Ends what <see cref="BeginDrainOutsideRunners"/> began; the run may close or finish now.</summary>
    private protected void EndDrainOutsideRunners(DrainOutsideRunners drain)
    {
        Debug.Assert(ReferenceEquals(drain.Run, this), "a drain ends on the run it began on");
        // Interlocked before the notification, as for a borrower closing (RemoveBorrower).
        Interlocked.Decrement(ref _outsideDrainers);
        AssertRunCounters();
        OnDrainOutsideRunnersEnded();
    }

    /// <summary>Returns the tasks waiting in the queue, for debuggers.</summary>
    public Task[] SnapshotQueue()
    {
        var tasks = new List<Task>();
        foreach (var item in _queue ?? [])
        {
            if (item.Work is Task task)
            {
                tasks.Add(task);
            }
        }

        return [.. tasks];
    }

    /// <summary>Completes when the queue is empty and no work runs.</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken)
    {
        if (IsIdle)
        {
            return Task.CompletedTask;
        }

        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (SyncRoot)
        {
            (_idleWaiters ??= []).Add(waiter);
        }

        // Re-check after registering: a worker that went idle before we registered did not see us. The fence keeps
        // this read after the registration (a lock's release alone would let it move ahead on x86), pairing with
        // the interlocked step a worker takes before it reads _idleWaiters.
        Interlocked.MemoryBarrier();
        if (IsIdle)
        {
            ReleaseIdleWaiters();
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs a task of this run inline on a thread of its <see cref="Threads"/> that is blocked waiting for it.</summary>
    public bool TryExecuteInline(Task task)
    {
        Debug.Assert(
            ReferenceEquals(DedicatedRun.Current?.Manager, Threads.Manager),
            "only the threads of the manager that serves this run (this or a previous run of it) may run its work inline");
        // The waiting item's context must come back intact (and still own its node), and a task that captured no
        // context runs in the worker's own context, not in the waiter's.
        var waiterContext = ExecutionContext.Capture();
        using (ContextSwitch.Enter(waiterContext is null ? null : DedicatedRun.CurrentWorkerContext, returnTo: waiterContext))
        {
            return Execute(task);
        }
    }

    /// <summary>Waits until the run has drained (see the subclasses for what a call from the run's own thread waits for).</summary>
    public abstract void WaitForExit();

    /// <summary>Waits until the threads of this run have terminated; nothing for a borrowing run.</summary>
    public virtual void JoinThreads()
    {
    }

    /// <summary>Changes how many items run at once.</summary>
    public abstract void Resize(int maxWorkers);

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

    /// <summary>Runs one queue entry on the current thread, which serves this run; restores <paramref name="workerContext"/> after it.</summary>
    private protected void RunItem(in WorkItem item, ExecutionContext workerContext)
    {
        // Cases in order of cost to tell apart: Action and BorrowedRun are sealed (one type-handle comparison each),
        // Task is not (a call to the runtime's cast helper), so a posted Action never pays that call.
        switch (item.Work)
        {
            case Action:
                RunPosted(item, workerContext);
                break;
            case BorrowedRun borrower:
                // A borrower's turn: it runs a few of its own items on this thread, then queues its next turn.
                borrower.RunTurn(workerContext);
                break;
            case Task task:
                // A task runs in the context it captured when it was created and restores ours afterwards. One
                // created without a context (flow off, or submitted under ExecutionContext.SuppressFlow) runs in
                // ours: undo whatever AsyncLocals it changed, so nothing reaches the next item. Restore is a
                // reference comparison when nothing changed.
                Execute(task, item.EnqueuedAt);
                ExecutionContext.Restore(workerContext);
                break;
            default:
                RunPosted(item, workerContext);
                break;
        }
    }

    /// <summary>Marks the current thread as running items of this run until <see cref="LeaveItems"/>.</summary>
    private protected static PoolRun? EnterItems(PoolRun run)
    {
        var outer = t_itemRun;
        t_itemRun = run;
        return outer;
    }

    /// <summary>Restores what <see cref="EnterItems"/> replaced.</summary>
    private protected static void LeaveItems(PoolRun? outer) => t_itemRun = outer;

    private protected bool TryDequeue(out WorkItem item)
    {
        var queue = _queue;
        if (queue is null || !queue.TryDequeue(out item))
        {
            item = default;
            return false;
        }

        if (item.Work is BorrowedRun)
        {
            // Interlocked: pairs with the increment in TryEnqueueTurn.
            Interlocked.Decrement(ref _queuedTurns);
        }
        else if (_slots is not null && item.HoldsSlot)
        {
            _slots.Release();
        }

        return true;
    }

    /// <summary>Checks the run's own counters (Debug builds only; the Debug test pass runs them).</summary>
    [Conditional("DEBUG")]
    private protected void AssertRunCounters()
    {
        Debug.Assert(Volatile.Read(ref _openBorrowers) >= 0, "more borrowers left than registered");
        Debug.Assert(Volatile.Read(ref _outsideDrainers) >= 0, "more drains ended than began");
        Debug.Assert(Volatile.Read(ref _queuedTurns) >= 0, "more turns dequeued than queued");
    }

    /// <summary>Called after an item was enqueued: make sure someone will run it.</summary>
    private protected abstract void OnItemQueued();

    /// <summary>Called once the stop flag is set (and pending work canceled when asked).</summary>
    private protected abstract void OnStopRequested();

    /// <summary>Called when a borrowing run of this one has drained.</summary>
    private protected abstract void OnBorrowerClosed();

    /// <summary>Called when a thread that drained the queue from outside the runners is done.</summary>
    private protected abstract void OnDrainOutsideRunnersEnded();

    /// <summary>Called when an enqueuer leaves the gate of a run that was asked to stop.</summary>
    private protected virtual void OnGateLeftWhileStopping()
    {
    }

    /// <summary>Completes <see cref="Exited"/> and releases idle waiters; called exactly once, when the run has drained.</summary>
    private protected void CompleteExited()
    {
        ReleaseIdleWaiters();
        _exited.TrySetResult();
    }

    /// <summary>Closes the gate if nobody is inside (an enqueuer inside tries again as it leaves); returns whether it is closed.</summary>
    private protected bool TryCloseGate() => _gate.TryCloseWhenEmpty();

    /// <summary>Closes the gate for good and waits until the enqueuers already inside have left (they enqueue first).</summary>
    private protected void CloseGateAndDrainEnqueuers(ExecutionContext workerContext)
    {
        // From here on every enqueue is refused. Keep draining until the enqueuers already inside the gate are gone
        // (one may be waiting for room in a full bounded queue).
        _gate.Close();
        var spinner = new SpinWait();
        while (true)
        {
            if (TryDequeue(out var item))
            {
                Thread.CurrentThread.IsBackground = Settings.IsBackground;
                RunItem(item, workerContext);
                continue;
            }

            if (_gate.Read().Enqueuers == 0 && IsQueueEmpty)
            {
                break;
            }

            spinner.SpinOnce();
        }
    }

    private protected void ReleaseIdleWaiters()
    {
        if (Volatile.Read(ref _idleWaiters) is null)
        {
            // Nobody waits (the common case): no lock. A waiter registering now re-checks the state itself.
            return;
        }

        List<TaskCompletionSource>? waiters;
        lock (SyncRoot)
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

    private protected abstract bool IsIdle { get; }

    private bool TryEnqueueInternal(in WorkItem item)
    {
        // Continuations of admitted work and borrowers' turns are still accepted while the run drains; only
        // Closed refuses.
        if (_gate.Enter().IsClosed)
        {
            ExitGate();
            return false;
        }

        Enqueue(item);
        ExitGate();
        return true;
    }

    private void ExitGate()
    {
        _gate.Leave();
        AssertRunCounters();
        if (_stopRequested)
        {
            OnGateLeftWhileStopping();
        }
    }

    private void Enqueue(in WorkItem item)
    {
        var queue = _queue;
        if (queue is null)
        {
            // Compare-exchange: racing first enqueuers agree on one queue.
            queue = Interlocked.CompareExchange(ref _queue, new ConcurrentQueue<WorkItem>(), null) ?? _queue!;
        }

        queue.Enqueue(item);
        OnItemQueued();
    }

    private bool Execute(Task task, long enqueuedAt = 0)
    {
        if (_cancelPending && task is IPoolWorkItem item)
        {
            // Stop(cancelPending: true): a queued submission ends Canceled without running.
            RequestCancellation(item);
        }

        PoolMetrics.RecordQueueWait(Manager, enqueuedAt);
        return Manager.Scheduler.Execute(task);
    }

    private void RunPosted(in WorkItem item, ExecutionContext workerContext)
    {
        PoolMetrics.RecordQueueWait(Manager, item.EnqueuedAt);
        if (_cancelPending)
        {
            Manager.AccountPostedCanceled(item.PostedTaskType(Settings.TaskType));
            return;
        }

        var started = PoolMetrics.RunStartTimestamp();

        // One item's AsyncLocals never reach the next: always return to the worker's own context.
        using var inItemContext = ContextSwitch.Enter(item.Context, returnTo: workerContext);
        try
        {
            item.InvokePosted();
            Manager.AccountPosted(exception: null, item.PostedTaskType(Settings.TaskType), started);
        }
        catch (Exception exception)
        {
            // A posted item has no task to carry its fault: count it and log it; the worker lives on.
            Manager.AccountPosted(exception, item.PostedTaskType(Settings.TaskType), started);
        }
    }

    private long ProgressMark()
    {
        var statistics = Manager.GetStatistics();
        return statistics.Completed + statistics.Faulted + statistics.Canceled - QueuedItems;
    }

    /// <summary>Records a cancellation request on a queued submission, so that executing it ends it Canceled without running it.</summary>
    private void RequestCancellation(IPoolWorkItem item)
    {
        if (item.Cancellation is { } owned)
        {
            // Created where the runtime lacks the fast path: the item's own token, the supported way.
            owned.Cancel();
        }
        else if (!_canceler.TryRequestCancellation((Task)item))
        {
            // The fast path failed after the item was created without a token of its own (the probe at start-up makes
            // this unreachable on a real runtime). Nothing can cancel it now: it runs, rather than being stranded.
        }
    }

    private void CancelQueuedSubmissions()
    {
        // Take everything queued right now: submissions end Canceled; posted items are dropped (counted
        // canceled); other tasks (continuations of work that already started) and borrowers' turns go back,
        // as they must run.
        List<WorkItem>? others = null;
        while (TryDequeue(out var item))
        {
            if (item.Work is Task task && task is IPoolWorkItem submission)
            {
                RequestCancellation(submission);
                Manager.Scheduler.Execute(task);
            }
            else if (item.Work is Task or BorrowedRun)
            {
                (others ??= []).Add(item);
            }
            else
            {
                Manager.AccountPostedCanceled(item.PostedTaskType(Settings.TaskType));
            }
        }

        if (others is not null)
        {
            foreach (var item in others)
            {
                if (item.Work is BorrowedRun borrower)
                {
                    borrower.QueueTurnOnHost();
                }
                else
                {
                    Manager.Scheduler.QueueElsewhereIfClosed(this, (Task)item.Work);
                }
            }
        }
    }

    /// <summary>A drain from outside the runners in progress (a token, so that begin and end pair up visibly).</summary>
    private protected readonly record struct DrainOutsideRunners(PoolRun Run);
}
