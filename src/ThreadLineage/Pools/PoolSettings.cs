using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ThreadLineage.Pools;

/// <summary>The validated, immutable copy of <see cref="ThreadPoolManagerOptions"/> that one run uses.</summary>
internal sealed class PoolSettings
{
    private PoolSettings(ThreadPoolManagerOptions options, string managerId)
    {
        MaxWorkers = options.MaxWorkers;
        TaskType = options.TaskType;
        IsBackground = options.IsBackground;
        ThreadNamePrefix = options.ThreadNamePrefix ?? managerId;
        FlowExecutionContext = options.FlowExecutionContext;
        LogExceptions = options.LogExceptions;
        Logger = options.LoggerFactory?.CreateLogger<ThreadPoolManager>() ?? NullLogger<ThreadPoolManager>.Instance;
    }

    public int MaxWorkers { get; }

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
