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
