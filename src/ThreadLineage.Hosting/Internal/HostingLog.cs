using Microsoft.Extensions.Logging;

namespace ThreadLineage.Hosting.Internal;

/// <summary>The hosting integration's log messages, source-generated so that a disabled level costs one check.</summary>
internal static partial class HostingLog
{
    [LoggerMessage(EventId = 101, EventName = "ThreadPoolManagerStarted", Level = LogLevel.Information,
        Message = "Thread pool manager '{ManagerId}' started with {MaxWorkers} workers (task type: {TaskType}).")]
    public static partial void ManagerStarted(ILogger logger, string managerId, int maxWorkers, string? taskType);

    [LoggerMessage(EventId = 102, EventName = "ThreadPoolManagerDrained", Level = LogLevel.Debug,
        Message = "Thread pool manager '{ManagerId}' drained and stopped.")]
    public static partial void ManagerDrained(ILogger logger, string managerId);

    [LoggerMessage(EventId = 103, EventName = "ThreadPoolManagerDrainTimedOut", Level = LogLevel.Warning,
        Message = "Thread pool manager '{ManagerId}' did not drain within the host's shutdown timeout: its pending work " +
            "was canceled, and {BusyWorkers} work items still running were left to finish on their own. " +
            "Raise HostOptions.ShutdownTimeout or make long work observe a cancellation token.")]
    public static partial void ManagerDrainTimedOut(ILogger logger, string managerId, int busyWorkers);

    [LoggerMessage(EventId = 104, EventName = "ThreadPoolManagerStartedBorrowing", Level = LogLevel.Information,
        Message = "Thread pool manager '{ManagerId}' started, running up to {MaxWorkers} items at once on the workers of '{HostId}' (task type: {TaskType}).")]
    public static partial void ManagerStartedBorrowing(ILogger logger, string managerId, int maxWorkers, string hostId, string? taskType);
}
