using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;
using ThreadLineage.Telemetry;

namespace ThreadLineage.Pools;

/// <summary>
/// One run of a <see cref="ThreadPoolManager"/>, from <c>Start</c> until its last worker exits: the
/// FIFO queue, its admission gate and bounded capacity. The workers themselves are in
/// <c>WorkerGroup.Workers.cs</c>.
/// </summary>
/// <remarks>
/// <para>
/// The <em>gate</em> counts enqueuers in flight and carries two flags. <c>StopRequested</c> refuses new
/// submissions; <c>Closed</c>, set by the last worker to exit, refuses every enqueue. The last worker
/// keeps draining the queue until the in-flight count is zero after closing, so an item that got
/// through the gate always runs on a worker of this run: nothing is stranded in a queue nobody reads.
/// Items refused by a closed gate (continuations of async work resuming after the pool stopped) are
/// run elsewhere by the manager's scheduler.
/// </para>
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The semaphores never allocate wait handles (AvailableWaitHandle is not used), and late Release calls must not meet a disposed object.")]
internal sealed partial class WorkerGroup
{
    private const int StopRequestedFlag = 1 << 30;
    private const int ClosedFlag = 1 << 29;
    private const int EnqueuersMask = ClosedFlag - 1;

    private readonly ConcurrentQueue<WorkItem> _queue = new();

    // Bounded queues only: one permit per free queue slot, taken before an enqueue, returned on dequeue.
    private readonly SemaphoreSlim? _slots;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Updated by every submission (twice): on a cache line of its own, away from the fields workers write.
    private PaddedInt32 _gate;

    // Mirrors the gate's StopRequested flag for readers, so spinning workers do not read the gate's line
    // while producers update it on every submission.
    private volatile bool _stopRequested;
    private volatile bool _cancelPending;

    // A worker's own context (lineage: the manager's owner), for work run in a caller when flow is off.
    private ExecutionContext? _baseContext;

    // The manager's run this one replaced while it was still draining: a waiting stop waits for it too.
    private WorkerGroup? _previous;

    public WorkerGroup(ThreadPoolManager manager, PoolSettings settings, WorkerGroup? previous)
    {
        Manager = manager;
        Settings = settings;
        _previous = previous;
        _maxWorkers = settings.MaxWorkers;
        _minWorkers = settings.MinWorkers;
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

    /// <summary>Gets a task that completes when every worker has exited and the queue has been drained.</summary>
#pragma warning disable VSTHRD003 // The run's own workers complete this task; it never needs the caller's context.
    public Task Exited => _exited.Task;
#pragma warning restore VSTHRD003

    public bool IsDrained => _exited.Task.IsCompleted;

    /// <summary>Gets the run this one replaced while it still drained, until that run has been waited for.</summary>
    public WorkerGroup? Previous => Volatile.Read(ref _previous);

    /// <summary>Forgets the previous run once it has been waited for, so a chain of restarts is not kept alive.</summary>
    public void ForgetPrevious(WorkerGroup drained) => Interlocked.CompareExchange(ref _previous, null, drained);

    public int QueuedItems => _queue.Count;

    public bool IsStopRequested => _stopRequested;

    /// <summary>Enters the gate for a submission; fails once a stop has been requested.</summary>
    public bool TryEnterSubmission()
    {
        // Interlocked: the increment publishes us to a closing worker, which drains until the count drops.
        if ((Interlocked.Increment(ref _gate.Value) & (StopRequestedFlag | ClosedFlag)) == 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _gate.Value);
        return false;
    }

    /// <summary>Leaves the gate after the submission was enqueued (or refused).</summary>
    public void ExitSubmission() => Interlocked.Decrement(ref _gate.Value);

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
                if (ReferenceEquals(Current, this))
                {
                    // Waiting on one of our own workers could wait for ourselves: run it here instead.
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

    /// <summary>
    /// Runs work on the calling thread the way a worker would (a full queue that runs work in the caller):
    /// the thread's own node is suspended, the work runs in the pool's own context when flow is off, and the
    /// caller's context comes back afterwards, so nothing the work sets or attaches reaches the caller.
    /// </summary>
    public void RunInCaller<TState>(Action<TState> body, TState state)
    {
        var callerContext = ExecutionContext.Capture();
        var owned = Lineage.SuspendOwnership();
        try
        {
            if (!Settings.FlowExecutionContext && _baseContext is { } poolContext)
            {
                ExecutionContext.Restore(poolContext);
            }

            body(state);
        }
        finally
        {
            // Restore first (it may raise a context-change notification), then give back the caller's node.
            if (callerContext is not null)
            {
                ExecutionContext.Restore(callerContext);
            }

            Lineage.ResumeOwnership(owned);
        }
    }

    /// <summary>
    /// Creates a submission (a task, which captures the current context) as if on a worker: in the pool's own
    /// context, for pools with <see cref="ThreadPoolManagerOptions.FlowExecutionContext"/> off. The task then
    /// carries that context like any other and restores the worker's afterwards.
    /// </summary>
    public TItem CreateInPoolContext<TItem>(Func<TItem> create)
    {
        var callerContext = ExecutionContext.Capture();
        if (callerContext is null || _baseContext is not { } poolContext)
        {
            // The caller suppressed flow: the task captures nothing and runs in the worker's own context.
            return create();
        }

        // Not ExecutionContext.SuppressFlow: with a token canceled while the task was created, tasks created
        // under it crashed the process (InvalidCastException in Task.RunContinuations, ExitProbe
        // cancel-race-flow-off); tasks that captured a context never did. Ownership is suspended so that the
        // switches leave the caller's node owned.
        var owned = Lineage.SuspendOwnership();
        ExecutionContext.Restore(poolContext);
        try
        {
            return create();
        }
        finally
        {
            ExecutionContext.Restore(callerContext);
            Lineage.ResumeOwnership(owned);
        }
    }

    /// <summary>Gives back room reserved by <see cref="ReserveRoom"/> for a submission that was not enqueued after all.</summary>
    public void ReleaseRoom() => _slots?.Release();

    /// <summary>Enqueues an admitted submission; the caller holds the gate and the reserved room.</summary>
    public void EnqueueAdmitted(Task item)
    {
        Debug.Assert((Volatile.Read(ref _gate.Value) & EnqueuersMask) > 0, "the submitter must hold the gate");
        Enqueue(WorkItem.ForTask(item, holdsSlot: _slots is not null, PoolMetrics.QueueWaitTimestamp()));
    }

    /// <summary>Enqueues an admitted posted item; the caller holds the gate and the reserved room.</summary>
    public void EnqueuePosted(Delegate work, object? state, PostedInvoker? invoker, string? taskType)
    {
        Debug.Assert((Volatile.Read(ref _gate.Value) & EnqueuersMask) > 0, "the poster must hold the gate");
        var context = Settings.FlowExecutionContext ? ExecutionContext.Capture() : null;
        Enqueue(WorkItem.ForPosted(work, state, invoker, context, taskType, holdsSlot: _slots is not null, PoolMetrics.QueueWaitTimestamp()));
    }

    /// <summary>Enqueues a task that is not a new submission (a continuation, a scheduler task) unless the run has closed.</summary>
    public bool TryEnqueueInternal(Task task)
    {
        // Continuations of admitted work are still accepted while the run drains; only Closed refuses.
        if ((Interlocked.Increment(ref _gate.Value) & ClosedFlag) != 0)
        {
            Interlocked.Decrement(ref _gate.Value);
            return false;
        }

        // Not a submission: it bypasses the bounded capacity, which must never refuse a continuation.
        Enqueue(WorkItem.ForTask(task, holdsSlot: false, PoolMetrics.QueueWaitTimestamp()));
        Interlocked.Decrement(ref _gate.Value);
        return true;
    }

    /// <summary>Stops accepting submissions; with <paramref name="cancelPending"/>, cancels the submissions still queued.</summary>
    public void RequestStop(bool cancelPending)
    {
        if (cancelPending)
        {
            // Set before the stop flag is published so that every worker that sees the stop also cancels.
            _cancelPending = true;
        }

        // Interlocked: publishes the flag atomically with the enqueuer count other threads update; the
        // mirror for readers follows (a reader that sees it set also sees the gate refuse submissions).
        Interlocked.Or(ref _gate.Value, StopRequestedFlag);
        _stopRequested = true;
        WakeAll();

        if (cancelPending)
        {
            CancelQueuedSubmissions();
        }
    }

    /// <summary>Returns the tasks waiting in the queue, for debuggers.</summary>
    public Task[] SnapshotQueue()
    {
        var tasks = new List<Task>();
        foreach (var item in _queue)
        {
            if (item.Work is Task task)
            {
                tasks.Add(task);
            }
        }

        return [.. tasks];
    }

    private void Enqueue(in WorkItem item)
    {
        _queue.Enqueue(item);
        WakeOrSpawn();
    }

    private bool TryDequeue(out WorkItem item)
    {
        if (!_queue.TryDequeue(out item))
        {
            return false;
        }

        if (item.HoldsSlot)
        {
            _slots!.Release();
        }

        return true;
    }

    private void CancelQueuedSubmissions()
    {
        // Take everything queued right now: submissions end Canceled; posted items are dropped (counted
        // canceled); other tasks (continuations of work that already started) go back, as they must run.
        List<Task>? others = null;
        while (TryDequeue(out var item))
        {
            if (item.Work is not Task task)
            {
                Manager.AccountPostedCanceled(item.TaskType);
            }
            else if (task is IPoolWorkItem)
            {
                TaskCanceler.RequestCancellation(task);
                Manager.Scheduler.Execute(task);
            }
            else
            {
                (others ??= []).Add(task);
            }
        }

        if (others is not null)
        {
            foreach (var task in others)
            {
                Manager.Scheduler.QueueElsewhereIfClosed(this, task);
            }
        }
    }
}
