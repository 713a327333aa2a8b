using System.Diagnostics;

namespace ThreadLineage.Demo;

/// <summary>
/// Serves many small requests, each in a lineage scope of its own with a "request" pool of its own, either borrowing
/// the threads of the process-wide "request-workers" pool or starting dedicated threads, and tells what each cost.
/// </summary>
internal static class PerRequestPools
{
    public static async Task<string> ServeAsync(int requests, bool borrow)
    {
        var threadsOfTheirOwn = 0;
        var items = 0;
        var stopwatch = Stopwatch.StartNew();
        for (var i = 0; i < requests; i++)
        {
            await using var scope = Lineage.BeginScope($"request-{i}");
            var pool = Lineage.CreateManager("request");
            if (borrow)
            {
                pool.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkersFrom = "request-workers" });
            }
            else
            {
                pool.Start(maxWorkers: 2);
            }

            threadsOfTheirOwn += pool.GetStatistics().Workers;
            var parts = new Task<int>[4];
            for (var part = 0; part < parts.Length; part++)
            {
                var n = part;
                parts[part] = pool.Submit(() => n * n);
            }

            await Within.WaitAsync(Task.WhenAll(parts), "a request's items");
            items += parts.Length;
        }

        stopwatch.Stop();
        var perRequest = stopwatch.Elapsed.TotalMicroseconds / requests;
        return $"{items} items, {threadsOfTheirOwn} threads created, {perRequest:F0} µs per request (this run)";
    }
}
