namespace ThreadLineage.Pools;

/// <summary>One worker thread of a <see cref="DedicatedRun"/>: whether it is running an item (for <c>BusyWorkers</c>) and its completed count.</summary>
internal sealed class WorkerSlot(ThreadPoolManager manager)
{
    private volatile bool _isRunningItem;

    // Written only by the worker itself; read by statistics.
    private long _completed;

    public ThreadPoolManager Manager { get; } = manager;

    public Thread Thread { get; set; } = null!;

    public long Completed => Volatile.Read(ref _completed);

    public void CountCompleted() => Volatile.Write(ref _completed, _completed + 1);

    /// <summary>Returns the count and resets it; called by the worker itself as it leaves.</summary>
    public long TakeCompleted()
    {
        var completed = _completed;
        Volatile.Write(ref _completed, 0);
        return completed;
    }

    public bool IsRunningItem
    {
        get => _isRunningItem;
        set => _isRunningItem = value;
    }
}
