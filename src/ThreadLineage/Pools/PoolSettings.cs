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
        WorkersFrom = options.WorkersFrom;
        WorkerStarted = options.WorkerStarted;
        WorkerStopping = options.WorkerStopping;
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

    public string? WorkersFrom { get; }

    public Action<ThreadPoolManager>? WorkerStarted { get; }

    public Action<ThreadPoolManager>? WorkerStopping { get; }

    /// <summary>Validates <paramref name="options"/>, reporting every problem in one exception, and copies it.</summary>
    /// <param name="options">The options to validate and copy.</param>
    /// <param name="managerId">The id of the manager being started, for messages and the default thread name prefix.</param>
    /// <param name="overridesOnWorkerStarted">Whether the manager is a subclass that overrides <c>OnWorkerStarted</c> (a thread setting).</param>
    /// <exception cref="ArgumentException">One or more options are invalid; the message lists them all.</exception>
    public static PoolSettings From(ThreadPoolManagerOptions options, string managerId, bool overridesOnWorkerStarted)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>(options.Validate());
        if (options.WorkersFrom is not null && overridesOnWorkerStarted)
        {
            problems.Add(
                $"OnWorkerStarted is overridden, and worker hooks belong to the host '{options.WorkersFrom}' when WorkersFrom is set: " +
                "move the hook to the host (or its WorkerStarted option), or set WorkersFrom to null for dedicated threads.");
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
