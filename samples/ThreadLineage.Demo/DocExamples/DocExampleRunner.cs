using Microsoft.Extensions.Logging;

namespace ThreadLineage.Demo.DocExamples;

/// <summary>
/// Runs the examples of README.md and docs/ so that they are checked at run time too, not only compiled:
/// <c>dotnet run --project samples/ThreadLineage.Demo -- --doc-examples</c>. Each runs in a fresh thread, so
/// that the lineage one example builds never leaks into the next.
/// </summary>
internal static class DocExampleRunner
{
    public static async Task RunAllAsync()
    {
        await RunAsync("README.md › Example", ReadmeExample.RunAsync);
        await RunAsync("lineage.md › Resolution rules", LineageExamples.Resolution);
        await RunAsync("lineage.md › Flows started before a flow got its own node", LineageExamples.BeginScopeFirst);
        await RunAsync("lineage.md › Ownership is per flow and thread", LineageExamples.AsyncResumeAsync);
        await RunAsync("lineage.md › Scopes", () => LineageExamples.RequestScopeAsync(17));
        await RunAsync("pools.md › Lifecycle", PoolExamples.LifecycleAsync);
        await RunAsync("pools.md › Per-worker initialization", PoolExamples.WorkerInitialization);
        await RunAsync("pools.md › Worker hooks", PoolExamples.WorkerHooks);
        await RunAsync("pools.md › Options", () => PoolExamples.Options(new ConsoleLoggerFactory()));
        await RunAsync("pools.md › Validating options", PoolExamples.ValidatingOptions);
        await RunAsync("pools.md › Task-type protection", PoolExamples.TaskTypeProtection);
        await RunAsync("pools.md › Cancellation", PoolExamples.Cancellation);
        await RunAsync("pools.md › Fire and forget: Post", PoolExamples.Post);
        await RunAsync("pools.md › Async work and the event loop", PoolExamples.EventLoop);
        await RunAsync("pools.md › GetScheduler", PoolExamples.Scheduler);
        await RunAsync("pools.md › Elastic pools", PoolExamples.ElasticPool);
        await RunAsync("pools.md › Bounded queues", PoolExamples.BoundedQueue);
        await RunAsync("pools.md › Context", PoolExamples.WorkerContext);
        await RunAsync("pools.md › Nested waits", PoolExamples.NestedWait);
        await RunAsync("pools.md › Nested waits (do not)", ShowAsyncSelfDeadlock);
        await RunAsync("pools.md › Statistics", PoolExamples.Statistics);
        await RunAsync("pools.md › Waiting for idle: WaitForIdleAsync", PoolExamples.WaitForIdleAsync);
        await RunAsync("pools.md › Shutdown", PoolExamples.ShutdownAsync);
        await RunAsync("borrowed-workers.md › A pool per request", BorrowingExamples.PoolPerRequestAsync);
        await RunAsync("borrowed-workers.md › Nesting", BorrowingExamples.NestingAsync);
        await RunAsync("borrowed-workers.md › Host lifecycle", BorrowingExamples.HostLifecycle);
    }

    private static void ShowAsyncSelfDeadlock()
    {
        // A background pool, so that its worker, blocked for good, cannot delay the process exit.
        var loop = new ThreadPoolManager("loop");
        loop.Start(maxWorkers: 1, isBackground: true);
        var blocked = PoolExamples.AsyncSelfDeadlock(loop);
        Console.WriteLine(blocked.Wait(TimeSpan.FromMilliseconds(500)) ? "completed (the docs are wrong)" : "still blocked after 0.5 s, as documented");
        loop.Stop(wait: false);
    }

    private static Task RunAsync(string name, Action example) => RunAsync(name, () =>
    {
        example();
        return Task.CompletedTask;
    });

    private static async Task RunAsync(string name, Func<Task> example)
    {
        Console.WriteLine($"== {name}");
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                example().GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        })
        { Name = "example", IsBackground = true };
        thread.Start();
        await Within.WaitAsync(done.Task, name);
    }

    /// <summary>Just enough of a logger factory to show what the pools log.</summary>
    private sealed class ConsoleLoggerFactory : ILoggerFactory, ILogger
    {
        public void AddProvider(ILoggerProvider provider)
        {
        }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Console.WriteLine($"[{logLevel}] {formatter(state, exception)} {exception?.GetType().Name}: {exception?.Message}");

        public void Dispose()
        {
        }
    }
}
