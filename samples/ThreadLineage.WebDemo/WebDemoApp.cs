using ThreadLineage.WebDemo.Views;

namespace ThreadLineage.WebDemo;

/// <summary>
/// The web demo: every request runs in its own lineage scope, renders "components" on a shared, task-type-protected
/// pool registered through ThreadLineage.Hosting, and loads their data on a pool of its own that no other request sees.
/// That pool borrows the threads of the process-wide <see cref="RequestWorkersPool"/> (the default); configuration
/// (<see cref="RequestPools.ModeKey"/>) can give it threads of its own instead, or skip it and load on the shared pool.
/// </summary>
public static class WebDemoApp
{
    /// <summary>The shared render pool's name (and id on <see cref="Lineage.Root"/>).</summary>
    public const string RenderPool = "render";

    /// <summary>The only task type the render pool accepts.</summary>
    public const string RenderTaskType = "component-render";

    /// <summary>The id of the pool each request creates inside its own scope.</summary>
    public const string RequestPool = "request";

    /// <summary>The process-wide pool (on <see cref="Lineage.Root"/>) whose threads the requests' pools borrow.</summary>
    public const string RequestWorkersPool = "request-workers";

    /// <summary>Builds the application; <c>--urls http://127.0.0.1:0</c> picks a free loopback port.</summary>
    /// <param name="args">Command-line arguments (configuration overrides such as <c>--urls</c>).</param>
    /// <returns>The application, not started.</returns>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(WebDemoApp).Assembly.GetName().Name,
            // appsettings.json is copied next to the assembly: found however the app is launched.
            ContentRootPath = AppContext.BaseDirectory,
        });

        // The render pool: its contract (the task type) in code, its size from configuration (ThreadPools:render).
        builder.Services.AddThreadPoolManager(RenderPool, options =>
        {
            options.MaxWorkers = 2;
            options.TaskType = RenderTaskType;
        });
        builder.Services.AddThreadPoolManager(RenderPool, builder.Configuration.GetSection($"ThreadPools:{RenderPool}"));

        // The threads the requests' own pools borrow (or, in shared mode, the pool every request loads on): one per core
        // unless ThreadPools:request-workers says otherwise. A borrower has no thread settings: the names of the threads
        // its work runs on ("request-workers-N") are this pool's.
        builder.Services.AddThreadPoolManager(RequestWorkersPool, options => options.MaxWorkers = Environment.ProcessorCount);
        builder.Services.AddThreadPoolManager(RequestWorkersPool, builder.Configuration.GetSection($"ThreadPools:{RequestWorkersPool}"));
        builder.Services.AddSingleton(RequestPools.From(builder.Configuration));
        builder.Services.AddSingleton<PageRenderer>();

        var app = builder.Build();
        app.UseMiddleware<LineageScopeMiddleware>();

        app.MapGet("/", () => Results.Text(
            "ThreadLineage web demo\n" +
            "  GET /pages/{name}?components=4   render a page: components on the shared 'render' pool, data on the request's own pool\n" +
            "                                   (borrowing 'request-workers' threads; RequestPools:Mode=dedicated|shared changes that)\n" +
            "  GET /protection                  submit to the render pool without its task type (refused)\n" +
            "  GET /lineage                     the live lineage tree and pool statistics (JSON, or text with Accept: text/plain)\n"));

        app.MapGet("/pages/{name}", async (string name, int? components, PageRenderer renderer, CancellationToken cancellationToken) =>
        {
            var count = Math.Clamp(components ?? 4, 1, 32);
            return Results.Ok(await renderer.RenderPageAsync(name, count, cancellationToken));
        });

        app.MapGet("/protection", ([FromKeyedServices(RenderPool)] ThreadPoolManager render) =>
        {
            try
            {
                render.Submit(() => "never runs");
                return Results.Problem("The render pool accepted work without its task type.");
            }
            catch (UnknownTaskTypeException refused)
            {
                return Results.Ok(new ProtectionView(Refused: true, refused.PoolTaskType, refused.Message));
            }
        });

        app.MapGet("/lineage", (HttpRequest request) =>
        {
            var wantsText = request.GetTypedHeaders().Accept.Any(static accept => accept.MediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase));
            return wantsText
                ? Results.Text(Lineage.Describe(), "text/plain")
                : Results.Ok(LineageView.Capture());
        });

        return app;
    }
}
