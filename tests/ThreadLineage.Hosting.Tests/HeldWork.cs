namespace ThreadLineage.Hosting.Tests;

/// <summary>
/// The work the stop tests stop a host with: an item that holds a pool's only worker (or a borrower's only slot)
/// until <see cref="Release"/>, and an item queued behind it.
/// </summary>
/// <typeparam name="T">The result of the queued item.</typeparam>
internal sealed class HeldWork<T>
{
    private readonly TaskCompletionSource _gate;

    private HeldWork(Task running, Task<T> queued, TaskCompletionSource gate)
    {
        Running = running;
        Queued = queued;
        _gate = gate;
    }

    /// <summary>Gets the item that holds the worker; it has started.</summary>
    public Task Running { get; }

    /// <summary>Gets the item queued behind it.</summary>
    public Task<T> Queued { get; }

    /// <summary>Submits the held item and <paramref name="queued"/> to <paramref name="pool"/>; returns once the held item runs.</summary>
    public static async Task<HeldWork<T>> SubmitAsync(ThreadPoolManager pool, Func<T> queued, string whose)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = pool.Submit(() =>
        {
            started.SetResult();
            gate.Task.Wait(Bounded.Timeout);
        });
        var queuedItem = pool.Submit(queued);
        await Bounded.WaitAsync(started.Task, $"{whose} work to start");
        return new HeldWork<T>(running, queuedItem, gate);
    }

    /// <summary>Lets the held item return.</summary>
    public void Release() => _gate.SetResult();
}
