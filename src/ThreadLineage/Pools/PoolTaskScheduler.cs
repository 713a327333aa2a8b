using ThreadLineage.Telemetry;

namespace ThreadLineage.Pools;

/// <summary>
/// The <see cref="TaskScheduler"/> of one <see cref="ThreadPoolManager"/>: submitted work, its
/// <c>await</c> continuations and tasks started through <see cref="ThreadPoolManager.GetScheduler(string?)"/>
/// all run through it on the pool's workers.
/// </summary>
internal sealed class PoolTaskScheduler : TaskScheduler
{
    private readonly ThreadPoolManager _manager;

    public PoolTaskScheduler(ThreadPoolManager manager) => _manager = manager;

    /// <inheritdoc/>
    public override int MaximumConcurrencyLevel => Math.Max(1, _manager.MaxWorkers);

    [ThreadStatic]
    private static PoolTaskScheduler? t_runningInCaller;

    /// <summary>Runs a task that was queued to this scheduler, then accounts for it if it is a submission.</summary>
    /// <returns><see langword="true"/> if this call executed the task.</returns>
    internal bool Execute(Task task)
    {
        // Work run here (inline on a waiting worker included) must never own the node of whoever else
        // runs on this thread, so the thread forgets its own node for the duration.
        var startedAt = PoolMetrics.RunStartTimestamp();
        bool executed;
        using (ContextSwitch.Enter(target: null, returnTo: null))
        {
            executed = TryExecuteTask(task);
        }

        if (executed)
        {
            PoolMetrics.RecordRunTime(_manager, startedAt);
        }

        AccountIfFinal(task);
        return executed;
    }

    /// <summary>Counts a submission's outcome once it is final (async work is counted when its unwrapped task completes).</summary>
    internal void AccountIfFinal(Task task)
    {
        if (task is IPoolWorkItem { IsAsyncStart: false } item && task.IsCompleted && item.TryClaimAccounting())
        {
            _manager.Account(task, item.TaskType);
        }
    }

    /// <summary>Runs a submission on the calling thread (a full queue with <see cref="QueueFullMode.RunInCaller"/>).</summary>
    internal void RunInCaller(Task task)
    {
        var previous = t_runningInCaller;
        t_runningInCaller = this;
        try
        {
            // RunSynchronously asks TryExecuteTaskInline, which admits this thread while the flag is set.
            task.RunSynchronously(this);
        }
        catch (InvalidOperationException) when (task.IsCanceled)
        {
            // The submission's token fired between the caller's check and RunSynchronously: the task is final.
        }
        finally
        {
            t_runningInCaller = previous;
        }

        AccountIfFinal(task);
    }

    /// <summary>Puts a task back on <paramref name="run"/>, or runs it elsewhere if that run has closed.</summary>
    internal void QueueElsewhereIfClosed(PoolRun run, Task task)
    {
        if (!run.TryEnqueueInternal(task))
        {
            RunDetached(task);
        }
    }

    /// <inheritdoc/>
    protected override void QueueTask(Task task)
    {
        if (task is IPoolWorkItem item)
        {
            // A submission: Submit admitted it and holds the run's gate while it starts the task.
            item.MarkQueued();
            item.AdmittedBy.EnqueueAdmitted(task);
            return;
        }

        // A continuation or a scheduler task: the running pool takes it, else the run still draining.
        var run = _manager.ActiveRun;
        if (run is null || !run.TryEnqueueInternal(task))
        {
            RunDetached(task);
        }
    }

    /// <inheritdoc/>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued)
    {
        // Only the pool's own workers run its work. One that blocks on a queued item (Wait, Result,
        // GetResult) runs it inline, which is what keeps nested waits on a saturated pool from deadlocking.
        if (ReferenceEquals(t_runningInCaller, this))
        {
            t_runningInCaller = null;
            return Execute(task);
        }

        // The same holds across managers that share threads: a thread blocked on an item of its own pool or of any
        // borrower of that pool (or of the pool it borrows from) runs the item inline.
        var threads = DedicatedRun.Current;
        if (threads is null)
        {
            return false;
        }

        // Also across two runs of the manager that owns the threads (a restart while the previous run drains, whose
        // workers may wait on items of the new run, or of a borrower's run on it): the new run's items wait for the old
        // run to drain, so only inlining gets them through.
        var run = task is IPoolWorkItem item ? item.AdmittedBy : _manager.ActiveRun;
        return run is not null
            && ReferenceEquals(run.Threads.Manager, threads.Manager)
            && run.TryExecuteInline(task);
    }

    /// <inheritdoc/>
    protected override IEnumerable<Task>? GetScheduledTasks() => _manager.ActiveRun?.SnapshotQueue() ?? [];

    private void RunDetached(Task task) =>
        // The pool has stopped and its last worker has gone: the continuation of work it admitted must
        // still run to completion (nothing is lost), so the shared thread pool runs it.
        ThreadPool.UnsafeQueueUserWorkItem(
            static state => state.Scheduler.Execute(state.Task),
            (Scheduler: this, Task: task),
            preferLocal: false);
}
