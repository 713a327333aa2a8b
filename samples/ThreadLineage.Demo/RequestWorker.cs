namespace ThreadLineage.Demo;

/// <summary>Which "render" pool a flow resolved, and the thread that flow ran on.</summary>
internal sealed record Resolution(string Flow, ThreadPoolManager Pool, string RanOn)
{
    public static Resolution Here(string flow) => new(flow, Lineage.GetManager("render"), Show.CurrentThread());
}

/// <summary>One rendered component: its markup and the thread that rendered it.</summary>
internal sealed record Rendered(string Name, string Html, string RanOn);

/// <summary>
/// A dedicated "request worker" thread, like the worker threads of the seed's server. Inside the thread (never in
/// main) it creates its own "render" pool, so that its components never share a pool with another worker's.
/// </summary>
internal sealed class RequestWorker
{
    private const string RenderTaskType = "component-render";

    private readonly int _number;
    private readonly Thread _thread;
    private readonly CountdownEvent _ready;
    private readonly ManualResetEventSlim _release;
    private readonly List<Resolution> _resolutions = [];
    private readonly List<Rendered> _components = [];

    public RequestWorker(int number, CountdownEvent ready, ManualResetEventSlim release)
    {
        _number = number;
        _ready = ready;
        _release = release;
        Name = $"request-worker-{number}";
        // Background only so that a failure in the demo can never keep the process alive.
        _thread = new Thread(Run) { Name = Name, IsBackground = true };
    }

    public string Name { get; }

    /// <summary>Gets the worker's own "render" pool, once it has created it.</summary>
    public ThreadPoolManager? RenderPool { get; private set; }

    /// <summary>Gets where each flow of this worker's family resolved "render".</summary>
    public IReadOnlyList<Resolution> Resolutions => _resolutions;

    /// <summary>Gets the components of the page this worker's request rendered, page first.</summary>
    public IReadOnlyList<Rendered> Components => _components;

    /// <summary>Gets what went wrong on the worker, if anything.</summary>
    public Exception? Failure { get; private set; }

    public void Start() => _thread.Start();

    public void Join() => Within.Join(_thread, Name);

    private void Run()
    {
        try
        {
            ServeOneRequest();
        }
        catch (Exception e)
        {
            Failure = e;
        }
        finally
        {
            // Tell main the worker is ready (or failed), then stay alive until main has printed the tree.
            _ready.Signal();
        }

        try
        {
            Within.Wait(_release, $"{Name}'s release");
        }
        catch (Exception e)
        {
            Failure ??= e;
        }
        finally
        {
            // The worker's pool lives as long as the worker: drain it before the thread ends.
            RenderPool?.Stop(wait: true);
        }
    }

    private void ServeOneRequest()
    {
        // This thread's own node is created here, a child of Root; Root's "render" is shadowed from now on
        // for this thread and every flow it starts.
        var render = Lineage.CreateManager("render");
        render.Start(maxWorkers: 1, taskType: RenderTaskType, threadNamePrefix: $"render-w{_number}");
        RenderPool = render;

        _resolutions.Add(Resolution.Here(Name));

        // Children started after the pool was created inherit the worker's node.
        _resolutions.Add(Within.Result(Task.Run(() => Resolution.Here($"{Name} > Task.Run")), "Task.Run child"));

        Resolution? fromThread = null;
        var child = new Thread(() => fromThread = Resolution.Here($"{Name} > new Thread")) { Name = $"{Name}-child" };
        child.Start();
        Within.Join(child, child.Name);
        _resolutions.Add(fromThread!);

        // A request arrives. It is handled on the process-wide "requests" pool: the lookup walks past this
        // worker's node (which only holds "render") up to Root. The handler runs in the context captured by
        // Submit, so it still sees this worker's lineage, and renders on this worker's pool.
        var requests = Lineage.GetManager("requests");
        var handled = requests.Submit(() => HandleRequest(Name), "request-handling");
        var (resolution, components) = Within.Result(handled, $"{Name}'s request");
        _resolutions.Add(resolution);
        _components.AddRange(components);
    }

    private static (Resolution Resolution, Rendered[] Components) HandleRequest(string worker)
    {
        var resolution = Resolution.Here($"{worker} > its request on \"requests\"");
        var render = Lineage.GetManager("render");
        var page = Within.Result(render.Submit(RenderPage, RenderTaskType), "page render");
        return (resolution, page);
    }

    private static Rendered[] RenderPage()
    {
        // The page component renders its children on the same pool and waits for them. The pool has one
        // worker, and this method is occupying it: a plain executor (like the seed's) deadlocks here. The
        // waiting worker runs the queued children inline instead.
        var render = Lineage.GetManager("render");
        var nav = render.Submit(() => new Rendered("nav", "<nav/>", Show.CurrentThread()), RenderTaskType);
        var article = render.Submit(() => new Rendered("article", "<article/>", Show.CurrentThread()), RenderTaskType);
        // Deliberately .Result and not a bounded Wait(timeout): the runtime only runs a queued task inline for an
        // untimed, non-cancelable wait. The demo stays bounded anyway: main gives up after Within.Timeout.
        var children = new[] { nav.Result, article.Result };
        var page = new Rendered("page", $"<page>{children[0].Html}{children[1].Html}</page>", Show.CurrentThread());
        return [page, .. children];
    }
}
