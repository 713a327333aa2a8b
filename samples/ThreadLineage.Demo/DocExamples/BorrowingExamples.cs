namespace ThreadLineage.Demo.DocExamples;

/// <summary>The examples of docs/borrowed-workers.md. Keep each region identical to the code block it names.</summary>
internal static class BorrowingExamples
{
    public static async Task PoolPerRequestAsync()
    {
        #region doc: docs/borrowed-workers.md › A pool per request
        // Once, process-wide: the threads.
        var requestWorkers = Lineage.Root.GetOrCreateManager("request-workers");
        requestWorkers.Start(maxWorkers: Environment.ProcessorCount);

        // Per request, inside its scope: a pool with its own queue, limit, task type, statistics and lifecycle,
        // running on the threads of "request-workers". Starting it creates no thread.
        await using (Lineage.BeginScope("request-17"))
        {
            var mine = Lineage.CreateManager("request");
            mine.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkersFrom = "request-workers" });

            var parts = await Task.WhenAll(mine.Submit(() => "header"), mine.Submit(() => "body"));
            Console.WriteLine($"{string.Join(" + ", parts)} on {mine.WorkersFrom!.Id}'s threads; " +
                $"threads of its own: {mine.GetStatistics().Workers}");
        } // the scope's disposal stops "request" and waits for its items; "request-workers" keeps running

        await requestWorkers.StopAsync();
        #endregion
    }

    public static async Task NestingAsync()
    {
        var process = Lineage.Root.GetOrCreateManager("process-workers");
        process.Start(maxWorkers: 4);
        await using var scope = Lineage.BeginScope("tenant-acme");
        #region doc: docs/borrowed-workers.md › Nesting
        // A tenant's pool borrows from the process pool; a request's pool borrows from its tenant's.
        var tenant = Lineage.CreateManager("tenant");
        tenant.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkersFrom = "process-workers" });

        var request = Lineage.CreateManager("request");
        request.Start(new ThreadPoolManagerOptions { MaxWorkers = 4, WorkersFrom = "tenant" });
        // An item of "request" runs only when "request", "tenant" and "process-workers" all have room:
        // at most 2 of the request's items run at once, fewer while the tenant's own items run.
        #endregion
        var sizes = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => request.Submit(() => i)));
        Console.WriteLine($"{sizes.Length} request items ran through '{request.WorkersFrom!.Id}' on '{tenant.WorkersFrom!.Id}'");
        await process.StopAsync();
    }

    public static void HostLifecycle()
    {
        var host = Lineage.Root.GetOrCreateManager("batch-workers");
        host.Start(maxWorkers: 2);
        var borrower = Lineage.Root.GetOrCreateManager("batch-job");
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = "batch-workers" });
        var accepted = borrower.Submit(() => 1);
        #region doc: docs/borrowed-workers.md › Host lifecycle
        host.Stop(wait: true);          // stops "batch-job" too; what it accepted still runs first
        Console.WriteLine(borrower.IsRunning);       // False
        try
        {
            _ = borrower.Submit(() => 2);   // InvalidOperationException: 'batch-workers', whose workers it borrows, stopped
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine(e.Message);
        }

        host.Start(maxWorkers: 2);      // a borrower starts again only on a running host
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = "batch-workers" });
        #endregion
        Console.WriteLine($"accepted before the stop: {accepted.Status}");
        host.Dispose();
        borrower.Dispose();
    }
}
