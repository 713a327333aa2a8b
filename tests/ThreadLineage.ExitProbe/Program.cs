using Microsoft.Extensions.Logging;
using ThreadLineage;

// Each scenario prints what it did; the test reads stdout and the exit code. A line "done <pool> <n>"
// means work item n of that pool finished. Console.Out flushes every write, so a line printed before the
// process ends is never lost in a buffer.
var scenario = args.Length == 1 ? args[0] : "";
switch (scenario)
{
    case "main-returns-drains":
        MainReturnsDrains();
        break;
    case "environment-exit-drains":
        EnvironmentExitDrains();
        break;
    case "idle-pool-exits":
        IdlePoolExits();
        break;
    case "background-abandoned":
        BackgroundAbandoned(withForegroundPool: false);
        break;
    case "background-abandoned-with-foreground-pool":
        BackgroundAbandoned(withForegroundPool: true);
        break;
    case "borrowed-main-returns-drains":
        BorrowedDrains(callExit: false);
        break;
    case "borrowed-environment-exit-drains":
        BorrowedDrains(callExit: true);
        break;
    case "borrowed-background-abandoned":
        BorrowedBackgroundAbandoned();
        break;
    case "restart-then-exit-drains":
        RestartThenExitDrains();
        break;
    case "exit-from-worker":
        ExitFromWorker();
        break;
    case "cancel-race-runincaller":
        CancelRace(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = QueueFullMode.RunInCaller }, fillQueue: true);
        break;
    case "cancel-race-unbounded":
        CancelRace(new ThreadPoolManagerOptions { MaxWorkers = 1 }, fillQueue: false);
        break;
    case "cancel-race-flow-off":
        CancelRace(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false }, fillQueue: false);
        break;
    case "interrupt-leak":
        InterruptLeak();
        break;
    case "throwing-logger":
        ThrowingLogger();
        break;
    default:
        Console.Error.WriteLine($"unknown scenario '{scenario}'");
        return 2;
}

Console.WriteLine("main returning");
return 0;

// A non-background pool's running and queued work finishes before the process ends when Main returns.
static void MainReturnsDrains()
{
    var pool = new ThreadPoolManager("exit-main");
    pool.Start(2);
    SubmitGatedItems(pool, count: 6);
}

// The same when Main calls Environment.Exit, which does not wait for foreground threads.
static void EnvironmentExitDrains()
{
    var pool = new ThreadPoolManager("exit-env");
    pool.Start(2);
    SubmitGatedItems(pool, count: 6);
    Console.WriteLine("main calling Environment.Exit");
    Environment.Exit(0);
}

// An idle, started, non-background pool does not keep the process alive.
static void IdlePoolExits()
{
    var pool = new ThreadPoolManager("exit-idle");
    pool.Start(4);
    // Let every worker run something once, so each has been a foreground thread at least once.
    var all = Enumerable.Range(0, 8).Select(i => pool.Submit(() => i)).ToArray();
    Task.WaitAll(all);
    Console.WriteLine($"ran {all.Length} items; pool idle");
}

// Work of a background pool is abandoned at exit: it blocks on an event nobody sets, and Main returns.
static void BackgroundAbandoned(bool withForegroundPool)
{
    var never = new ManualResetEventSlim();
    var background = new ThreadPoolManager("exit-bg");
    background.Start(2, isBackground: true);
    for (var i = 0; i < 4; i++)
    {
        var n = i;
        background.Post(() =>
        {
            never.Wait();
            Console.WriteLine($"done bg {n}");
        });
    }

    if (withForegroundPool)
    {
        var foreground = new ThreadPoolManager("exit-fg");
        foreground.Start(1);
        SubmitGatedItems(foreground, count: 3);
    }
}

// Borrowing pools of a non-background host: their running and queued work finishes before the process ends,
// like the host's own (the host's threads run it).
static void BorrowedDrains(bool callExit)
{
    var host = Lineage.Root.GetOrCreateManager("exit-host");
    host.Start(1);
    var first = Lineage.Root.GetOrCreateManager("exit-borrower-a");
    first.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = "exit-host" });
    var second = Lineage.Root.GetOrCreateManager("exit-borrower-b");
    second.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = "exit-host" });
    SubmitGatedItems(first, count: 3);
    SubmitGatedItems(second, count: 3);
    if (callExit)
    {
        Console.WriteLine("main calling Environment.Exit");
        Environment.Exit(0);
    }
}

// A borrowing pool of a background host is as background as its host: its blocked work is abandoned at exit.
static void BorrowedBackgroundAbandoned()
{
    var never = new ManualResetEventSlim();
    var host = Lineage.Root.GetOrCreateManager("exit-bg-host");
    host.Start(1, isBackground: true);
    var borrower = Lineage.Root.GetOrCreateManager("exit-bg-borrower");
    borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = "exit-bg-host" });
    for (var i = 0; i < 3; i++)
    {
        var n = i;
        borrower.Post(() =>
        {
            never.Wait();
            Console.WriteLine($"done bg {n}");
        });
    }

    Console.WriteLine($"borrower is background: {borrower.IsBackground}");
}

// A pool restarted while its previous run still drains: the previous run's queued work must also finish
// before Environment.Exit ends the process.
static void RestartThenExitDrains()
{
    var pool = new ThreadPoolManager("exit-restart");
    pool.Start(1);
    SubmitGatedItems(pool, count: 4);
    pool.Stop(wait: false);
    pool.Start(1);
    Console.WriteLine("restarted; main calling Environment.Exit");
    Environment.Exit(0);
}

// Environment.Exit called by a work item: the exit handler runs on that worker, which must not wait for
// itself. Other workers still finish the queued work.
static void ExitFromWorker()
{
    var pool = new ThreadPoolManager("exit-worker");
    pool.Start(2);
    var exiting = new ManualResetEventSlim();
    pool.Post(() =>
    {
        exiting.Wait();
        Console.WriteLine("work item calling Environment.Exit");
        Environment.Exit(0);
    });
    SubmitGatedItems(pool, count: 3);
    exiting.Set();
    // Main blocks; the process ends from the worker.
    Thread.Sleep(Timeout.Infinite);
}

// A work item that interrupts its own worker and returns without blocking: the interrupt is still
// pending when the worker goes back to its queue. The worker must survive and run the next item.
static void InterruptLeak()
{
    var pool = new ThreadPoolManager("exit-interrupt");
    pool.Start(1);
    var first = pool.Submit(() =>
    {
        Thread.CurrentThread.Interrupt();
        return Thread.CurrentThread;
    });
    var worker = first.Result;
    Console.WriteLine($"interrupting item: {first.Status}");

    // Let the worker go idle and block (park) before the next item arrives: a worker that survives the pending
    // interrupt is eventually seen blocked; one that does not dies (and takes the process with it).
    var deadline = DateTime.UtcNow.AddSeconds(10);
    while (worker.IsAlive && (worker.ThreadState & ThreadState.WaitSleepJoin) == 0 && DateTime.UtcNow < deadline)
    {
        Thread.Sleep(1);
    }

    var second = pool.Submit(() => 42);
    Console.WriteLine(second.Wait(TimeSpan.FromSeconds(20)) ? $"done next item: {second.Result}" : "next item never ran");
    pool.Stop();
    Console.WriteLine("stopped");
}

// A logger that throws must not kill the worker that reports a fault through it.
static void ThrowingLogger()
{
    var pool = new ThreadPoolManager("exit-logger");
    pool.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LoggerFactory = new ThrowingLoggerFactory() });
    var faulting = pool.Submit(Fail);
    try
    {
        faulting.Wait();
    }
    catch (AggregateException)
    {
    }

    Console.WriteLine($"faulting item: {faulting.Status}");
    var next = pool.Submit(() => 42);
    Console.WriteLine(next.Wait(TimeSpan.FromSeconds(20)) ? $"done next item: {next.Result}" : "next item never ran");
    pool.Stop();
    Console.WriteLine("stopped");

    static void Fail() => throw new InvalidOperationException("work item fault");
}

// Submissions whose token another thread cancels at that very moment. The canceler's delay follows the boundary
// between "canceled before Submit" and "ran first" (restarting from a random point now and then), so many
// cancellations land inside Submit. Whatever the timing,
// Submit must return a task (never throw), every task must end final, and every one must be counted once.
static void CancelRace(ThreadPoolManagerOptions options, bool fillQueue)
{
    const int Rounds = 30_000;
    var pool = new ThreadPoolManager("exit-cancel-race");
    pool.Start(options);
    using var gate = new ManualResetEventSlim();
    using var started = new ManualResetEventSlim();
    var blocker = pool.Submit(() => { started.Set(); gate.Wait(); });
    started.Wait();
    var extra = 1;
    if (fillQueue)
    {
        // A full queue: the racing submissions run on this thread (RunInCaller).
        _ = pool.Submit(static () => { });
        extra++;
    }

    var tasks = new List<Task>(Rounds);
    var threw = new Dictionary<string, int>();
    using var barrier = new Barrier(2);
    CancellationTokenSource? source = null;
    var delay = 100;
    var canceler = new Thread(() =>
    {
        var random = new Random(17);
        for (var round = 0; round < Rounds; round++)
        {
            barrier.SignalAndWait();
            Thread.SpinWait(Math.Clamp(Volatile.Read(ref delay) + random.Next(-16, 17), 0, 5000));
            source!.Cancel();
            barrier.SignalAndWait();
        }
    });
    canceler.Start();
    var sources = new List<CancellationTokenSource>(Rounds);
    // Every thousand rounds the delay starts again from a random point: a loaded machine can push it to an extreme.
    var restart = new Random(23);
    for (var round = 0; round < Rounds; round++)
    {
        var current = new CancellationTokenSource();
        sources.Add(current);
        source = current;
        barrier.SignalAndWait();
        Thread.SpinWait(100);
        try
        {
            var task = pool.Submit(static () => { }, cancellationToken: current.Token);
            tasks.Add(task);
            Volatile.Write(ref delay, round % 1000 == 999 ? restart.Next(0, 400) : Math.Clamp(delay + (task.IsCanceled ? 2 : -2), 0, 5000));
        }
        catch (Exception exception)
        {
            var key = $"{exception.GetType().Name}: {exception.Message}";
            threw[key] = threw.GetValueOrDefault(key) + 1;
        }

        barrier.SignalAndWait();
    }

    canceler.Join();
    gate.Set();
    blocker.Wait();
    var settled = Task.WhenAll(tasks).ContinueWith(static _ => { }, TaskScheduler.Default).Wait(TimeSpan.FromSeconds(10));
    pool.Stop();
    var statistics = pool.GetStatistics();
    var counted = statistics.Completed + statistics.Faulted + statistics.Canceled - extra;
    Console.WriteLine($"rounds {Rounds}: returned {tasks.Count} ({tasks.Count(static t => t.IsCanceled)} canceled), all final {settled}");
    Console.WriteLine($"threw {threw.Values.Sum()}{(threw.Count > 0 ? $" ({string.Join("; ", threw.Select(static p => $"{p.Value} x {p.Key}"))})" : "")}");
    Console.WriteLine($"uncounted {tasks.Count - counted}");
    foreach (var s in sources)
    {
        s.Dispose();
    }
}

static void SubmitGatedItems(ThreadPoolManager pool, int count)
{
    // The items wait for a gate that a timer opens shortly after Main has moved on, so they are still
    // running or queued when Main returns (or calls Environment.Exit). Timer threads are background:
    // the timer fires whatever the main thread is doing.
    var gate = new ManualResetEventSlim();
    var timer = new Timer(static state => ((ManualResetEventSlim)state!).Set(), gate, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
    GC.KeepAlive(timer);
    s_timers.Add(timer);
    for (var i = 0; i < count; i++)
    {
        var n = i;
        pool.Post(() =>
        {
            gate.Wait();
            Console.WriteLine($"done {pool.Id} {n}");
        });
    }

    Console.WriteLine($"submitted {count} items to {pool.Id}");
}

internal static partial class Program
{
    // Keeps the gate timers alive until they fire.
    private static readonly List<Timer> s_timers = [];
}

internal sealed class ThrowingLoggerFactory : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new ThrowingLogger();

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class ThrowingLogger : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            throw new IOException("The log sink is down.");
    }
}
