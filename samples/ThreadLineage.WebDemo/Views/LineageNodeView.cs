namespace ThreadLineage.WebDemo.Views;

/// <summary>A node of the live lineage tree: its managers and its live children.</summary>
/// <param name="Node">The node's description.</param>
/// <param name="Name">The node's name, if any (requests' scopes are named <c>request {TraceIdentifier}</c>).</param>
/// <param name="Managers">The managers attached to this node.</param>
/// <param name="Children">The node's live children.</param>
public sealed record LineageNodeView(string Node, string? Name, IReadOnlyList<ManagerView> Managers, IReadOnlyList<LineageNodeView> Children)
{
    /// <summary>Takes a snapshot of <paramref name="node"/> and everything below it.</summary>
    /// <param name="node">The node.</param>
    /// <returns>The snapshot.</returns>
    public static LineageNodeView Of(LineageNode node) => new(
        node.ToString(),
        node.Name,
        [.. node.Managers.Values.OrderBy(static m => m.Id, StringComparer.Ordinal).Select(ManagerView.Of)],
        [.. node.Children.Select(Of)]);
}
