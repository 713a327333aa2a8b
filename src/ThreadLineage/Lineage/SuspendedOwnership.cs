namespace ThreadLineage;

/// <summary>
/// What <see cref="Lineage.SuspendOwnership"/> took from the current thread (the nodes its flows own, and those it
/// parked while running a descendant's code inline), to be given back by <see cref="Lineage.ResumeOwnership"/> on the
/// same thread. A typed handle on <see cref="Lineage"/>'s private records, so nothing else can make or read one.
/// </summary>
internal readonly struct SuspendedOwnership
{
    internal SuspendedOwnership(object? state) => State = state;

    /// <summary>Gets <see cref="Lineage"/>'s record of what was owned; <see langword="null"/> when nothing was.</summary>
    internal object? State { get; }
}
