namespace ThreadLineage.Benchmarks.Support;

/// <summary>One reusable <see cref="IThreadPoolWorkItem"/>: the cheapest way to queue to the shared .NET thread pool.</summary>
public sealed class CountdownWorkItem(Countdown countdown) : IThreadPoolWorkItem
{
    public void Execute() => countdown.Signal();
}
