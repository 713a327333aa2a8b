using System.Globalization;
using System.Net;
using ThreadLineage.WebDemo.Views;

namespace ThreadLineage.WebDemo;

/// <summary>
/// Renders pages: components on the shared render pool, their data on a pool each request creates for itself, which
/// borrows the threads of the process-wide <c>request-workers</c> pool (or, as <see cref="RequestPools"/> says, has
/// 2 threads of its own, or is <c>request-workers</c> itself).
/// </summary>
internal sealed class PageRenderer(
    [FromKeyedServices(WebDemoApp.RenderPool)] ThreadPoolManager render,
    RequestPools requestPools,
    ILoggerFactory loggerFactory)
{
    private static int s_lastRequestNumber;

    public async Task<PageView> RenderPageAsync(string page, int components, CancellationToken cancellationToken)
    {
        var (dataPool, dataPoolId) = StartRequestPool();

        var rendering = new Task<ComponentView>[components];
        for (var i = 0; i < components; i++)
        {
            var name = $"{page}-{i + 1}";
            // The shared pool refuses work without its task type; the work's flow carries this request's lineage.
            rendering[i] = render.Submit(() => RenderComponentAsync(name, dataPoolId), WebDemoApp.RenderTaskType, cancellationToken);
        }

        return new PageView(
            page,
            Lineage.Current.ToString(),
            dataPool.Owner!.ToString(),
            requestPools.Mode.ToString().ToLowerInvariant(),
            dataPool.WorkersFrom?.Id,
            await Task.WhenAll(rendering));
    }

    /// <summary>Starts the request's own pool for its data (none in shared mode); returns it and the id its components resolve.</summary>
    private (ThreadPoolManager Pool, string Id) StartRequestPool()
    {
        if (requestPools.Mode == RequestPoolMode.Shared)
        {
            // One pool on the root for every request: nothing to start, nothing to stop when the request ends.
            return (Lineage.GetManager(WebDemoApp.RequestWorkersPool), WebDemoApp.RequestWorkersPool);
        }

        // Inside the request's scope (LineageScopeMiddleware): no ancestor has a "request" pool, so this creates one and
        // attaches it to the request's own node. Other requests never resolve it; the scope stops it when the request ends.
        var requestPool = Lineage.GetOrCreateManager(WebDemoApp.RequestPool);
        requestPool.Start(requestPools.Mode == RequestPoolMode.Dedicated
            ? new ThreadPoolManagerOptions
            {
                // Two threads of its own, created now and joined when the request ends.
                MaxWorkers = 2,
                ThreadNamePrefix = $"request-{Interlocked.Increment(ref s_lastRequestNumber)}",
                LoggerFactory = loggerFactory,
            }
            : new ThreadPoolManagerOptions
            {
                // No thread of its own: at most 2 of its items run at once, on request-workers' threads, resolved through
                // the request's lineage (up to the root, where the host registered it).
                WorkersFrom = WebDemoApp.RequestWorkersPool,
                MaxWorkers = 2,
                LoggerFactory = loggerFactory,
            });
        return (requestPool, WebDemoApp.RequestPool);
    }

    private static async Task<ComponentView> RenderComponentAsync(string name, string dataPoolId)
    {
        var renderedOn = Thread.CurrentThread.Name;
        // Running on a shared render worker, yet resolving the pool of the request that submitted the work.
        var dataPool = Lineage.GetManager(dataPoolId);
        var (data, loadedOn) = await dataPool.Submit(() => LoadData(name));
        // This continuation is back on the render pool: its awaits resume on the pool's own workers.
        var html = $"<section id=\"{WebUtility.HtmlEncode(name)}\">{WebUtility.HtmlEncode(data)}</section>";
        return new ComponentView(name, html, renderedOn, loadedOn, dataPool.Owner!.ToString());
    }

    private static (string Data, string? LoadedOn) LoadData(string name)
    {
        // Stands in for a database or service call made on the request's own pool.
        var checksum = 0;
        foreach (var c in name)
        {
            checksum = (checksum * 31) + c;
        }

        return ($"{name} #{checksum.ToString("x8", CultureInfo.InvariantCulture)}", Thread.CurrentThread.Name);
    }
}
