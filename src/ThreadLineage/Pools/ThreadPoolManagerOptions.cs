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
}
