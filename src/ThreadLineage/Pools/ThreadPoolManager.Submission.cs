using ThreadLineage.Internal;
using ThreadLineage.Pools;

namespace ThreadLineage;

/// <content>Admission, submission and accounting.</content>
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
        var run = Admit(taskType);
        try
        {
            var item = CreateItem(run, static (w, r, type, t) => new PoolWorkItem((Action)w, r, type, t), work, taskType, cancellationToken);
            item.Start(Scheduler);
            return item;
        }
        finally
        {
            run.ExitSubmission();
        }
    }

    /// <summary>Queues <paramref name="work"/> to run on one of the pool's workers and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes with the work's result, or its exception.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    public Task<T> Submit<T>(Func<T> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        var run = Admit(taskType);
        try
        {
            var item = CreateItem(run, static (w, r, type, t) => new PoolWorkItem<T>((Func<T>)w, r, type, isAsyncStart: false, t), work, taskType, cancellationToken);
            item.Start(Scheduler);
            return item;
        }
        finally
        {
            run.ExitSubmission();
        }
    }

    /// <summary>Starts async <paramref name="work"/> on one of the pool's workers; its <c>await</c>s resume on the pool.</summary>
    /// <param name="work">The async work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes when the async work does.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>
    /// Continuations resume on the pool's workers unless the code uses <c>ConfigureAwait(false)</c>; a one-worker pool is
    /// therefore an event loop. If the pool stops while the work is suspended, it still completes when it resumes.
    /// </remarks>
    public Task Submit(Func<Task> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        var started = SubmitAsyncStart(work, taskType, cancellationToken);
        return AccountWhenDone(started.Unwrap(), started);
    }

    /// <summary>Starts async <paramref name="work"/> on one of the pool's workers and returns its result.</summary>
    /// <typeparam name="T">The result type.</typeparam>
    /// <param name="work">The async work to run.</param>
    /// <param name="taskType">The work's task type; must equal the pool's <see cref="TaskType"/> when the pool has one.</param>
    /// <param name="cancellationToken">If canceled before the work starts, the work never runs and the task ends canceled.</param>
    /// <returns>A task that completes with the async work's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="work"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type; nothing was queued.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running; nothing was queued.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    public Task<T> Submit<T>(Func<Task<T>> work, string? taskType = null, CancellationToken cancellationToken = default)
    {
        var started = SubmitAsyncStart(work, taskType, cancellationToken);
        return AccountWhenDone(started.Unwrap(), started);
    }

    /// <summary>Returns a <see cref="TaskScheduler"/> that runs TPL work (<c>TaskFactory</c>, <c>Parallel</c>, dataflow) on this pool.</summary>
    /// <param name="taskType">The task type of that work; checked once, here. Continuations of admitted work are part of it.</param>
    /// <returns>The pool's scheduler.</returns>
    /// <exception cref="UnknownTaskTypeException"><paramref name="taskType"/> is not the pool's task type.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>Tasks queued to the scheduler after the pool stopped still run, on the shared .NET thread pool.</remarks>
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
                Interlocked.Increment(ref _completed);
                break;
            case TaskStatus.Canceled:
                Interlocked.Increment(ref _canceled);
                break;
            case TaskStatus.Faulted:
                Interlocked.Increment(ref _faulted);
                if (_settings is { LogExceptions: true } settings)
                {
                    PoolLog.WorkItemFaulted(settings.Logger, Id, taskType, task.Exception!.InnerExceptions.Count == 1 ? task.Exception.InnerException! : task.Exception);
                }

                break;
        }
    }

    private PoolWorkItem<TTask> SubmitAsyncStart<TTask>(Func<TTask> work, string? taskType, CancellationToken cancellationToken)
        where TTask : Task
    {
        ArgumentNullException.ThrowIfNull(work);
        var run = Admit(taskType);
        try
        {
            var item = CreateItem(run, static (w, r, type, t) => new PoolWorkItem<TTask>((Func<TTask>)w, r, type, isAsyncStart: true, t), work, taskType, cancellationToken);
            item.Start(Scheduler);
            return item;
        }
        finally
        {
            run.ExitSubmission();
        }
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

    /// <summary>Checks the manager can take work of <paramref name="taskType"/> and enters the running run's gate.</summary>
    /// <returns>The run, whose gate the caller must leave with <see cref="WorkerGroup.ExitSubmission"/>.</returns>
    private WorkerGroup Admit(string? taskType)
    {
        var run = _run;
        if (run is null || !run.TryEnterSubmission())
        {
            Interlocked.Increment(ref _rejected);
            ObjectDisposedException.ThrowIf(_disposed, this);
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

    private static TItem CreateItem<TItem>(
        WorkerGroup run,
        Func<Delegate, WorkerGroup, string?, CancellationToken, TItem> create,
        Delegate work,
        string? taskType,
        CancellationToken cancellationToken)
    {
        if (run.Settings.FlowExecutionContext || ExecutionContext.IsFlowSuppressed())
        {
            return create(work, run, taskType, cancellationToken);
        }

        // The task captures the context at construction; with flow off it must capture none, and the
        // worker runs it in its own context instead.
        using (ExecutionContext.SuppressFlow())
        {
            return create(work, run, taskType, cancellationToken);
        }
    }
}
