using System.Collections.Concurrent;

namespace ThreadLineage.Tests.Reliability;

/// <summary>
/// A manager that records every worker thread it starts (in <see cref="OnWorkerStarted"/>), so tests can
/// check that no worker survives a completed stop. <see cref="WorkerStarting"/> lets a test run code on
/// each new worker (block it, or throw) before the worker takes work.
/// </summary>
internal sealed class TrackedManager(string id) : ThreadPoolManager(id)
{
    private readonly ConcurrentQueue<Thread> _threads = new();

    /// <summary>Gets or sets code run on each new worker, after it is recorded; it may block or throw.</summary>
    public Action? WorkerStarting { get; set; }

    /// <summary>Gets every worker thread this manager ever started, across runs.</summary>
    public IReadOnlyCollection<Thread> Threads => _threads;

    /// <summary>Returns the names of the recorded workers that are still alive.</summary>
    public List<string> LiveWorkerNames() =>
        [.. _threads.Where(static t => t.IsAlive).Select(static t => t.Name ?? $"#{t.ManagedThreadId}")];

    /// <summary>Asserts that every worker this manager ever started has terminated.</summary>
    public void AssertNoWorkerAlive(string when)
    {
        var alive = LiveWorkerNames();
        Assert.True(alive.Count == 0, $"{alive.Count} worker thread(s) of '{Id}' still alive {when}: {string.Join(", ", alive)}.");
    }

    protected override void OnWorkerStarted()
    {
        _threads.Enqueue(Thread.CurrentThread);
        WorkerStarting?.Invoke();
    }
}
