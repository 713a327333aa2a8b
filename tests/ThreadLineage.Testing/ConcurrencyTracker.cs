namespace ThreadLineage.Testing;

/// <summary>Counts how many calls of <see cref="Run"/> overlap, and the most that ever did: a pool's concurrency, seen from its work.</summary>
public sealed class ConcurrencyTracker
{
    private int _now;
    private int _max;

    public int Max => Volatile.Read(ref _max);

    public void Run(Action body)
    {
        var now = Interlocked.Increment(ref _now);
        int max;

        // Compare-exchange: raise the maximum only if no other call raised it higher meanwhile.
        while (now > (max = Volatile.Read(ref _max)) && Interlocked.CompareExchange(ref _max, now, max) != max)
        {
        }

        try
        {
            body();
        }
        finally
        {
            Interlocked.Decrement(ref _now);
        }
    }
}
