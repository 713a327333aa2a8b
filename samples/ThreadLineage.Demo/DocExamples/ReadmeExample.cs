namespace ThreadLineage.Demo.DocExamples;

/// <summary>The example of README.md. Keep the region identical to the README's code block.</summary>
internal static class ReadmeExample
{
    public static async Task RunAsync()
    {
        #region doc: README.md › Example
        // A process-wide pool: attached to Root, so every flow resolves it.
        var requests = Lineage.Root.GetOrCreateManager("requests");
        requests.Start(maxWorkers: 4, taskType: "request-handling");

        var worker = new Thread(() =>
        {
            // Inside the worker thread: a "render" pool for this thread and every flow it starts.
            var render = Lineage.CreateManager("render");
            render.Start(maxWorkers: 2, taskType: "component-render");

            // Handled on the shared pool, yet it resolves this worker's "render" pool:
            // the work runs in the context captured by Submit.
            var html = requests.Submit(
                () => Lineage.GetManager("render").Submit(() => "<h1>Hello</h1>", "component-render").Result,
                "request-handling").Result;
            Console.WriteLine(html);

            render.Stop(); // drain this worker's pool and join its threads
        });
        worker.Start();
        worker.Join();
        await requests.StopAsync();
        #endregion
    }
}
