namespace ThreadLineage.WebDemo.Views;

/// <summary>The <c>GET /lineage</c> document: the live lineage tree and every live pool's statistics.</summary>
/// <param name="Tree">The tree, from <see cref="Lineage.Root"/>.</param>
/// <param name="Pools">Every live manager (<see cref="ThreadPoolManager.AllInstances"/>), attached or free-standing.</param>
public sealed record LineageView(LineageNodeView Tree, IReadOnlyList<PoolView> Pools)
{
    /// <summary>Takes a snapshot of the lineage and the pools.</summary>
    /// <returns>The snapshot.</returns>
    public static LineageView Capture() => new(
        LineageNodeView.Of(Lineage.Root),
        [.. ThreadPoolManager.AllInstances.Select(static m => new PoolView(m.Id, m.Owner?.ToString(), ManagerView.Of(m)))]);
}
