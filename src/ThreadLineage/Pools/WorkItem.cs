namespace ThreadLineage.Pools;

/// <summary>
/// One entry of a pool's queue: a task (a submission, an <c>await</c> continuation, a scheduler task),
/// a posted delegate, or a turn of a borrowing run. A struct, so posting allocates nothing of the library's own.
/// </summary>
internal readonly struct WorkItem
{
    private WorkItem(object work, object? state, PostedInvoker? invoker, ExecutionContext? context, string? taskType, bool holdsSlot, long enqueuedAt)
    {
        Work = work;
        State = state;
        Invoker = invoker;
        Context = context;
        TaskType = taskType;
        HoldsSlot = holdsSlot;
        EnqueuedAt = enqueuedAt;
    }

    /// <summary>Gets the <see cref="System.Threading.Tasks.Task"/> to execute, the posted <see cref="Action"/> / <see cref="Action{T}"/>, or the <see cref="BorrowedRun"/> whose turn this is.</summary>
    public object Work { get; }

    /// <summary>Gets the state passed to a posted <see cref="Action{T}"/>.</summary>
    public object? State { get; }

    /// <summary>Gets the invoker of a posted <see cref="Action{T}"/>; <see langword="null"/> for tasks and plain actions.</summary>
    public PostedInvoker? Invoker { get; }

    /// <summary>Gets the context a posted item runs in (captured at <c>Post</c>), or <see langword="null"/> for the worker's own.</summary>
    public ExecutionContext? Context { get; }

    /// <summary>Gets the task type a posted item was posted with, for logging.</summary>
    public string? TaskType { get; }

    /// <summary>Gets whether the item occupies one slot of a bounded queue until it is dequeued.</summary>
    public bool HoldsSlot { get; }

    /// <summary>Gets the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the enqueue when queue-wait is measured, else 0.</summary>
    public long EnqueuedAt { get; }

    public static WorkItem ForTask(Task task, bool holdsSlot, long enqueuedAt) =>
        new(task, state: null, invoker: null, context: null, taskType: null, holdsSlot, enqueuedAt);

    /// <summary>An entry that runs a turn of a borrowing run (its items, on this run's thread).</summary>
    public static WorkItem ForTurn(BorrowedRun borrower) =>
        new(borrower, state: null, invoker: null, context: null, taskType: null, holdsSlot: false, enqueuedAt: 0);

    public static WorkItem ForPosted(Delegate work, object? state, PostedInvoker? invoker, ExecutionContext? context, string? taskType, bool holdsSlot, long enqueuedAt) =>
        new(work, state, invoker, context, taskType, holdsSlot, enqueuedAt);
}

/// <summary>Calls a posted <see cref="Action{T}"/> with its state; one cached instance per state type.</summary>
internal abstract class PostedInvoker
{
    public abstract void Invoke(Delegate work, object? state);
}

/// <summary>The <see cref="PostedInvoker"/> for state type <typeparamref name="TState"/>.</summary>
internal sealed class PostedInvoker<TState> : PostedInvoker
{
    public static readonly PostedInvoker<TState> Instance = new();

    public override void Invoke(Delegate work, object? state) => ((Action<TState>)work)((TState)state!);
}
