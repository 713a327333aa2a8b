using System.Threading.Channels;

namespace ThreadLineage.Benchmarks.Competitors;

/// <summary>
/// The hand-rolled dedicated pool a careful engineer would write in an afternoon: an unbounded
/// <see cref="Channel{T}"/> read by N dedicated threads. <see cref="Submit"/> returns a task (one allocation
/// per item, the task itself, which captures the caller's <see cref="ExecutionContext"/> as <c>Submit</c> does).
/// </summary>
/// <remarks>
/// The pool is its own <see cref="TaskScheduler"/>: <c>Start</c> queues the task into the channel, a worker runs
/// it with <see cref="TaskScheduler.TryExecuteTask"/>. Synchronous continuations let a writer wake a parked
/// reader directly instead of through the shared thread pool.
/// </remarks>
public sealed class ChannelPool : TaskScheduler, IDisposable
{
    private readonly Channel<Task> _channel = Channel.CreateUnbounded<Task>(new UnboundedChannelOptions
    {
        SingleReader = false,
        SingleWriter = false,
        AllowSynchronousContinuations = true,
    });

    private readonly Thread[] _threads;

    public ChannelPool(int workers, string name = "channel-pool")
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
        _channel.Writer.TryComplete();
        foreach (var thread in _threads)
        {
            thread.Join();
        }
    }

    protected override void QueueTask(Task task)
    {
        // Unbounded: a write fails only after Dispose completed the channel.
        if (!_channel.Writer.TryWrite(task))
        {
            throw new InvalidOperationException("The channel pool has been disposed.");
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => false;

    protected override IEnumerable<Task> GetScheduledTasks() => [];

    private void Work()
    {
        var reader = _channel.Reader;
        while (true)
        {
            while (reader.TryRead(out var task))
            {
                TryExecuteTask(task);
            }

            // Park until something is written (or the channel completes).
            var more = reader.WaitToReadAsync();
            if (!(more.IsCompletedSuccessfully ? more.Result : more.AsTask().GetAwaiter().GetResult()))
            {
                return;
            }
        }
    }
}
