namespace ThreadLineage.Pools;

/// <summary>
/// What a submitted work item carries besides its task: the run that admitted it, its task type for
/// logging, and a flag that makes its accounting happen exactly once.
/// </summary>
/// <remarks>
/// A work item <em>is</em> the task <c>Submit</c> returns (one allocation per item), and it is a task
/// scheduled on the pool's <see cref="TaskScheduler"/>: that is what lets <c>Wait()</c>/<c>Result</c> on a
/// pool worker run a still-queued item inline instead of deadlocking.
/// </remarks>
internal interface IPoolWorkItem
{
    PoolRun AdmittedBy { get; }

    string? TaskType { get; }

    /// <summary>Gets whether this item only starts async work; its outcome is accounted on the unwrapped task.</summary>
    bool IsAsyncStart { get; }

    /// <summary>Gets whether the scheduler queued the item (a token canceled inside <c>Task.Start</c> can stop it from being queued).</summary>
    bool WasQueued { get; }

    /// <summary>Gets the token of its own the item was created with where the runtime lacks the fast path (<see cref="Internal.TaskCanceler"/>); else <see langword="null"/>.</summary>
    OwnedCancellation? Cancellation { get; }

    /// <summary>Returns <see langword="true"/> the first time it is called; accounting calls it once the task is final.</summary>
    bool TryClaimAccounting();

    /// <summary>Records that the scheduler queued the item.</summary>
    void MarkQueued();
}

/// <summary>Submitted synchronous work without a result.</summary>
internal sealed class PoolWorkItem : Task, IPoolWorkItem
{
    private int _accounted;

    public PoolWorkItem(Action work, PoolRun run, string? taskType, CancellationToken cancellationToken)
        : this(work, run, taskType, OwnedCancellation.For(run, cancellationToken), cancellationToken)
    {
    }

    private PoolWorkItem(Action work, PoolRun run, string? taskType, OwnedCancellation? owned, CancellationToken cancellationToken)
        : base(owned is null ? work : owned.Wrap(work), owned?.Token ?? cancellationToken, TaskCreationOptions.DenyChildAttach)
    {
        AdmittedBy = run;
        TaskType = taskType;
        Cancellation = owned;
    }

    public PoolRun AdmittedBy { get; }

    public string? TaskType { get; }

    public bool IsAsyncStart => false;

    public bool WasQueued { get; private set; }

    public OwnedCancellation? Cancellation { get; }

    // Interlocked: the worker that dequeues the item and a worker that ran it inline may both try.
    public bool TryClaimAccounting() => Interlocked.Exchange(ref _accounted, 1) == 0;

    // Written by the submitting thread inside Task.Start and read by it afterwards: no race.
    public void MarkQueued() => WasQueued = true;
}

/// <summary>Submitted work with a result (or the start of async work, whose result is its task).</summary>
internal sealed class PoolWorkItem<TResult> : Task<TResult>, IPoolWorkItem
{
    private int _accounted;

    public PoolWorkItem(Func<TResult> work, PoolRun run, string? taskType, bool isAsyncStart, CancellationToken cancellationToken)
        : this(work, run, taskType, isAsyncStart, OwnedCancellation.For(run, cancellationToken), cancellationToken)
    {
    }

    private PoolWorkItem(Func<TResult> work, PoolRun run, string? taskType, bool isAsyncStart, OwnedCancellation? owned, CancellationToken cancellationToken)
        : base(owned is null ? work : owned.Wrap(work), owned?.Token ?? cancellationToken, TaskCreationOptions.DenyChildAttach)
    {
        AdmittedBy = run;
        TaskType = taskType;
        IsAsyncStart = isAsyncStart;
        Cancellation = owned;
    }

    public PoolRun AdmittedBy { get; }

    public string? TaskType { get; }

    public bool IsAsyncStart { get; }

    public bool WasQueued { get; private set; }

    public OwnedCancellation? Cancellation { get; }

    // Interlocked: the worker that dequeues the item and a worker that ran it inline may both try.
    public bool TryClaimAccounting() => Interlocked.Exchange(ref _accounted, 1) == 0;

    // Written by the submitting thread inside Task.Start and read by it afterwards: no race.
    public void MarkQueued() => WasQueued = true;
}
