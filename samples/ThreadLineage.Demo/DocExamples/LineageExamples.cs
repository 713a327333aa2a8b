namespace ThreadLineage.Demo.DocExamples;

/// <summary>The examples of docs/lineage.md. Keep each region identical to the code block it names.</summary>
internal static class LineageExamples
{
    public static void Resolution()
    {
        #region doc: docs/lineage.md › Resolution rules
        var io = Lineage.Root.GetOrCreateManager("io");       // process-wide: every flow resolves it
        var render = Lineage.GetOrCreateManager("render");    // nearest "render" in the lineage, else a new one here
        var mine = Lineage.CreateManager("render");           // always new, on this flow's own node: shadows the others
        var same = Lineage.GetManager("render");              // mine; ManagerNotFoundException if there is none
        var found = Lineage.TryGetManager("cache", out _);    // false: lookups never create
        #endregion
        Console.WriteLine($"io on Root: {io.Owner == Lineage.Root}; render new: {render != mine}; same: {same == mine}; cache found: {found}");
    }

    public static void BeginScopeFirst()
    {
        #region doc: docs/lineage.md › Flows started before a flow got its own node
        void Worker()
        {
            using var scope = Lineage.BeginScope("worker");  // this thread's own node, before any child starts
            using var renderReady = new ManualResetEventSlim();
            var child = new Thread(() =>
            {
                renderReady.Wait();
                Console.WriteLine(Lineage.GetManager("render").Submit(() => "rendered for the worker").Result);
            });
            child.Start();                                   // the child shares the scope's node from the start

            var render = Lineage.CreateManager("render");    // attached to that same node, after the child started
            render.Start(maxWorkers: 1);
            renderReady.Set();                               // so the child finds it
            child.Join();
        }                                                    // disposing the scope stops "render"
        #endregion

        var thread = new Thread(Worker);
        thread.Start();
        Within.Join(thread, "the worker of the BeginScope example");
    }

    public static async Task AsyncResumeAsync()
    {
        #region doc: docs/lineage.md › Ownership is per flow and thread
        var cache = Lineage.CreateManager("cache");      // this flow's own node, N1
        await Task.Delay(10);                            // resumes after a real context switch
        var io = Lineage.CreateManager("io");            // a new node N2, child of N1
        Console.WriteLine(io.Owner!.Parent == cache.Owner);                // True
        Console.WriteLine(Lineage.GetManager("cache") == cache);           // True: lookups walk N2 → N1
        #endregion
    }

    public static async Task RequestScopeAsync(int requestId)
    {
        #region doc: docs/lineage.md › Scopes
        await using (var scope = Lineage.BeginScope($"request-{requestId}"))
        {
            var render = Lineage.CreateManager("render");  // attached to the scope's node
            render.Start(maxWorkers: 2, taskType: "component-render");
            Console.WriteLine(await render.Submit(() => "<page/>", "component-render"));
        }                                                  // DisposeAsync: Current restored, "render" drained (StopAsync)
        #endregion
    }
}
