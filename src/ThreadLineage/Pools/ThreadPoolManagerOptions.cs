using Microsoft.Extensions.Logging;

namespace ThreadLineage;

/// <summary>
/// Settings for <see cref="ThreadPoolManager.Start(ThreadPoolManagerOptions)"/>. A plain mutable object:
/// <c>Start</c> validates it once (reporting every problem together) and copies it, so changing it
/// afterwards does not affect a running pool.
/// </summary>
public sealed class ThreadPoolManagerOptions
{
    /// <summary>Gets or sets the number of dedicated worker threads. Default: <see cref="Environment.ProcessorCount"/>. Must be at least 1.</summary>
    public int MaxWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>
    /// Gets or sets the number of workers created by <c>Start</c> and kept while idle; the rest, up to
    /// <see cref="MaxWorkers"/>, are created when work is waiting and no worker is free.
    /// Default: <see langword="null"/>, meaning <see cref="MaxWorkers"/>. Must be between 1 and <see cref="MaxWorkers"/>.
    /// </summary>
    public int? MinWorkers { get; set; }

    /// <summary>
    /// Gets or sets how long a worker above <see cref="MinWorkers"/> stays idle before it retires.
    /// Default: <see cref="Timeout.InfiniteTimeSpan"/> (never). Must be positive or infinite.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// Gets or sets the most items the queue holds (running items do not count); <see langword="null"/> (the default) is unbounded.
    /// Must be at least 1.
    /// </summary>
    public int? QueueCapacity { get; set; }

    /// <summary>Gets or sets what a submission does when the bounded queue is full. Default: <see cref="QueueFullMode.Wait"/>.</summary>
    public QueueFullMode QueueFullMode { get; set; } = QueueFullMode.Wait;

    /// <summary>
    /// Gets or sets the only task type the pool accepts; <see langword="null"/> (the default) accepts any.
    /// Work submitted with another type (compared ordinally, <see langword="null"/> included) is refused with
    /// <see cref="UnknownTaskTypeException"/>.
    /// </summary>
    public string? TaskType { get; set; }

    /// <summary>
    /// Gets or sets whether workers run work as background threads. Default: <see langword="false"/>: when the
    /// process exits normally, queued and running work completes first. Work of a background pool is
    /// abandoned at exit.
    /// </summary>
    public bool IsBackground { get; set; }

    /// <summary>Gets or sets the worker thread name prefix; workers are named <c>"{prefix}-{n}"</c>. Default: the manager id.</summary>
    public string? ThreadNamePrefix { get; set; }

    /// <summary>
    /// Gets or sets whether work runs in the <see cref="ExecutionContext"/> captured when it was submitted
    /// (lineage, <see cref="AsyncLocal{T}"/> values, <c>Activity.Current</c>, culture), as with
    /// <see cref="Task.Run(Action)"/>. Default: <see langword="true"/>. When <see langword="false"/>, work runs in
    /// the worker's own context, whose lineage is the manager's <see cref="ThreadPoolManager.Owner"/>.
    /// </summary>
    public bool FlowExecutionContext { get; set; } = true;

    /// <summary>
    /// Gets or sets whether a faulting work item is also logged as a warning through the pool's logger.
    /// Default: <see langword="true"/>. The returned task carries the exception either way.
    /// </summary>
    public bool LogExceptions { get; set; } = true;

    /// <summary>Gets or sets the logger factory for the pool's logger. Default: <see langword="null"/>: nothing is written.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// Gets or sets the id of a running manager whose threads this manager borrows (its <em>host</em>), resolved through
    /// the lineage of the flow that calls <c>Start</c>, as <see cref="Lineage.GetManager(string?)"/> does.
    /// Default: <see langword="null"/>: the manager has dedicated threads of its own.
    /// </summary>
    /// <remarks>
    /// A borrowing manager creates and joins no thread; everything else (queue, <see cref="MaxWorkers"/> as the most of its
    /// items that run at once, capacity, task type, statistics, lifecycle) is its own. Thread settings
    /// (<see cref="MinWorkers"/>, <see cref="IdleTimeout"/>, <see cref="IsBackground"/>, <see cref="ThreadNamePrefix"/>,
    /// <see cref="WorkerStarted"/>, <see cref="WorkerStopping"/>) belong to the host and are a validation error here.
    /// </remarks>
    public string? WorkersFrom { get; set; }

    /// <summary>
    /// Gets or sets a callback run on each new worker thread before it takes work (the workers <c>Start</c> creates and those
    /// added on demand), right after <see cref="ThreadPoolManager.OnWorkerStarted"/>, with the manager as argument (the seed's
    /// <c>_worker_init</c>). Default: <see langword="null"/>. If it throws during <c>Start</c>, <c>Start</c> fails as when
    /// <see cref="ThreadPoolManager.OnWorkerStarted"/> throws; on a worker added on demand, the failure is logged and the pool
    /// keeps its other workers. Not allowed with <see cref="WorkersFrom"/>.
    /// </summary>
    public Action<ThreadPoolManager>? WorkerStarted { get; set; }

    /// <summary>
    /// Gets or sets a callback run on each worker thread as it exits (after a stop, or when it retires after
    /// <see cref="IdleTimeout"/>), with the manager as argument; a waiting stop returns after every worker has run it.
    /// Default: <see langword="null"/>. An exception it throws is logged and otherwise ignored. Not allowed with
    /// <see cref="WorkersFrom"/>.
    /// </summary>
    public Action<ThreadPoolManager>? WorkerStopping { get; set; }

    /// <summary>
    /// Returns every problem of these options, each a sentence that names its property; empty exactly when
    /// <see cref="ThreadPoolManager.Start(ThreadPoolManagerOptions)"/> accepts them. Starts nothing.
    /// </summary>
    /// <returns>The problems, in property order; an empty list when the options are valid.</returns>
    /// <remarks>
    /// What only <c>Start</c> can check is not included: whether <see cref="WorkersFrom"/> resolves to a running manager with
    /// a compatible task type, and whether a subclass overrides <see cref="ThreadPoolManager.OnWorkerStarted"/> while borrowing.
    /// </remarks>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MaxWorkers < 1)
        {
            problems.Add($"MaxWorkers must be at least 1 (it is {MaxWorkers}).");
        }

        if (MinWorkers is { } min && (min < 1 || min > Math.Max(1, MaxWorkers)))
        {
            problems.Add($"MinWorkers must be null (same as MaxWorkers) or between 1 and MaxWorkers (it is {min}, MaxWorkers is {MaxWorkers}).");
        }

        if (IdleTimeout != Timeout.InfiniteTimeSpan && (IdleTimeout <= TimeSpan.Zero || IdleTimeout.TotalMilliseconds > int.MaxValue))
        {
            problems.Add($"IdleTimeout must be positive or Timeout.InfiniteTimeSpan (it is {IdleTimeout}).");
        }

        if (QueueCapacity is < 1)
        {
            problems.Add($"QueueCapacity must be null (unbounded) or at least 1 (it is {QueueCapacity}).");
        }

        if (!Enum.IsDefined(QueueFullMode))
        {
            problems.Add($"QueueFullMode must be Wait, Reject or RunInCaller (it is {(int)QueueFullMode}).");
        }

        if (TaskType is { Length: 0 })
        {
            problems.Add("TaskType must be null (accept any task type) or a non-empty string (it is empty).");
        }

        if (ThreadNamePrefix is not null && string.IsNullOrWhiteSpace(ThreadNamePrefix))
        {
            problems.Add("ThreadNamePrefix must be null (use the manager id) or contain a visible character.");
        }

        if (WorkersFrom is not null)
        {
            if (string.IsNullOrWhiteSpace(WorkersFrom))
            {
                problems.Add("WorkersFrom must be null (dedicated threads) or the id of the manager to borrow workers from (it is empty).");
            }

            var threadSettings = new List<string>();
            AddIf(threadSettings, MinWorkers is not null, nameof(MinWorkers));
            AddIf(threadSettings, IdleTimeout != Timeout.InfiniteTimeSpan, nameof(IdleTimeout));
            AddIf(threadSettings, IsBackground, nameof(IsBackground));
            AddIf(threadSettings, ThreadNamePrefix is not null, nameof(ThreadNamePrefix));
            AddIf(threadSettings, WorkerStarted is not null, nameof(WorkerStarted));
            AddIf(threadSettings, WorkerStopping is not null, nameof(WorkerStopping));
            if (threadSettings.Count > 0)
            {
                problems.Add(
                    $"{string.Join(", ", threadSettings)} {(threadSettings.Count == 1 ? "is a thread setting" : "are thread settings")}, which belong to the host " +
                    $"'{WorkersFrom}' when WorkersFrom is set: set {(threadSettings.Count == 1 ? "it" : "them")} on the host, or set WorkersFrom to null for dedicated threads.");
            }
        }

        return problems;

        static void AddIf(List<string> names, bool set, string name)
        {
            if (set)
            {
                names.Add(name);
            }
        }
    }
}
