using System.Runtime.CompilerServices;

namespace ThreadLineage.Pools;

/// <summary>
/// One entry of a pool's queue: a task (a submission, an <c>await</c> continuation, a scheduler task), a posted
/// delegate, or a turn of a borrowing run. A struct of four words, so posting allocates nothing of the library's own
/// and a queue slot stays small (a borrower that ran one item keeps a queue segment of 32 slots).
/// </summary>
/// <remarks>
/// What a posted entry's <see cref="Work"/> holds: an <see cref="Action"/> (posted without state); an
/// <see cref="Action{T}"/> whose state type is a reference type, with the state in <see cref="State"/>; or a
/// <see cref="PostedWork"/> that carries what the entry has no room for (a value-type state, or a task type other than
/// the pool's). Whether an entry holds a slot of a bounded queue follows from its kind (<see cref="HoldsSlot"/>).
/// </remarks>
internal readonly struct WorkItem
{
    private WorkItem(object work, object? state, ExecutionContext? context, long enqueuedAt)
    {
        Work = work;
        State = state;
        Context = context;
        EnqueuedAt = enqueuedAt;
    }

    /// <summary>Gets the <see cref="Task"/> to execute, the posted delegate or <see cref="PostedWork"/>, or the <see cref="BorrowedRun"/> whose turn this is.</summary>
    public object Work { get; }

    /// <summary>Gets the state passed to a posted <see cref="Action{T}"/> of a reference type.</summary>
    public object? State { get; }

    /// <summary>Gets the context a posted item runs in (captured at <c>Post</c>), or <see langword="null"/> for the worker's own.</summary>
    public ExecutionContext? Context { get; }

    /// <summary>Gets the <see cref="System.Diagnostics.Stopwatch"/> timestamp of the enqueue when queue-wait is measured, else 0.</summary>
    public long EnqueuedAt { get; }

    /// <summary>
    /// Gets whether the entry occupies one slot of its run's bounded queue until it is dequeued: what the run admitted
    /// (submissions and posted items) does; continuations, scheduler tasks and borrowers' turns never do.
    /// </summary>
    public bool HoldsSlot => Work is Task task ? task is IPoolWorkItem : Work is not BorrowedRun;

    public static WorkItem ForTask(Task task, long enqueuedAt) => new(task, state: null, context: null, enqueuedAt);

    /// <summary>An entry that runs a turn of a borrowing run (its items, on this run's thread).</summary>
    public static WorkItem ForTurn(BorrowedRun borrower) => new(borrower, state: null, context: null, enqueuedAt: 0);

    /// <summary>A posted <see cref="Action"/> (the pool's task type, or none).</summary>
    public static WorkItem ForPosted(Action work, ExecutionContext? context, long enqueuedAt) => new(work, state: null, context, enqueuedAt);

    /// <summary>
    /// A posted <see cref="Action{T}"/>; <paramref name="taskType"/> is kept only when it is not the pool's own (a pool
    /// without a task type accepts any, for logging).
    /// </summary>
    public static WorkItem ForPosted<TState>(Action<TState> work, TState state, string? taskType, ExecutionContext? context, long enqueuedAt) =>
        !typeof(TState).IsValueType && taskType is null
            ? new(work, state, context, enqueuedAt)
            : new(new PostedWork<TState>(work, state, taskType), state: null, context, enqueuedAt);

    /// <summary>A posted <see cref="Action"/> whose task type is not the pool's own.</summary>
    public static WorkItem ForPosted(Action work, string taskType, ExecutionContext? context, long enqueuedAt) =>
        new(new PostedWork<Action>(static action => action(), work, taskType), state: null, context, enqueuedAt);

    /// <summary>Gets the task type a posted entry was posted with when it is not the pool's (<paramref name="poolTaskType"/>).</summary>
    /// <remarks>An <see cref="Action"/> (sealed: one type-handle comparison) is told apart before the cast to the abstract <see cref="PostedWork"/>.</remarks>
    public string? PostedTaskType(string? poolTaskType) => Work is not Action && Work is PostedWork boxed ? boxed.TaskType ?? poolTaskType : poolTaskType;

    /// <summary>Runs a posted entry's delegate on the calling thread.</summary>
    public void InvokePosted()
    {
        switch (Work)
        {
            case Action action:
                action();
                break;
            case PostedWork boxed:
                boxed.Invoke();
                break;
            default:
                // An Action<TState> of a reference type (ForPosted): a delegate over a reference parameter is called the
                // same way whatever that parameter's static type, and State is that TState.
                Unsafe.As<Action<object?>>(Work)(State);
                break;
        }
    }
}

/// <summary>A posted delegate with what does not fit in a <see cref="WorkItem"/>: a value-type state, or a task type of its own.</summary>
internal abstract class PostedWork(string? taskType)
{
    /// <summary>Gets the task type posted with, when the pool has none (for logging); otherwise <see langword="null"/>.</summary>
    public string? TaskType { get; } = taskType;

    public abstract void Invoke();
}

/// <summary>The <see cref="PostedWork"/> of a delegate over state of type <typeparamref name="TState"/>.</summary>
internal sealed class PostedWork<TState>(Action<TState> work, TState state, string? taskType) : PostedWork(taskType)
{
    public override void Invoke() => work(state);
}
