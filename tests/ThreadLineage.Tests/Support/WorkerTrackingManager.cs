using System.Collections.Concurrent;

namespace ThreadLineage.Tests.Support;

/// <summary>
/// A manager that records every worker thread on which <see cref="ThreadPoolManager.OnWorkerStarted"/> ran, so tests
/// can check that no worker survives a completed stop; <see cref="OnStart"/> runs extra code there (to block the new
/// worker, or make it throw) before the worker takes work.
/// </summary>
internal sealed class WorkerTrackingManager(string id) : ThreadPoolManager(id)
{
    private readonly ConcurrentQueue<Thread> _started = new();

    /// <summary>Gets or sets code run on each new worker after it was recorded; it may block or throw.</summary>
    public Action? OnStart { get; set; }

    /// <summary>Gets the threads <see cref="ThreadPoolManager.OnWorkerStarted"/> ran on, once per call, across runs.</summary>
    public IReadOnlyList<Thread> StartedWorkers => [.. _started];

    /// <summary>Returns the names of the recorded workers that are still alive.</summary>
    public List<string> LiveWorkerNames() =>
        [.. _started.Where(static t => t.IsAlive).Select(static t => t.Name ?? $"#{t.ManagedThreadId}")];

    /// <summary>Asserts that every worker this manager ever started has terminated.</summary>
    public void AssertNoWorkerAlive(string when)
    {
        var alive = LiveWorkerNames();
        Assert.True(alive.Count == 0, $"{alive.Count} worker thread(s) of '{Id}' still alive {when}: {string.Join(", ", alive)}.");
    }

    protected override void OnWorkerStarted()
    {
        _started.Enqueue(Thread.CurrentThread);
        OnStart?.Invoke();
    }
}
