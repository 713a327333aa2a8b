using System.Collections.Concurrent;

namespace ThreadLineage.Tests.Support;

/// <summary>
/// A manager that records every worker thread on which <see cref="ThreadPoolManager.OnWorkerStarted"/> ran,
/// and optionally runs extra code there (to make it throw, for instance).
/// </summary>
internal sealed class WorkerTrackingManager(string id) : ThreadPoolManager(id)
{
    private readonly ConcurrentQueue<Thread> _started = new();

    /// <summary>Gets or sets code run on each worker after it was recorded.</summary>
    public Action? OnStart { get; set; }

    /// <summary>Gets the threads <see cref="ThreadPoolManager.OnWorkerStarted"/> ran on, once per call.</summary>
    public IReadOnlyList<Thread> StartedWorkers => [.. _started];

    protected override void OnWorkerStarted()
    {
        _started.Enqueue(Thread.CurrentThread);
        OnStart?.Invoke();
    }
}
