namespace ThreadLineage.WebDemo;

/// <summary>Runs each request in its own lineage scope.</summary>
/// <remarks>
/// Managers a request attaches belong to its scope: no other request resolves them (isolation), the flows the request
/// starts (including its work on the shared render pool) do, and disposing the scope when the request ends stops them.
/// </remarks>
internal sealed class LineageScopeMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext context)
    {
        await using var scope = Lineage.BeginScope($"request {context.TraceIdentifier}");
        await next(context);
    }
}
