namespace ThreadLineage.WebDemo.Views;

/// <summary>A manager attached to a lineage node, with its statistics.</summary>
/// <param name="Id">The manager id.</param>
/// <param name="IsRunning">Whether it is running.</param>
/// <param name="MaxWorkers">Its number of workers (of the current or last run); for a borrowing manager, how many of its items run at once.</param>
/// <param name="TaskType">The only task type it accepts, or <see langword="null"/>.</param>
/// <param name="WorkersFrom">The manager whose threads it borrows, or <see langword="null"/> when it has threads of its own.</param>
/// <param name="Statistics">Its statistics.</param>
public sealed record ManagerView(string Id, bool IsRunning, int MaxWorkers, string? TaskType, string? WorkersFrom, ThreadPoolStatistics Statistics)
{
    /// <summary>Takes a snapshot of <paramref name="manager"/>.</summary>
    /// <param name="manager">The manager.</param>
    /// <returns>The snapshot.</returns>
    public static ManagerView Of(ThreadPoolManager manager) =>
        new(manager.Id, manager.IsRunning, manager.MaxWorkers, manager.TaskType, manager.WorkersFrom?.Id, manager.GetStatistics());
}
