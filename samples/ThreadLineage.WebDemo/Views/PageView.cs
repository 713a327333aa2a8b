namespace ThreadLineage.WebDemo.Views;

/// <summary>A rendered page.</summary>
/// <param name="Page">The page name.</param>
/// <param name="RequestNode">The request's lineage scope node.</param>
/// <param name="RequestPool">The owner node of the pool the request loaded its data on (its own scope's, or the root in shared mode).</param>
/// <param name="RequestPoolMode">How the request got that pool: <c>borrowed</c>, <c>dedicated</c> or <c>shared</c>.</param>
/// <param name="WorkersFrom">The pool whose threads the request's pool borrows, or <see langword="null"/> when it has threads of its own.</param>
/// <param name="Components">The rendered components, in order.</param>
public sealed record PageView(string Page, string RequestNode, string RequestPool, string RequestPoolMode, string? WorkersFrom, IReadOnlyList<ComponentView> Components);
