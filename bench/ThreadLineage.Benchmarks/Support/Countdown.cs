namespace ThreadLineage.Benchmarks.Support;

/// <summary>
/// Counts finished work items down to zero; the item that reaches zero sets an event the producer waits on.
/// Every competitor in a throughput class runs <see cref="Signal"/> as its work, so they all do the same work.
/// </summary>
public sealed class Countdown : IDisposable
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromMinutes(2);

    private readonly ManualResetEventSlim _done = new(initialState: false);
    private int _count;
    private int _remaining;

    public Countdown()
    {
        SignalAction = Signal;
    }

    /// <summary>Gets <see cref="Signal"/> as one cached delegate, so producers allocate no closure per item.</summary>
    public Action SignalAction { get; }

    public void Reset(int count)
    {
        _done.Reset();
        _count = count;
        Volatile.Write(ref _remaining, count);
    }

    public void Signal()
    {
        if (Interlocked.Decrement(ref _remaining) == 0)
        {
            _done.Set();
        }
    }

    public void Wait()
    {
        if (!_done.Wait(s_timeout))
        {
            var finished = _count - Volatile.Read(ref _remaining);
            throw new TimeoutException($"Only {finished} of {_count} items finished within {s_timeout}: a competitor lost work.");
        }
    }

    public void Dispose() => _done.Dispose();
}
