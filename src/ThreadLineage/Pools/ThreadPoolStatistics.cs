namespace ThreadLineage;

/// <summary>A snapshot of a <see cref="ThreadPoolManager"/>'s activity, from <see cref="ThreadPoolManager.GetStatistics"/>.</summary>
/// <param name="Workers">Worker threads alive right now.</param>
/// <param name="BusyWorkers">Workers running work (not parked) right now.</param>
/// <param name="QueuedItems">Items waiting in the queue right now.</param>
/// <param name="Completed">Submitted work that ran to completion, over the manager's life (across restarts).</param>
/// <param name="Faulted">Submitted work that threw, over the manager's life.</param>
/// <param name="Canceled">Submitted work that ended canceled, over the manager's life.</param>
/// <param name="Rejected">Submissions refused (manager not running or disposed, wrong task type, full queue with <see cref="QueueFullMode.Reject"/>), over the manager's life.</param>
/// <remarks>
/// The cumulative counters are updated just after a work item's task reaches its final state, so a caller
/// that observed the task may briefly see the previous figure; after <see cref="ThreadPoolManager.Stop(bool, bool)"/>
/// with <c>wait: true</c> returns they are exact.
/// </remarks>
public readonly record struct ThreadPoolStatistics(
    int Workers,
    int BusyWorkers,
    int QueuedItems,
    long Completed,
    long Faulted,
    long Canceled,
    long Rejected);
