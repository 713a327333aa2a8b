namespace ThreadLineage.Testing;

/// <summary>
/// A one-shot gate for coordinating test threads with pool workers: work waits on it (bounded), the test
/// opens it. Also serves as a "this happened" signal.
/// </summary>
/// <remarks>
/// Disposing opens the gate instead of destroying it, so that a test that fails early never leaves a
/// worker blocked (declare the gate after the manager: <c>using</c> disposes it first, then the manager drains).
/// </remarks>
public sealed class Gate : IDisposable
{
    private readonly ManualResetEventSlim _event = new();

    public bool IsOpen => _event.IsSet;

    public void Open() => _event.Set();

    /// <summary>Blocks until the gate opens; throws <see cref="TimeoutException"/> after <see cref="Bounded.Timeout"/>.</summary>
    public void Wait(string what) => Bounded.Wait(_event, what);

    /// <summary>
    /// Submits an item to <paramref name="manager"/> that holds one of its workers (on a borrower, one of its slots)
    /// until this gate opens; returns the item's task once the item runs.
    /// </summary>
    public Task HoldWorker(ThreadPoolManager manager, string? taskType = null)
    {
        using var started = new Gate();
        var task = manager.Submit(
            () =>
            {
                started.Open();
                Wait("the test to open the gate");
            },
            taskType);
        started.Wait("the held item to start");
        return task;
    }

    /// <summary>
    /// Submits <paramref name="count"/> items to <paramref name="manager"/> that each run <paramref name="onEach"/>, then
    /// hold their worker until this gate opens; returns their tasks once all of them run at the same time.
    /// </summary>
    public Task[] HoldWorkers(ThreadPoolManager manager, int count, string what, Action? onEach = null)
    {
        var running = 0;
        using var allRunning = new Gate();
        var items = Enumerable.Range(0, count).Select(_ => manager.Submit(() =>
        {
            onEach?.Invoke();
            if (Interlocked.Increment(ref running) == count)
            {
                allRunning.Open();
            }

            Wait("the test to open the gate");
        })).ToArray();
        allRunning.Wait(what);
        return items;
    }

    // The event never allocates a wait handle, and a late waiter must never meet a disposed object.
    public void Dispose() => _event.Set();
}
