namespace ThreadLineage;

/// <summary>
/// The one way the library runs code in another <see cref="ExecutionContext"/> on the current thread and comes back:
/// a work item on a worker, work run inline for a waiting thread or in a full pool's caller, a submission created in
/// a pool's own context. Use it with <c>using</c>; it allocates nothing.
/// </summary>
/// <remarks>
/// <para>
/// Entering suspends the nodes this thread owns (<see cref="Lineage.SuspendOwnership"/>) before switching, so that
/// code run in another flow's context never owns the node of the flow that waits on this thread, and the switches
/// themselves (which raise the lineage's change notification) leave that flow's ownership alone. Leaving restores the
/// context to return to first (its notification must not see the ownership back yet), then gives the nodes back.
/// </para>
/// <para>
/// A <see langword="null"/> target stays in the current context (only ownership is suspended); a <see langword="null"/>
/// context to return to leaves whatever context the code ended in (the caller restores one of its own, or had none
/// to capture because it suppressed the flow).
/// </para>
/// </remarks>
internal readonly ref struct ContextSwitch
{
    private readonly ExecutionContext? _returnTo;
    private readonly SuspendedOwnership _ownership;

    private ContextSwitch(ExecutionContext? returnTo, SuspendedOwnership ownership)
    {
        _returnTo = returnTo;
        _ownership = ownership;
    }

    /// <summary>Suspends this thread's ownership and switches to <paramref name="target"/> until <see cref="Dispose"/>.</summary>
    /// <param name="target">The context to run in; <see langword="null"/> to stay in the current one.</param>
    /// <param name="returnTo">The context <see cref="Dispose"/> restores; <see langword="null"/> for none.</param>
    public static ContextSwitch Enter(ExecutionContext? target, ExecutionContext? returnTo)
    {
        var ownership = Lineage.SuspendOwnership();
        if (target is not null)
        {
            ExecutionContext.Restore(target);
        }

        return new ContextSwitch(returnTo, ownership);
    }

    /// <summary>Restores the context to return to, then gives back the nodes this thread owned.</summary>
    public void Dispose()
    {
        if (_returnTo is not null)
        {
            ExecutionContext.Restore(_returnTo);
        }

        Lineage.ResumeOwnership(_ownership);
    }
}
