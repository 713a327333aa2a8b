// ThreadLineage demo: a small server in the spirit of the seed's motivation. Process-wide pools live on
// Lineage.Root; each request worker thread gets its own "render" pool, inherited by everything it starts and
// invisible to its siblings. Run it with:  dotnet run --project samples/ThreadLineage.Demo
// (With "-- --doc-examples" it runs the examples of README.md and docs/ instead; see DocExamples/.)
using ThreadLineage;
using ThreadLineage.Demo;
using ThreadLineage.Demo.DocExamples;

if (args is ["--doc-examples"])
{
    await DocExampleRunner.RunAllAsync();
    return 0;
}

Thread.CurrentThread.Name = "main";
const int WorkerCount = 3;
var labels = new Dictionary<ThreadPoolManager, string>(ReferenceEqualityComparer.Instance);

Show.Title("ThreadLineage demo: a small server");

// 1. Process-wide pools: attached to Root, so every flow of the process resolves them (unless it shadows one).
Show.Section(1, "Process-wide pools on Lineage.Root");
var requests = Lineage.Root.GetOrCreateManager("requests");
requests.Start(maxWorkers: 2, taskType: "request-handling");
var sharedRender = Lineage.Root.GetOrCreateManager("render");
sharedRender.Start(maxWorkers: 2, taskType: "component-render");
labels[sharedRender] = "Root's render pool";
foreach (var pool in new[] { requests, sharedRender })
{
    Show.Line($"{pool.Id,-9} {pool.MaxWorkers} workers, task type '{pool.TaskType}', owner: {pool.Owner}");
}

var splash = Within.Result(
    Lineage.GetManager("render").Submit(() => $"<splash/> on {Show.CurrentThread()}", "component-render"),
    "splash page");
Show.Line($"main renders the splash page with the shared pool: {splash}");

// 2. Task-type protection: a render job sent to the request pool by mistake is refused before it is queued.
Show.Section(2, "Task-type protection");
Show.Line("requests.Submit(() => \"<widget/>\", taskType: \"component-render\") is refused:");
try
{
    _ = requests.Submit(() => "<widget/>", taskType: "component-render");
    Show.Line("... it was accepted. That is a bug.");
}
catch (UnknownTaskTypeException e)
{
    Show.Wrapped($"{e.GetType().Name}: {e.Message}", indent: 2);
    Show.Line($"  (TaskType: '{e.TaskType}', PoolTaskType: '{e.PoolTaskType}'; nothing was queued)");
}

// 3. Request workers: dedicated threads that each create their own "render" pool, then start children.
Show.Section(3, $"{WorkerCount} request workers, each with its own \"render\" pool");
Show.Wrapped("Each worker thread calls Lineage.CreateManager(\"render\"), shadowing Root's, starts it with one " +
    "worker, then starts a Task.Run child, a child Thread, and hands a request to the shared \"requests\" pool. " +
    "Every one of those flows resolves Lineage.GetManager(\"render\"):");
Show.Line();

using var ready = new CountdownEvent(WorkerCount);
using var release = new ManualResetEventSlim();
var workers = Enumerable.Range(1, WorkerCount).Select(n => new RequestWorker(n, ready, release)).ToArray();
try
{
    foreach (var worker in workers)
    {
        worker.Start();
    }

    Within.Wait(ready, "the request workers to serve their requests");
    foreach (var worker in workers)
    {
        if (worker.Failure is not null)
        {
            throw new InvalidOperationException($"{worker.Name} failed.", worker.Failure);
        }

        labels[worker.RenderPool!] = $"{worker.Name}'s pool";
    }

    Show.Line($"{"flow",-46} {"resolves \"render\" to",-26} ran on");
    foreach (var resolution in workers.SelectMany(w => w.Resolutions).Append(Resolution.Here("main")))
    {
        Show.Line($"{resolution.Flow,-46} {labels[resolution.Pool],-26} {resolution.RanOn}");
    }

    var familiesAgree = workers.All(w => w.Resolutions.All(r => ReferenceEquals(r.Pool, w.RenderPool)));
    var distinct = workers.Select(w => w.RenderPool).Distinct(ReferenceEqualityComparer.Instance).Count();
    Show.Line();
    Show.Wrapped($"Within each worker's family, one pool: {(familiesAgree ? "yes" : "NO")}. " +
        $"Distinct pools across the {WorkerCount} sibling workers: {distinct}. Main still resolves Root's.");

    // 4. Nested waits: the page component waited on its children, queued to its own one-worker pool.
    Show.Section(4, "Nested wait on a one-worker pool");
    Show.Wrapped("On each worker's render pool (one worker), the page component submits its child components to " +
        "the same pool and blocks on their results. The waiting worker runs them inline: no deadlock.");
    Show.Line();
    foreach (var worker in workers)
    {
        var page = worker.Components[0];
        var where = string.Join(", ", worker.Components.Select(c => $"{c.Name} on {c.RanOn}"));
        Show.Line($"{worker.Name}: {page.Html}  ({where})");
    }

    // 5. The tree, printed while the workers (and so their nodes and running pools) are alive.
    Show.Section(5, "The lineage tree while the workers are alive: Lineage.Describe()");
    Show.Block(Lineage.Describe());
}
finally
{
    // Let the workers go: each stops its own render pool (Stop(wait: true)) before its thread ends.
    release.Set();
}

// 6. Per-request pools that borrow threads: each request gets a pool of its own (queue, limit, statistics,
// lifecycle) that runs on the threads of one process-wide host, so a request costs no thread.
Show.Section(6, "Per-request pools: borrowed threads next to dedicated ones");
var requestWorkers = Lineage.Root.GetOrCreateManager("request-workers");
requestWorkers.Start(maxWorkers: Environment.ProcessorCount);
const int RequestCount = 200;
var borrowed = await PerRequestPools.ServeAsync(RequestCount, borrow: true);
var dedicated = await PerRequestPools.ServeAsync(RequestCount, borrow: false);
Show.Wrapped($"{RequestCount} requests, each in its own scope with its own \"request\" pool (2 at a time, 4 items each):");
Show.Line($"  borrowing from \"request-workers\": {borrowed}");
Show.Line($"  dedicated threads (Start(2)):      {dedicated}");
Show.Line($"  request-workers: {requestWorkers.GetStatistics().Workers} threads, shared by every borrowing pool");

// 7. Graceful stop.
Show.Section(7, "Graceful stop");
foreach (var worker in workers)
{
    worker.Join();
    Show.Line($"{worker.Name,-17} stopped its render pool and exited (running: {worker.RenderPool!.IsRunning})");
}

// A job in a scope: pools attached inside it stop when the scope is disposed.
ThreadPoolManager report;
await using (var job = Lineage.BeginScope("nightly-report"))
{
    report = Lineage.GetOrCreateManager("report");
    report.Start(maxWorkers: 1, taskType: "report");
    labels[report] = "report (nightly-report)";
    var line = await report.Submit(() => $"report built on {Show.CurrentThread()}", "report").WaitAsync(Within.Timeout);
    Show.Line($"{line}, in scope '{job.Node.Name}'; report running inside the scope: {report.IsRunning}");
}

Show.Line($"after the scope's DisposeAsync, report running: {report.IsRunning}");

await Within.WaitAsync(Task.WhenAll(requests.StopAsync(), sharedRender.StopAsync(), requestWorkers.StopAsync()), "the process-wide pools to drain");
Show.Line($"Root's pools drained with StopAsync (requests running: {requests.IsRunning}, render running: {sharedRender.IsRunning})");

// 8. Statistics: exact now that every pool has stopped.
Show.Section(8, "Statistics, exact now that every pool has stopped: GetStatistics()");
labels[requests] = "Root's requests pool";
Show.Line($"{"pool",-26} {"completed",9} {"faulted",8} {"canceled",9} {"rejected",9} {"workers",8}");
foreach (var pool in new[] { requests, sharedRender }.Concat(workers.Select(w => w.RenderPool!)).Append(report))
{
    var s = pool.GetStatistics();
    Show.Line($"{labels[pool],-26} {s.Completed,9} {s.Faulted,8} {s.Canceled,9} {s.Rejected,9} {s.Workers,8}");
}

Console.WriteLine();
Console.WriteLine("Done.");
return 0;
