namespace ThreadLineage.Testing;

/// <summary>
/// A <see cref="TaskScheduler"/> whose tasks run when a waiter inlines them (<see cref="Task.Wait()"/> with no
/// timeout inlines a task that has not started). A queued task that nobody inlined runs anyway after
/// <see cref="Bounded.Timeout"/>, on a thread-pool thread, so a test that expected the inlining fails on its
/// assertions instead of hanging.
/// </summary>
public sealed class InlineOnlyScheduler : TaskScheduler
{
    public Task<T> Run<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);

    protected override void QueueTask(Task task) =>
        _ = Task.Delay(Bounded.Timeout).ContinueWith(_ => TryExecuteTask(task), CancellationToken.None, TaskContinuationOptions.None, Default);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => [];
}
