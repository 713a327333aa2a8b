using ThreadLineage.Internal;
using ThreadLineage.Pools;
using ThreadLineage.Telemetry;

namespace ThreadLineage;

/// <content>Admission, submission, posting and accounting.</content>
public partial class ThreadPoolManager
{
    // Cumulative over the manager's life, across restarts.
    private long _completed;
    private long _faulted;
    private long _canceled;
    private long _rejected;

    /// <summary>Queues <paramref name="work"/> to run on one of the pool's workers.</summary>
    /// <param name="work">The work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes when the work has run, with its exception if it threw.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>
    /// The work runs in the <see cref="ExecutionContext"/> captured here (unless
    /// <see cref="ThreadPoolManagerOptions.FlowExecutionContext"/> is off). A pool worker that blocks on the returned task
    /// runs it inline if it has not started, so nested waits never deadlock.
    /// </remarks>
    public Task Submit(Action work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return SubmitCore(work, taskType, static (w, run, type, token) => new PoolWorkItem((Action)w, run, type, token), cancellationToken);
    }

    /// <summary>Queues <paramref name="work"/> to run on one of the pool's workers and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes with the work's result, or its exception.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    public Task<T> Submit<T>(Func<T> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        return SubmitCore(work, taskType, static (w, run, type, token) => new PoolWorkItem<T>((Func<T>)w, run, type, isAsyncStart: false, token), cancellationToken);
    }

    /// <summary>Starts async <paramref name="work"/> on one of the pool's workers; its <c>await</c>s resume on the pool.</summary>
    /// <param name="work">The async work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes when the async work does.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>
    /// Continuations resume on the pool's workers unless the code uses <c>ConfigureAwait(false)</c>; a one-worker pool is
    /// therefore an event loop. If the pool stops while the work is suspended, it still completes when it resumes.
    /// </remarks>
    public Task Submit(Func<Task> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var started = SubmitCore(work, taskType, static (w, run, type, token) => new PoolWorkItem<Task>((Func<Task>)w, run, type, isAsyncStart: true, token), cancellationToken);
        return AccountWhenDone(started.Unwrap(), (IPoolWorkItem)started);
    }

    /// <summary>Starts async <paramref name="work"/> on one of the pool's workers and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The async work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes with the async work's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    public Task<T> Submit<T>(Func<Task<T>> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var started = SubmitCore(work, taskType, static (w, run, type, token) => new PoolWorkItem<Task<T>>((Func<Task<T>>)w, run, type, isAsyncStart: true, token), cancellationToken);
        return AccountWhenDone(started.Unwrap(), (IPoolWorkItem)started);
    }

    /// <summary>Queues <paramref name="work"/> without returning a task: fire and forget, nothing allocated by the pool.</summary>
    /// <param name="work">The work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>The same admission rules as <c>Submit</c>. A fault is logged (when <see cref="ThreadPoolManagerOptions.LogExceptions"/>) and counted in <see cref="ThreadPoolStatistics.Faulted"/>.</remarks>
    public void Post(Action work, string? taskType = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        PostCore(
            work,
            taskType,
            static (run, work, ownTaskType) => run.EnqueuePosted(work, ownTaskType),
            static work => work());
    }

    /// <summary>Queues <paramref name="work"/> with <paramref name="state"/>: fire and forget, no closure needed.</summary>
    /// <typeparam name="TState">
    /// The state type. With a reference type the pool allocates nothing per item; a value type travels in a small object
    /// with the delegate (one allocation per post), as does a <paramref name="taskType"/> given to a pool that has none.
    /// </typeparam>
    /// <param name="work">The work to run.</param>
    /// <param name="state">The argument passed to <paramref name="work"/>.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="ThreadPoolFullException">The bounded queue is full and <see cref="QueueFullMode.Reject"/> is set; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    public void Post<TState>(Action<TState> work, TState state, string? taskType = null)
    {
        ArgumentNullException.ThrowIfNull(work);
        PostCore(
            (Work: work, State: state),
            taskType,
            static (run, posted, ownTaskType) => run.EnqueuePosted(posted.Work, posted.State, ownTaskType),
            static posted => posted.Work(posted.State));
    }

    /// <summary>Returns a <see cref="TaskScheduler"/> that runs TPL work (<c>TaskFactory</c>, <c>Parallel</c>, dataflow) on this pool.</summary>
    /// <param name="taskType">The task type of that work; checked once, here. Continuations of admitted work are part of it.</param>
    /// <returns>The pool's scheduler.</returns>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>Tasks queued to the scheduler bypass the bounded queue capacity; after the pool stopped they run on the shared .NET thread pool.</remarks>
    public TaskScheduler GetScheduler(string? taskType = null)
    {
        Admit(taskType).ExitSubmission();
        return Scheduler;
    }

    /// <summary>Counts a submission's final outcome and logs its fault; called exactly once per submission.</summary>
    internal void Account(Task task, string? taskType)
    {
        switch (task.Status)
        {
            case TaskStatus.RanToCompletion:
                CountCompleted();
                PoolMetrics.RecordOutcome(this, taskType, "ok");
                break;
            case TaskStatus.Canceled:
                Interlocked.Increment(ref _canceled);
                PoolMetrics.RecordOutcome(this, taskType, "canceled");
                break;
            case TaskStatus.Faulted:
                var exception = task.Exception!;
                RecordFault(exception.InnerExceptions.Count == 1 ? exception.InnerException! : exception, taskType);
                break;
        }
    }

    /// <summary>Counts a posted item's outcome (and logs its fault).</summary>
    internal void AccountPosted(Exception? exception, string? taskType, long startedAt)
    {
        PoolMetrics.RecordRunTime(this, startedAt);
        if (exception is null)
        {
            CountCompleted();
            PoolMetrics.RecordOutcome(this, taskType, "ok");
        }
        else
        {
            RecordFault(exception, taskType);
        }
    }

    /// <summary>Adds the completed items a leaving worker counted on its own slot.</summary>
    internal void FoldCompleted(long completed)
    {
        if (completed != 0)
        {
            Interlocked.Add(ref _completed, completed);
        }
    }

    private void CountCompleted()
    {
        // On a worker: its own slot (no shared cache line). Elsewhere (inline in a caller, a continuation
        // on the shared pool): the manager's counter.
        if (!DedicatedRun.TryCountCompletedOnWorker(this))
        {
            Interlocked.Increment(ref _completed);
        }
    }

    /// <summary>Counts a posted item dropped by <c>Stop(cancelPending: true)</c>.</summary>
    internal void AccountPostedCanceled(string? taskType)
    {
        Interlocked.Increment(ref _canceled);
        PoolMetrics.RecordOutcome(this, taskType, "canceled");
    }

    private void RecordFault(Exception exception, string? taskType)
    {
        Interlocked.Increment(ref _faulted);
        PoolMetrics.RecordOutcome(this, taskType, "faulted");
        if (_settings is { LogExceptions: true } settings)
        {
            PoolLog.Safely(static (logger, state) => PoolLog.WorkItemFaulted(logger, state.Id, state.taskType, state.exception), settings.Logger, (Id, taskType, exception));
        }
    }

    private TTask SubmitCore<TTask>(Delegate work, string? taskType, Func<Delegate, PoolRun, string?, CancellationToken, TTask> create, CancellationToken cancellationToken)
        where TTask : Task
    {
        var run = Admit(taskType);
        try
        {
            switch (ReserveRoom(run, cancellationToken))
            {
                case PoolRun.Room.Canceled:
                    // The token fired while waiting for room: a task created with it is born Canceled.
                    var canceled = CreateItem(run, work, taskType, create, cancellationToken);
                    Scheduler.AccountIfFinal(canceled);
                    return canceled;
                case PoolRun.Room.RunInCaller:
                    var inCaller = CreateItem(run, work, taskType, create, cancellationToken);
                    if (!inCaller.IsCompleted)
                    {
                        run.RunInCaller(static state => state.Scheduler.RunInCaller(state.Task), (Scheduler, Task: (Task)inCaller));
                    }

                    Scheduler.AccountIfFinal(inCaller);
                    return inCaller;
                default:
                    var item = CreateItem(run, work, taskType, create, cancellationToken);
                    try
                    {
                        // Start hands the item to the scheduler, which enqueues it on this run (we hold its gate).
                        item.Start(Scheduler);
                    }
                    catch (InvalidOperationException) when (item.IsCanceled)
                    {
                        // The token was canceled before the item started (even before Submit was called): the task
                        // was born Canceled, so the runtime refused to start it. Handled below.
                    }

                    if (!((IPoolWorkItem)item).WasQueued)
                    {
                        // Canceled before (or while) starting, so never queued: it is final; give back its room.
                        run.ReleaseRoom();
                        Scheduler.AccountIfFinal(item);
                    }

                    return item;
            }
        }
        finally
        {
            run.ExitSubmission();
        }
    }

    /// <summary>Admits a posted item and enqueues it, or runs it in the caller when a full queue says so.</summary>
    /// <param name="posted">The delegate (and its state).</param>
    /// <param name="taskType">The task type it was posted with.</param>
    /// <param name="enqueue">Enqueues it on the run, given the task type to keep with it (see <see cref="PoolRun.EnqueuePosted(Action, string?)"/>).</param>
    /// <param name="invoke">Runs it.</param>
    private void PostCore<TPosted>(TPosted posted, string? taskType, Action<PoolRun, TPosted, string?> enqueue, Action<TPosted> invoke)
    {
        var run = Admit(taskType);
        try
        {
            switch (ReserveRoom(run, CancellationToken.None))
            {
                case PoolRun.Room.RunInCaller:
                    run.RunInCaller(
                        static state => state.Manager.RunPostedInCaller(state.Invoke, state.Posted, state.TaskType),
                        (Manager: this, Invoke: invoke, Posted: posted, TaskType: taskType));
                    break;
                default:
                    // A pool with a task type admits only its own, so the entry need not carry it.
                    enqueue(run, posted, run.Settings.TaskType is null ? taskType : null);
                    break;
            }
        }
        finally
        {
            run.ExitSubmission();
        }
    }

    private void RunPostedInCaller<TPosted>(Action<TPosted> invoke, TPosted posted, string? taskType)
    {
        var startedAt = PoolMetrics.RunStartTimestamp();
        try
        {
            invoke(posted);
            AccountPosted(exception: null, taskType, startedAt);
        }
        catch (Exception exception)
        {
            // Post has no task to carry the fault: count and log it, as a worker would.
            AccountPosted(exception, taskType, startedAt);
        }
    }

    private PoolRun.Room ReserveRoom(PoolRun run, CancellationToken cancellationToken)
    {
        var room = run.ReserveRoom(cancellationToken);
        if (room == PoolRun.Room.Rejected)
        {
            Interlocked.Increment(ref _rejected);
            throw new ThreadPoolFullException(
                $"Thread pool manager '{Id}' refused the work: its queue is full ({run.Settings.QueueCapacity} {(run.Settings.QueueCapacity == 1 ? "item" : "items")}). " +
                "Retry later, raise QueueCapacity, or use QueueFullMode.Wait or RunInCaller.");
        }

        return room;
    }

    /// <summary>Checks the manager can take work of <paramref name="taskType"/> and enters the running run's gate.</summary>
    /// <returns>The run, whose gate the caller must leave with <see cref="PoolRun.ExitSubmission"/>.</returns>
    private PoolRun Admit(string? taskType)
    {
        var run = _run;
        if (run is null || !run.TryEnterSubmission())
        {
            Interlocked.Increment(ref _rejected);
            ThrowIfDisposed();
            if ((run ?? _lastRun) is BorrowedRun { StoppedWithHost: true } stopped)
            {
                var host = stopped.Host.Manager.Id;
                throw new InvalidOperationException(
                    $"Thread pool manager '{Id}' is not running: '{host}', whose workers it borrows, stopped. Start '{host}' and then '{Id}' again.");
            }

            throw new InvalidOperationException($"Thread pool manager '{Id}' is not running. Call Start() first.");
        }

        var poolTaskType = run.Settings.TaskType;
        if (poolTaskType is not null && !string.Equals(taskType, poolTaskType, StringComparison.Ordinal))
        {
            run.ExitSubmission();
            Interlocked.Increment(ref _rejected);
            throw new UnknownTaskTypeException(Id, taskType, poolTaskType);
        }

        return run;
    }

    private static TTask CreateItem<TTask>(
        PoolRun run,
        Delegate work,
        string? taskType,
        Func<Delegate, PoolRun, string?, CancellationToken, TTask> create,
        CancellationToken cancellationToken)
    {
        if (run.Settings.FlowExecutionContext)
        {
            return create(work, run, taskType, cancellationToken);
        }

        // The task captures the context at construction; with flow off it captures the pool's own. The arguments
        // travel as a struct: a lambda capturing them would allocate its closure on every call of this method, the
        // flow-on path included (the compiler creates it on entry).
        return run.CreateInPoolContext(
            static state => state.Create(state.Work, state.Run, state.TaskType, state.Token),
            (Create: create, Work: work, Run: run, TaskType: taskType, Token: cancellationToken));
    }

    /// <summary>Accounts for async work when <paramref name="unwrapped"/>, the task the caller gets, completes.</summary>
    private static TTask AccountWhenDone<TTask>(TTask unwrapped, IPoolWorkItem started)
        where TTask : Task
    {
        // The outcome of async work is known only when the unwrapped task completes, not when its first
        // synchronous part returns.
        _ = unwrapped.ContinueWith(
            static (completed, state) =>
            {
                var item = (IPoolWorkItem)state!;
                item.AdmittedBy.Manager.Account(completed, item.TaskType);
            },
            started,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return unwrapped;
    }
}
