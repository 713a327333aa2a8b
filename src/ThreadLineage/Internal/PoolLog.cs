using Microsoft.Extensions.Logging;

namespace ThreadLineage.Internal;

/// <summary>The pool's log messages, source-generated so that a disabled level costs one check.</summary>
internal static partial class PoolLog
{
    /// <summary>Writes a log entry on a pool worker: a logger that throws must not kill the worker (or the process).</summary>
    public static void Safely<TState>(Action<ILogger, TState> log, ILogger logger, TState state)
    {
        try
        {
            log(logger, state);
        }
        catch (Exception)
        {
            // Nothing sensible to do with a failing logger on a worker; the outcome is still counted.
        }
    }

    /// <summary>Logs a faulting work item; <paramref name="taskType"/> reads "none" for work without a task type.</summary>
    public static void WorkItemFaulted(ILogger logger, string managerId, string? taskType, Exception exception) =>
        WorkItemFaultedCore(logger, managerId, taskType ?? "none", exception);

    [LoggerMessage(EventId = 1, EventName = "WorkItemFaulted", Level = LogLevel.Warning,
        Message = "A work item on thread pool manager '{ManagerId}' (task type: {TaskType}) threw an exception.")]
    private static partial void WorkItemFaultedCore(ILogger logger, string managerId, string taskType, Exception exception);

    [LoggerMessage(EventId = 2, EventName = "WorkerStartFailed", Level = LogLevel.Error,
        Message = "The worker-start hook (OnWorkerStarted or the WorkerStarted option) threw on a worker of thread pool manager '{ManagerId}'; the pool did not start.")]
    public static partial void WorkerStartFailed(ILogger logger, string managerId, Exception exception);

    [LoggerMessage(EventId = 3, EventName = "OnDemandWorkerStartFailed", Level = LogLevel.Error,
        Message = "The worker-start hook (OnWorkerStarted or the WorkerStarted option) threw on a worker that thread pool manager '{ManagerId}' added on demand; the pool keeps running with its other workers.")]
    public static partial void OnDemandWorkerStartFailed(ILogger logger, string managerId, Exception exception);

    [LoggerMessage(EventId = 4, EventName = "WorkerStoppingFailed", Level = LogLevel.Error,
        Message = "The WorkerStopping hook threw on an exiting worker of thread pool manager '{ManagerId}'; the worker exited anyway.")]
    public static partial void WorkerStoppingFailed(ILogger logger, string managerId, Exception exception);
}
