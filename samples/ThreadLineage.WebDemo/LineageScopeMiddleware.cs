namespace ThreadLineage.WebDemo;

/// <summary>Runs each request in its own lineage scope.</summary>
/// <remarks>
/// Managers a request attaches belong to its scope: no other request resolves them (isolation), the flows the request
/// starts (including its work on the shared render pool) do, and disposing the scope when the request ends stops them.
/// </remarks>
#region doc: docs/hosting.md › ASP.NET Core: one lineage scope per request
internal sealed class LineageScopeMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await using var scope = Lineage.BeginScope($"request {context.TraceIdentifier}");
        await next(context);
    }
}
#endregion
