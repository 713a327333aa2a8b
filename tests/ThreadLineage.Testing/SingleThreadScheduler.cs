using System.Collections.Concurrent;

namespace ThreadLineage.Testing;

/// <summary>
/// A <see cref="TaskScheduler"/> that runs every task, one after the other, on one dedicated thread and never
/// inline. It knows nothing about lineage, so a test can make the runtime run a child flow on the very thread
/// its parent used, with no help from ThreadLineage's own pools.
/// </summary>
public sealed class SingleThreadScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = [];
    private readonly Thread _thread;

    public SingleThreadScheduler(string name)
    {
        _thread = new Thread(RunLoop) { Name = name, IsBackground = true };
        // UnsafeStart: the loop's own context is empty, like a thread-pool thread's between items.
        _thread.UnsafeStart();
    }

    public Thread Thread => _thread;

    public override int MaximumConcurrencyLevel => 1;

    public Task<T> Run<T>(Func<T> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this);

    public Task<T> RunAsync<T>(Func<Task<T>> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    public void Dispose()
    {
        _queue.CompleteAdding();
        Bounded.Join(_thread, _thread.Name ?? "scheduler");
        _queue.Dispose();
    }

    protected override void QueueTask(Task task) => _queue.Add(task);

    // Never inline: each task runs from the loop, after the task before it has returned.
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void RunLoop()
    {
        foreach (var task in _queue.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
