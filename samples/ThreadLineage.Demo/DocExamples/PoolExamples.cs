using System.Text;
using Microsoft.Extensions.Logging;

namespace ThreadLineage.Demo.DocExamples;

/// <summary>The examples of docs/pools.md. Keep each region identical to the code block it names.</summary>
internal static class PoolExamples
{
    public static async Task LifecycleAsync()
    {
        #region doc: docs/pools.md › Lifecycle
        var pool = new ThreadPoolManager("images");           // free-standing: attached to no node
        pool.Start(maxWorkers: 4);                             // four dedicated threads, images-1 … images-4
        var size = await pool.Submit(() => 42);
        await pool.StopAsync();                                // run what is queued, then the workers exit
        pool.Start(maxWorkers: 2, threadNamePrefix: "thumbs"); // a stopped pool can start again
        await pool.DisposeAsync();                             // stop for good: Submit now throws ObjectDisposedException
        #endregion
        Console.WriteLine($"size {size}; {pool}");
    }

    public static void WorkerInitialization()
    {
        using var pool = new RenderPool();
        pool.Start(maxWorkers: 2);
        Console.WriteLine(pool.Submit(() => RenderPool.Buffer.Clear().Append("<p/>").ToString()).Result);
    }

    #region doc: docs/pools.md › Per-worker initialization
    internal sealed class RenderPool : ThreadPoolManager
    {
        [ThreadStatic]
        private static StringBuilder? t_buffer;

        public RenderPool()
            : base("render")
        {
        }

        /// <summary>Gets the buffer of the worker running the caller.</summary>
        public static StringBuilder Buffer => t_buffer ?? throw new InvalidOperationException("Not on a render worker.");

        // Runs on each new worker before it takes work.
        protected override void OnWorkerStarted() => t_buffer = new StringBuilder(capacity: 4096);
    }
    #endregion

    public static void WorkerHooks()
    {
        #region doc: docs/pools.md › Worker hooks
        var alive = 0;
        var db = new ThreadPoolManager("db");
        db.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            WorkerStarted = _ => Interlocked.Increment(ref alive),   // on each new worker, before it takes work
            WorkerStopping = _ => Interlocked.Decrement(ref alive),  // on each worker as it exits (a stop, or IdleTimeout)
        });
        Console.WriteLine(Volatile.Read(ref alive));                // 2: Start returns once every worker has run WorkerStarted
        db.Stop();
        Console.WriteLine(Volatile.Read(ref alive));                // 0: Stop(wait: true) returns once every worker has run WorkerStopping
        #endregion
    }

    public static void ValidatingOptions()
    {
        #region doc: docs/pools.md › Validating options
        var options = new ThreadPoolManagerOptions { MaxWorkers = 4, MinWorkers = 8, QueueCapacity = 0 };
        foreach (var problem in options.Validate())   // empty exactly when Start accepts the options
        {
            Console.WriteLine(problem);
        }
        #endregion
        var pool = new ThreadPoolManager("validated");
        try
        {
            pool.Start(options);
            Console.WriteLine("Start accepted the options (the docs are wrong)");
        }
        catch (ArgumentException e)
        {
            Console.WriteLine($"Start: {e.Message}");
        }
    }

    public static void Options(ILoggerFactory loggerFactory)
    {
        var render = new ThreadPoolManager("render");
        #region doc: docs/pools.md › Options
        render.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 4,                          // default: Environment.ProcessorCount
            MinWorkers = null,                       // default: null, Start creates all MaxWorkers workers
            IdleTimeout = Timeout.InfiniteTimeSpan,  // default: idle workers never retire
            QueueCapacity = null,                    // default: null, the queue is unbounded
            QueueFullMode = QueueFullMode.Wait,      // default: Wait, used only with a QueueCapacity
            TaskType = "component-render",           // default: null, any task type
            IsBackground = false,                    // default: false, queued work finishes at process exit
            ThreadNamePrefix = "render",             // default: the manager id
            FlowExecutionContext = true,             // default: true, work runs in the submitter's context
            LogExceptions = true,                    // default: true
            LoggerFactory = loggerFactory,           // default: null, nothing is logged
        });
        #endregion
        render.Submit(() => throw new InvalidOperationException("a component failed"), "component-render")
            .ContinueWith(static _ => { }, TaskScheduler.Default).Wait(Within.Timeout);
        render.Stop();
        Console.WriteLine($"faulted: {render.GetStatistics().Faulted}");
    }

    public static void TaskTypeProtection()
    {
        var requests = new ThreadPoolManager("requests");
        requests.Start(maxWorkers: 1, taskType: "request-handling");
        #region doc: docs/pools.md › Task-type protection
        try
        {
            requests.Submit(() => Console.WriteLine("<widget/>"), taskType: "component-render");
        }
        catch (UnknownTaskTypeException e)
        {
            // Nothing was queued. e.TaskType is "component-render", e.PoolTaskType is "request-handling".
            Console.WriteLine(e.Message);
        }
        #endregion
        requests.Stop();
    }

    public static void Cancellation()
    {
        var pool = new ThreadPoolManager("thumbnails");
        pool.Start(maxWorkers: 1);
        #region doc: docs/pools.md › Cancellation
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var thumbnail = pool.Submit(
            () =>
            {
                cts.Token.ThrowIfCancellationRequested(); // observing the token while running is up to the work
                return "thumbnail";
            },
            cancellationToken: cts.Token);                // canceled before it starts: it never runs
        #endregion
        Console.WriteLine($"{Within.Result(thumbnail, "thumbnail")}: {thumbnail.Status}");
        pool.Stop();
    }

    public static void Post()
    {
        #region doc: docs/pools.md › Fire and forget: Post
        var log = new ThreadPoolManager("log");
        log.Start(maxWorkers: 1);
        log.Post(() => Console.WriteLine("request served"));                     // fire and forget: no task
        log.Post(static entry => Console.WriteLine(entry), "request 17 served");  // state instead of a closure
        log.Stop();                                                               // runs what is queued first
        #endregion
        Console.WriteLine($"completed: {log.GetStatistics().Completed}");
    }

    public static void EventLoop()
    {
        #region doc: docs/pools.md › Async work and the event loop
        var loop = new ThreadPoolManager("loop");
        loop.Start(maxWorkers: 1);                        // one worker: an event loop
        var reply = loop.Submit(async () =>
        {
            var before = Thread.CurrentThread.Name;       // "loop-1"
            await Task.Delay(10);                         // resumes on loop-1, not on the shared thread pool
            return $"{before} -> {Thread.CurrentThread.Name}";
        });
        Console.WriteLine(reply.Result);                  // sync code may block on it: "loop-1 -> loop-1"
        loop.Stop();
        #endregion
    }

    /// <summary>Compiled, never run: it deadlocks by design (docs/pools.md › Nested waits).</summary>
    public static Task<int> AsyncSelfDeadlock(ThreadPoolManager loop)
    {
        #region doc: docs/pools.md › Nested waits (do not)
        // DON'T: loop has one worker, and the outer work blocks it on async work whose continuation needs it.
        var neverCompletes = loop.Submit(() => loop.Submit(async () => { await Task.Delay(10); return 1; }).Result);
        #endregion
        return neverCompletes;
    }

    public static void Scheduler()
    {
        var cpu = new ThreadPoolManager("cpu");
        cpu.Start(maxWorkers: 2, taskType: "batch");
        var threads = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        int Crunch(int i) => threads.AddOrUpdate(Thread.CurrentThread.Name ?? "?", 1, (_, n) => n + 1) + i;
        #region doc: docs/pools.md › GetScheduler
        var scheduler = cpu.GetScheduler("batch");        // the task type is checked here, once
        Parallel.For(0, 100, new ParallelOptions { TaskScheduler = scheduler }, i => Crunch(i));
        var one = Task.Factory.StartNew(() => Crunch(0), CancellationToken.None, TaskCreationOptions.None, scheduler);
        #endregion
        Within.Result(one, "StartNew on the scheduler");
        cpu.Stop();
        Console.WriteLine($"ran on: {string.Join(", ", threads.Keys.Order(StringComparer.Ordinal))}; counted as submissions: {cpu.GetStatistics().Completed}");
    }

    public static void ElasticPool()
    {
        #region doc: docs/pools.md › Elastic pools
        var uploads = new ThreadPoolManager("uploads");
        uploads.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 8,                               // at most eight workers at once,
            MinWorkers = 1,                               // but Start creates one, and one is kept while idle;
            IdleTimeout = TimeSpan.FromSeconds(30),       // the others retire after 30 seconds without work
        });
        uploads.SetMaxWorkers(16);                        // a running pool can be resized
        #endregion
        Console.WriteLine($"after Start: {uploads.GetStatistics().Workers} worker(s); {uploads}");

        // Four items that wait for each other can only finish if the pool grows to four workers.
        using var allRunning = new CountdownEvent(4);
        var items = Enumerable.Range(0, 4).Select(_ => uploads.Submit(() =>
        {
            allRunning.Signal();
            Within.Wait(allRunning, "four uploads running at once");
        })).ToArray();
        Within.WaitAsync(Task.WhenAll(items), "the uploads").GetAwaiter().GetResult();
        Console.WriteLine($"under load: {uploads.GetStatistics().Workers} workers");

        uploads.SetMaxWorkers(1);                         // shrink: the extra workers retire
        var deadline = DateTime.UtcNow + Within.Timeout;
        while (uploads.GetStatistics().Workers > 1 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(10);
        }

        Console.WriteLine($"after SetMaxWorkers(1): {uploads.GetStatistics().Workers} worker(s); {uploads}");
        uploads.Stop();
    }

    public static void BoundedQueue()
    {
        var records = Enumerable.Range(1, 1000).ToArray();
        var stored = 0;
        var deferred = 0;

        // Storing waits until every record was submitted, so the queue does fill up and refuse some.
        using var submitted = new ManualResetEventSlim();
        void Store(int record)
        {
            submitted.Wait(Within.Timeout);
            Interlocked.Increment(ref stored);
        }

        void Defer(int record) => deferred++;

        #region doc: docs/pools.md › Bounded queues
        var ingest = new ThreadPoolManager("ingest");
        ingest.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = 2,
            QueueCapacity = 100,                          // at most 100 items waiting; running ones do not count
            QueueFullMode = QueueFullMode.Reject,         // a full queue refuses work instead of blocking
        });
        foreach (var record in records)
        {
            try
            {
                ingest.Submit(() => Store(record));
            }
            catch (ThreadPoolFullException)
            {
                Defer(record);                            // nothing was queued; Rejected counts it
            }
        }
        #endregion
        submitted.Set();
        ingest.Stop();
        var statistics = ingest.GetStatistics();
        Console.WriteLine($"stored {stored} (completed {statistics.Completed}), deferred {deferred} (rejected {statistics.Rejected}), total {stored + deferred}");
    }

    public static async Task WaitForIdleAsync()
    {
        var files = Enumerable.Range(1, 20).Select(static i => $"file-{i}.txt").ToArray();
        var indexer = new ThreadPoolManager("indexer");
        indexer.Start(maxWorkers: 2);
        #region doc: docs/pools.md › Waiting for idle: WaitForIdleAsync
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (var file in files)
        {
            indexer.Post(f => Index(f), file);
        }
        await indexer.WaitForIdleAsync(timeout.Token);    // the queue is empty and no worker runs work
        Console.WriteLine($"{indexer.GetStatistics().Completed} files indexed");
        #endregion
        await indexer.StopAsync();
    }

    private static void Index(string file) => Thread.Sleep(file.Length);

    public static void WorkerContext()
    {
        var marker = new AsyncLocal<string>();
        #region doc: docs/pools.md › Context
        var audit = Lineage.Root.GetOrCreateManager("audit");
        audit.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });
        // Work runs in the worker's own context: no AsyncLocals of the submitter, and the lineage of
        // audit.Owner (here Root), whichever flow submitted it.
        #endregion
        marker.Value = "submitter";
        Console.WriteLine(audit.Submit(() => $"marker: {marker.Value ?? "none"}, lineage: {Lineage.Current}").Result);
        audit.Stop();
    }

    public static void NestedWait()
    {
        #region doc: docs/pools.md › Nested waits
        var pool = new ThreadPoolManager("tree");
        pool.Start(maxWorkers: 1);
        int Depth(int level) => level == 0 ? 1 : pool.Submit(() => Depth(level - 1)).Result + 1;
        Console.WriteLine(pool.Submit(() => Depth(3)).Result);   // 4: every level ran on tree-1, inline
        pool.Stop();
        #endregion
    }

    public static void Statistics()
    {
        var pool = new ThreadPoolManager("stats");
        pool.Start(maxWorkers: 2);
        pool.Submit(() => { }).Wait(Within.Timeout);
        #region doc: docs/pools.md › Statistics
        pool.Stop();                                      // wait: true, so the counters are exact
        var stats = pool.GetStatistics();
        Console.WriteLine($"{stats.Completed} completed, {stats.Faulted} faulted, {stats.Canceled} canceled, {stats.Rejected} rejected");
        #endregion
    }

    public static async Task ShutdownAsync()
    {
        var pool = new ThreadPoolManager("shutdown");
        pool.Start(maxWorkers: 1);
        using var running = new ManualResetEventSlim();
        var busy = pool.Submit(() => running.Wait(TimeSpan.FromSeconds(1)));
        var pending = pool.Submit(() => { });
        #region doc: docs/pools.md › Shutdown
        // Queued work gets 10 seconds to run; then what has not started is canceled.
        // Running work is always waited for, so this can take longer than the grace period.
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await pool.StopAsync(grace.Token);
        #endregion
        Console.WriteLine($"busy: {busy.Status}, pending: {pending.Status}");
    }
}
