using System.Diagnostics;
using ThreadLineage.Internal;
using ThreadLineage.Pools;

namespace ThreadLineage;

/// <summary>
/// A pool of dedicated worker threads (never the shared .NET thread pool) with a FIFO work queue,
/// optional task-type protection and a lifecycle: <see cref="Start(ThreadPoolManagerOptions)"/>,
/// <c>Submit</c>, <see cref="Stop(bool, bool)"/>.
/// </summary>
/// <remarks>
/// <para>
/// Managers are usually resolved from the lineage (<see cref="Lineage.GetOrCreateManager(string?)"/>), which
/// attaches them to a <see cref="LineageNode"/>; one created with the public constructor is free-standing.
/// </para>
/// <para>
/// All members are thread-safe. The class is open only so that a subclass can override
/// <see cref="OnWorkerStarted"/>.
/// </para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public partial class ThreadPoolManager : IDisposable, IAsyncDisposable
{
    /// <summary>The id used when <see langword="null"/> is passed for one: <c>"default"</c>.</summary>
    public const string DefaultId = "default";

    private static readonly WeakHandleList<ThreadPoolManager> s_instances = new();

    /// <summary>Initializes a free-standing manager, attached to no lineage node. It is not started.</summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="DefaultId"/>.</param>
    public ThreadPoolManager(string? id = null)
        : this(id ?? DefaultId, owner: null)
    {
    }

    internal ThreadPoolManager(string id, LineageNode? owner)
    {
        Id = id;
        Owner = owner;
        Scheduler = new PoolTaskScheduler(this);
        s_instances.Add(this);
    }

    /// <summary>Gets a snapshot of the managers alive in the process (the seed's <c>all_instances()</c>).</summary>
    /// <remarks>The list refers to managers weakly: a manager that is not running and no longer referenced disappears from it.</remarks>
    public static IReadOnlyList<ThreadPoolManager> AllInstances => s_instances.Snapshot();

    /// <summary>Gets the manager id.</summary>
    public string Id { get; }

    /// <summary>Gets the lineage node the manager is attached to, or <see langword="null"/> for a free-standing manager.</summary>
    public LineageNode? Owner { get; }

    /// <summary>Gets whether the manager is running: <see langword="true"/> from <c>Start</c> until a stop begins.</summary>
    public bool IsRunning => _run is not null;

    /// <summary>Gets the most workers the pool runs (current or last run, after any <see cref="SetMaxWorkers"/>); 0 before the first start.</summary>
    public int MaxWorkers => ActiveRun?.MaxWorkers ?? 0;

    /// <summary>Gets the only task type the pool accepts, or <see langword="null"/> when it is unprotected.</summary>
    public string? TaskType => _settings?.TaskType;

    /// <summary>Gets whether the workers run work as background threads (the seed's <c>daemon</c>); for a borrowing manager, its host's.</summary>
    public bool IsBackground => ActiveRun?.Threads.Settings.IsBackground ?? false;

    /// <summary>
    /// Gets the manager whose threads this manager borrows (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>), for the current or
    /// last run; <see langword="null"/> for a manager with dedicated threads or one that never started.
    /// </summary>
    public ThreadPoolManager? WorkersFrom => ActiveRun?.Host?.Manager;

    internal PoolTaskScheduler Scheduler { get; }

    internal TaskCanceler Canceler { get; set; } = TaskCanceler.Runtime;

    /// <summary>Gets the run that should take new continuations: the running one, else the one still draining.</summary>
    internal PoolRun? ActiveRun => _run ?? _lastRun;

    /// <summary>
    /// Gets whether the manager is running, or a run of it still drains: stopping, or replaced by a restart before it had
    /// drained. Such a manager still has work, workers or both, so its statistics are still worth publishing.
    /// </summary>
    internal bool IsRunningOrDraining
    {
        get
        {
            if (_run is not null)
            {
                return true;
            }

            for (var run = _lastRun; run is not null; run = run.Previous)
            {
                if (!run.IsDrained)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>Gets a snapshot of the pool's activity.</summary>
    /// <returns>Current workers, busy workers and queue length, and the cumulative outcome counters.</returns>
    public ThreadPoolStatistics GetStatistics()
    {
        // The active run (running, or the last one, which may be stopping) and the runs it replaced while they still
        // drained (a restart right after a non-waiting stop): their workers and queues are this manager's until they have
        // drained. A drained run adds nothing: its workers are gone, its queue is empty and its completions are folded.
        int workers = 0, busy = 0, queued = 0;
        long unfolded = 0;
        for (var run = ActiveRun; run is not null; run = run.Previous)
        {
            workers += run.LiveWorkers;
            busy += run.BusyWorkers;
            queued += run.QueuedItems;
            unfolded += run.UnfoldedCompleted;
        }

        return new ThreadPoolStatistics(
            Workers: workers,
            BusyWorkers: busy,
            QueuedItems: queued,
            Completed: Interlocked.Read(ref _completed) + unfolded,
            Faulted: Interlocked.Read(ref _faulted),
            Canceled: Interlocked.Read(ref _canceled),
            Rejected: Interlocked.Read(ref _rejected));
    }

    /// <summary>Returns the id, the number of workers, the state and the owner.</summary>
    /// <returns>A description such as <c>ThreadPoolManager 'render' (4 workers, running, owner: the lineage root)</c>.</returns>
    public override string ToString() =>
        $"ThreadPoolManager '{Id}' ({(MaxWorkers == 1 ? "1 worker" : $"{MaxWorkers} workers")}{BorrowedFrom}, {State}, owner: {Owner?.ToString() ?? "none (free-standing)"})";

    /// <summary>Runs on each new worker thread before it takes work (the seed's <c>_worker_init</c>).</summary>
    /// <remarks>
    /// If it throws, <c>Start</c> fails with the exception and no worker is left running. It must not call
    /// <c>Start</c> or <c>Stop</c> on its own manager.
    /// </remarks>
    protected virtual void OnWorkerStarted()
    {
    }

    /// <summary>Runs the worker-start hooks on a new worker of a run with <paramref name="settings"/>: the override, then the option.</summary>
    internal void RaiseWorkerStarted(PoolSettings settings)
    {
        OnWorkerStarted();
        settings.WorkerStarted?.Invoke(this);
    }

    /// <summary>Gets whether this is a subclass that overrides <see cref="OnWorkerStarted"/> (a thread setting a borrower must not have).</summary>
    private bool HasWorkerStartedOverride =>
        GetType() != typeof(ThreadPoolManager) &&
        GetType().GetMethod(nameof(OnWorkerStarted), System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, Type.EmptyTypes)?.DeclaringType != typeof(ThreadPoolManager);

    private string BorrowedFrom => WorkersFrom is { } host ? $" borrowed from '{host.Id}'" : "";

    /// <summary>One line for <see cref="Lineage.Describe"/>: id, state, workers, queue and protection.</summary>
    internal string Describe()
    {
        var statistics = GetStatistics();
        var protection = TaskType is null ? "any task type" : $"task type '{TaskType}'";
        var workers = WorkersFrom is { } host
            ? $"up to {MaxWorkers} borrowed from '{host.Id}'"
            : statistics.Workers == 1 ? "1 worker" : $"{statistics.Workers} workers";
        return $"{Id}: {State}, {workers} ({statistics.BusyWorkers} busy), {statistics.QueuedItems} queued, " +
            $"{statistics.Completed} completed, {statistics.Faulted} faulted, {protection}";
    }
}
