using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ThreadLineage.Pools;

/// <summary>The validated, immutable copy of <see cref="ThreadPoolManagerOptions"/> that one run uses.</summary>
internal sealed class PoolSettings
{
    private PoolSettings(ThreadPoolManagerOptions options, string managerId)
    {
        MaxWorkers = options.MaxWorkers;
        MinWorkers = options.MinWorkers ?? options.MaxWorkers;
        IdleTimeout = options.IdleTimeout;
        QueueCapacity = options.QueueCapacity;
        QueueFullMode = options.QueueFullMode;
        TaskType = options.TaskType;
        IsBackground = options.IsBackground;
        ThreadNamePrefix = options.ThreadNamePrefix ?? managerId;
        FlowExecutionContext = options.FlowExecutionContext;
        LogExceptions = options.LogExceptions;
        Logger = options.LoggerFactory?.CreateLogger<ThreadPoolManager>() ?? NullLogger<ThreadPoolManager>.Instance;
    }

    public int MaxWorkers { get; }

    public int MinWorkers { get; }

    public TimeSpan IdleTimeout { get; }

    public int? QueueCapacity { get; }

    public QueueFullMode QueueFullMode { get; }

    public string? TaskType { get; }

    public bool IsBackground { get; }

    public string ThreadNamePrefix { get; }

    public bool FlowExecutionContext { get; }

    public bool LogExceptions { get; }

    public ILogger Logger { get; }

    /// <summary>Validates <paramref name="options"/>, reporting every problem in one exception, and copies it.</summary>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists them all.</exception>
    public static PoolSettings From(ThreadPoolManagerOptions options, string managerId)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.MaxWorkers < 1)
        {
            problems.Add($"MaxWorkers must be at least 1 (it is {options.MaxWorkers}).");
        }

        if (options.MinWorkers is { } min && (min < 1 || min > Math.Max(1, options.MaxWorkers)))
        {
            problems.Add($"MinWorkers must be null (same as MaxWorkers) or between 1 and MaxWorkers (it is {min}, MaxWorkers is {options.MaxWorkers}).");
        }

        if (options.IdleTimeout != Timeout.InfiniteTimeSpan && (options.IdleTimeout <= TimeSpan.Zero || options.IdleTimeout.TotalMilliseconds > int.MaxValue))
        {
            problems.Add($"IdleTimeout must be positive or Timeout.InfiniteTimeSpan (it is {options.IdleTimeout}).");
        }

        if (options.QueueCapacity is < 1)
        {
            problems.Add($"QueueCapacity must be null (unbounded) or at least 1 (it is {options.QueueCapacity}).");
        }

        if (!Enum.IsDefined(options.QueueFullMode))
        {
            problems.Add($"QueueFullMode must be Wait, Reject or RunInCaller (it is {(int)options.QueueFullMode}).");
        }

        if (options.TaskType is { Length: 0 })
        {
            problems.Add("TaskType must be null (accept any task type) or a non-empty string (it is empty).");
        }

        if (options.ThreadNamePrefix is not null && string.IsNullOrWhiteSpace(options.ThreadNamePrefix))
        {
            problems.Add("ThreadNamePrefix must be null (use the manager id) or contain a visible character.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException(
                $"Thread pool manager '{managerId}' cannot start with these options: {string.Join(" ", problems)}",
                nameof(options));
        }

        return new PoolSettings(options, managerId);
    }
}
