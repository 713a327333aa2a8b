namespace ThreadLineage.WebDemo.Views;

/// <summary>A rendered page.</summary>
/// <param name="Page">The page name.</param>
/// <param name="RequestNode">The request's lineage scope node.</param>
/// <param name="RequestPool">The owner node of the pool the request created inside its scope.</param>
/// <param name="Components">The rendered components, in order.</param>
public sealed record PageView(string Page, string RequestNode, string RequestPool, IReadOnlyList<ComponentView> Components);
