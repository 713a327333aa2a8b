using System.Globalization;
using System.Net;
using ThreadLineage.WebDemo.Views;

namespace ThreadLineage.WebDemo;

/// <summary>Renders pages: components on the shared render pool, their data on a pool each request creates for itself.</summary>
internal sealed class PageRenderer(
    [FromKeyedServices(WebDemoApp.RenderPool)] ThreadPoolManager render,
    ILoggerFactory loggerFactory)
{
    private static int s_lastRequestNumber;

    public async Task<PageView> RenderPageAsync(string page, int components, CancellationToken cancellationToken)
    {
        // Inside the request's scope (LineageScopeMiddleware): no ancestor has a "request" pool, so this creates one and
        // attaches it to the request's own node. Other requests never resolve it; the scope stops it when the request ends.
        var requestPool = Lineage.GetOrCreateManager(WebDemoApp.RequestPool);
        var number = Interlocked.Increment(ref s_lastRequestNumber);
        requestPool.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            ThreadNamePrefix = $"request-{number}",
            LoggerFactory = loggerFactory,
        });

        var rendering = new Task<ComponentView>[components];
        for (var i = 0; i < components; i++)
        {
            var name = $"{page}-{i + 1}";
            // The shared pool refuses work without its task type; the work's flow carries this request's lineage.
            rendering[i] = render.Submit(() => RenderComponentAsync(name), WebDemoApp.RenderTaskType, cancellationToken);
        }

        return new PageView(page, Lineage.Current.ToString(), requestPool.Owner!.ToString(), await Task.WhenAll(rendering));
    }

    private static async Task<ComponentView> RenderComponentAsync(string name)
    {
        var renderedOn = Thread.CurrentThread.Name;
        // Running on a shared render worker, yet resolving the pool of the request that submitted the work.
        var requestPool = Lineage.GetManager(WebDemoApp.RequestPool);
        var (data, loadedOn) = await requestPool.Submit(() => LoadData(name));
        // This continuation is back on the render pool: its awaits resume on the pool's own workers.
        var html = $"<section id=\"{WebUtility.HtmlEncode(name)}\">{WebUtility.HtmlEncode(data)}</section>";
        return new ComponentView(name, html, renderedOn, loadedOn, requestPool.Owner!.ToString());
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
