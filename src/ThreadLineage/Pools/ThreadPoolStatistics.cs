namespace ThreadLineage;

/// <summary>A snapshot of a <see cref="ThreadPoolManager"/>'s activity, from <see cref="ThreadPoolManager.GetStatistics"/>.</summary>
/// <param name="Workers">The manager's own worker threads alive right now: 0 for a manager that borrows its threads (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>).</param>
/// <param name="BusyWorkers">Workers running an item right now; for a manager that borrows its threads, its items running now.</param>
/// <param name="QueuedItems">Items waiting in the queue right now.</param>
/// <param name="Completed">Submitted or posted work that ran to completion, over the manager's life (across restarts).</param>
/// <param name="Faulted">Submitted or posted work that threw, over the manager's life.</param>
/// <param name="Canceled">Submitted work that ended canceled (and posted work dropped by <c>cancelPending</c>), over the manager's life.</param>
/// <param name="Rejected">
/// Submissions refused synchronously, over the manager's life: every <c>Submit</c>, <c>Post</c> or <c>GetScheduler</c> call that threw
/// because the manager was not running (never started, stopping, stopped or disposed), the task type did not match, or the bounded
/// queue was full with <see cref="QueueFullMode.Reject"/>. Invalid arguments (<see langword="null"/> work) are not counted.
/// </param>
/// <remarks>
/// <para>
/// The first three figures cover the running run and any earlier run that still drains (a stopping manager, or one restarted
/// before its previous run had drained): a draining queue and its busy workers stay visible until those workers have exited.
/// </para>
/// <para>
/// The cumulative counters are updated just after a work item's task reaches its final state, so a caller
/// that observed the task may briefly see the previous figure; after <see cref="ThreadPoolManager.Stop(bool, bool)"/>
/// with <c>wait: true</c> returns they are exact.
/// </para>
/// </remarks>
public readonly record struct ThreadPoolStatistics(
    int Workers,
    int BusyWorkers,
    int QueuedItems,
    long Completed,
    long Faulted,
    long Canceled,
    long Rejected);
