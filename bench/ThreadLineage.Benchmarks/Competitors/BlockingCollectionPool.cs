using System.Collections.Concurrent;

namespace ThreadLineage.Benchmarks.Competitors;

/// <summary>
/// The classic hand-rolled dedicated pool: a <see cref="BlockingCollection{T}"/> consumed by N dedicated threads.
/// <see cref="Submit"/> returns a task (one allocation per item, which captures the caller's context).
/// </summary>
public sealed class BlockingCollectionPool : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<Task> _queue = new(new ConcurrentQueue<Task>());
    private readonly Thread[] _threads;

    public BlockingCollectionPool(int workers, string name = "blocking-pool")
    {
        _threads = new Thread[workers];
        for (var i = 0; i < workers; i++)
        {
            _threads[i] = new Thread(Work) { IsBackground = true, Name = $"{name}-{i + 1}" };
            _threads[i].UnsafeStart();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    public Task Submit(Action work)
    {
        var task = new Task(work, TaskCreationOptions.DenyChildAttach);
        task.Start(this);
        return task;
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        foreach (var thread in _threads)
        {
            thread.Join();
        }

        _queue.Dispose();
    }

    protected override void QueueTask(Task task) => _queue.Add(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => [];

    private void Work()
    {
        foreach (var task in _queue.GetConsumingEnumerable())
        {
            TryExecuteTask(task);
        }
    }
}
