using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// One chaos iteration: a fresh manager, several producer threads submitting every kind of work (sync, async with
/// awaits, Post, canceled tokens, wrong task types, nested waits, scheduler tasks) while controller threads stop,
/// cancel, restart, resize and dispose it at random. Afterwards the promises of docs/shutdown.md ("Nothing is lost",
/// "A waiting stop leaves no thread behind") and the statistics of docs/pools.md are checked.
/// </summary>
/// <remarks>
/// All choices come from one seed, so an iteration replays the same operations (the interleaving of the threads is
/// the machine's). A hang is detected, reported and broken (every blocking call is bounded), so a failing iteration
/// always ends and names its seed.
/// </remarks>
internal sealed class ChaosRun : IDisposable
{
    /// <summary>How long any thread of the iteration may take before the iteration counts as hung.</summary>
    public static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(20);

    private const string ChaosType = "chaos";

    private readonly int _seed;
    private readonly int _opsPerThread;
    private readonly HashSet<string> _excluded;
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<Task> _tasks = new();
    private readonly ConcurrentQueue<Task> _schedulerTasks = new();
    private readonly ConcurrentQueue<CancellationTokenSource> _laterTokens = new();
    private readonly CancellationTokenSource _teardown = new();
    private readonly CountingLoggerFactory _logs = new();
    private readonly ThreadPoolManagerOptions _baseOptions;
    private readonly WorkerTrackingManager _manager;
    private long _postsAccepted;
    private long _runs;
    private int _startAttempts;
    private readonly ConcurrentDictionary<string, string> _startOutcomes = new();
    private long _lifecycleOps;
    private long _refusals;
    private long _producerOps;
    private int _producersLeft;

    /// <param name="seed">The iteration seed: every choice of the iteration comes from it.</param>
    /// <param name="iteration">The iteration's number, for the manager's id.</param>
    /// <param name="opsPerThread">How many operations each producer and controller thread performs.</param>
    /// <param name="excluded">Categories of operations left out.</param>
    /// <param name="withoutFastPath">Take the runtime's fast path for canceling queued submissions away, as on a runtime without it.</param>
    public ChaosRun(int seed, int iteration, int opsPerThread, HashSet<string> excluded, bool withoutFastPath = false)
    {
        _seed = seed;
        _opsPerThread = opsPerThread;
        _excluded = excluded;
        var random = new Random(seed);
        var max = random.Next(1, 5);
        _baseOptions = new ThreadPoolManagerOptions
        {
            MaxWorkers = max,
            MinWorkers = random.Next(3) == 0 ? null : random.Next(1, max + 1),
            IdleTimeout = random.Next(3) == 0 ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(random.Next(1, 20)),
            QueueCapacity = random.Next(2) == 0 ? null : random.Next(1, 16),
            QueueFullMode = (QueueFullMode)random.Next(3),
            TaskType = random.Next(3) == 0 ? ChaosType : null,
            IsBackground = random.Next(2) == 0,
            FlowExecutionContext = random.Next(4) != 0,
            LogExceptions = random.Next(3) != 0,
            LoggerFactory = _logs,
        };
        Producers = random.Next(2, 5);
        Controllers = random.Next(1, 3);
        _manager = new WorkerTrackingManager($"chaos-{iteration}-{seed}");
        if (withoutFastPath)
        {
            _manager.Canceler = new ThreadLineage.Internal.TaskCanceler(static _ => throw new MissingMethodException("System.Threading.Tasks.Task", "InternalCancel"));
        }

        WithoutFastPath = withoutFastPath;
    }

    public bool WithoutFastPath { get; }

    public int Producers { get; }

    public int Controllers { get; }

    public long ItemsAccepted => _tasks.Count + Interlocked.Read(ref _postsAccepted);

    public long Runs => Interlocked.Read(ref _runs);

    public long LifecycleOps => Interlocked.Read(ref _lifecycleOps);

    public long Refusals => Interlocked.Read(ref _refusals);

    public IReadOnlyCollection<string> Violations => _violations;

    /// <summary>Gets the tasks that were not final a bounded time after the final stop (must be 0).</summary>
    public int LostTasks { get; private set; }

    /// <summary>Gets the operations that hung (must be 0).</summary>
    public int Hangs => _violations.Count(static v => v.StartsWith("HANG", StringComparison.Ordinal));

    public string Describe() =>
        $"seed {_seed}: MaxWorkers {_baseOptions.MaxWorkers}, MinWorkers {_baseOptions.MinWorkers?.ToString(CultureInfo.InvariantCulture) ?? "="}, " +
        $"IdleTimeout {(_baseOptions.IdleTimeout == Timeout.InfiniteTimeSpan ? "infinite" : $"{_baseOptions.IdleTimeout.TotalMilliseconds}ms")}, " +
        $"QueueCapacity {_baseOptions.QueueCapacity?.ToString(CultureInfo.InvariantCulture) ?? "unbounded"} ({_baseOptions.QueueFullMode}), TaskType {_baseOptions.TaskType ?? "none"}, " +
        $"{(_baseOptions.IsBackground ? "background" : "foreground")}, flow {_baseOptions.FlowExecutionContext}, log {_baseOptions.LogExceptions}, " +
        $"{Producers} producers, {Controllers} controllers{(WithoutFastPath ? ", without the cancel fast path" : "")}";

    /// <summary>Runs the iteration and checks its invariants; the violations are in <see cref="Violations"/>.</summary>
    public void Run()
    {
        Start(new Random(_seed ^ 0x5bd1e995), "initial start");
        var doing = new string[Producers + Controllers];
        _producersLeft = Producers;
        using var barrier = new Barrier(doing.Length);
        var threads = new List<Thread>();
        for (var i = 0; i < doing.Length; i++)
        {
            var index = i;
            var random = new Random(HashCode.Combine(_seed, index));
            var isProducer = index < Producers;
            var thread = new Thread(() =>
            {
                barrier.SignalAndWait();
                for (var op = 0; op < (isProducer ? _opsPerThread : _opsPerThread / 8); op++)
                {
                    try
                    {
                        if (isProducer)
                        {
                            Produce(random, ref doing[index]);
                            Interlocked.Increment(ref _producerOps);
                        }
                        else
                        {
                            Control(random, ref doing[index]);
                        }
                    }
                    catch (Exception exception)
                    {
                        Violation($"EXCEPTION: {(isProducer ? "producer" : "controller")} {index} escaped an exception while '{doing[index]}': {exception}");
                    }
                }

                doing[index] = "finished";
                if (isProducer)
                {
                    Interlocked.Decrement(ref _producersLeft);
                }
            })
            { Name = $"chaos-{(isProducer ? "producer" : "controller")}-{index}", IsBackground = true };
            threads.Add(thread);
            thread.Start();
        }

        JoinOrBreakHang(threads, doing);

        // The final stop; afterwards every task is final, no worker survives and the counters add up.
        var finalStop = Task.Factory.StartNew(() => _manager.Stop(wait: true), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!finalStop.Wait(HangTimeout))
        {
            Violation($"HANG: the final Stop(wait: true) did not return within {HangTimeout.TotalSeconds}s (workers alive: {string.Join(", ", _manager.LiveWorkerNames())}).");
            BreakHang();
            finalStop.Wait(HangTimeout);
        }

        var liveAfterStop = _manager.LiveWorkerNames();
        if (liveAfterStop.Count > 0)
        {
            var runs = liveAfterStop.Select(name => name[..name.LastIndexOf('-')]).Distinct()
                .Select(prefix => $"{prefix[(prefix.LastIndexOf('-') + 1)..]}: {_startOutcomes.GetValueOrDefault(prefix, "?")}");
            Violation($"THREADS: worker threads alive after the final Stop(wait: true) returned: {string.Join(", ", liveAfterStop)} " +
                $"(their runs: {string.Join("; ", runs)}; {_startAttempts} Start calls in all).");
        }

        CheckEveryTaskIsFinal();
        CheckCounters();
        CheckState();
    }

    public void Dispose()
    {
        _manager.Dispose();
        foreach (var source in _laterTokens)
        {
            source.Dispose();
        }

        _teardown.Dispose();
        _logs.Dispose();
    }

    private void Produce(Random random, ref string doing)
    {
        var mistyped = random.Next(20) == 0 && Allowed("mistyped");
        var taskType = mistyped ? "wrong-type" : _baseOptions.TaskType;
        var token = PickToken(random, out var tokenKind);
        var roll = random.Next(100);
        try
        {
            switch (roll)
            {
                case < 25:
                    doing = $"Submit(Action) token {tokenKind}";
                    var shape = random.Next(100);
                    Track(_manager.Submit(() => { SyncWork(shape, taskType); }, taskType, token));
                    break;
                case < 35:
                    doing = $"Submit(Func<T>) token {tokenKind}";
                    var resultShape = random.Next(100);
                    Track(_manager.Submit(() => SyncWork(resultShape, taskType), taskType, token));
                    break;
                case < 55 when Allowed("async"):
                    doing = $"Submit(Func<Task>) token {tokenKind}";
                    var asyncStart = random.Next(100);
                    Track(_manager.Submit(() => AsyncWork(asyncStart), taskType, token));
                    break;
                case < 62 when Allowed("async"):
                    doing = $"Submit(Func<Task<T>>) token {tokenKind}";
                    var asyncShape = random.Next(100);
                    Track(_manager.Submit(async () => { await AsyncWork(asyncShape); return asyncShape; }, taskType, token));
                    break;
                case < 80 when Allowed("post"):
                    doing = "Post";
                    var fault = random.Next(20) == 0;
                    if (random.Next(2) == 0)
                    {
                        _manager.Post(() => { if (fault) { throw new InvalidOperationException("posted chaos fault"); } }, taskType);
                    }
                    else
                    {
                        _manager.Post(static f => { if (f) { throw new InvalidOperationException("posted chaos fault"); } }, fault, taskType);
                    }

                    Interlocked.Increment(ref _postsAccepted);
                    break;
                case < 88 when Allowed("latecanceled"):
                    doing = "cancel a pending token";
                    if (_laterTokens.TryDequeue(out var source))
                    {
                        source.Cancel();
                    }

                    break;
                case < 93 when Allowed("scheduler"):
                    doing = "GetScheduler + StartNew";
                    var scheduler = _manager.GetScheduler(taskType);
                    _schedulerTasks.Enqueue(Task.Factory.StartNew(static () => Thread.SpinWait(20), CancellationToken.None, TaskCreationOptions.None, scheduler));
                    break;
                case < 96:
                    doing = "GetStatistics";
                    var statistics = _manager.GetStatistics();
                    if (statistics.Workers < 0 || statistics.BusyWorkers < 0 || statistics.QueuedItems < 0)
                    {
                        Violation($"STATE: negative statistics: {statistics}");
                    }

                    break;
                default:
                    doing = "Submit(Action) without a token";
                    Track(_manager.Submit(static () => Thread.SpinWait(50), taskType));
                    break;
            }
        }
        catch (Exception exception) when (IsDocumentedRefusal(exception, mistyped))
        {
            Interlocked.Increment(ref _refusals);
        }
    }

    private int SyncWork(int shape, string? taskType)
    {
        switch (shape)
        {
            case < 5:
                throw new InvalidOperationException("chaos fault");
            case < 8 when Allowed("nested"):
                // A nested wait on the same pool: must complete even when every worker is busy.
                try
                {
                    var inner = _manager.Submit(static () => 1, taskType);
                    Track(inner);
                    // Wait() with no timeout, as the contract names it: the runtime asks the pool to run a still-queued
                    // item inline only for an unbounded wait. A self-deadlock here shows up as an iteration hang.
                    inner.Wait();
                }
                catch (AggregateException exception) when (exception.InnerException is TaskCanceledException)
                {
                }
                catch (Exception exception) when (IsDocumentedRefusal(exception, mistyped: false))
                {
                }

                return 1;
            default:
                Thread.SpinWait(shape * 4);
                return shape;
        }
    }

    private static async Task AsyncWork(int shape)
    {
        await Task.Yield();
        if (shape < 30)
        {
            // Resumes on a timer thread, then on the pool (or on the shared pool if this pool has stopped meanwhile).
            await Task.Delay(shape % 3);
        }

        if (shape is >= 30 and < 35)
        {
            throw new InvalidOperationException("async chaos fault");
        }

        if (shape is >= 35 and < 38)
        {
            throw new OperationCanceledException("async work gave up");
        }

        await Task.Yield();
    }

    private void Control(Random random, ref string doing)
    {
        // Let the producers work between two lifecycle operations (a random number of their operations), so that
        // stops and starts land in the middle of real traffic rather than on an idle or stopped pool.
        doing = "waiting for producer traffic";
        var target = Interlocked.Read(ref _producerOps) + random.Next(5, 80);
        SpinWait.SpinUntil(() => Interlocked.Read(ref _producerOps) >= target || Volatile.Read(ref _producersLeft) == 0, 1000);

        Interlocked.Increment(ref _lifecycleOps);
        // A stopped pool is mostly restarted at once; a running one gets any operation.
        var roll = !_manager.IsRunning && random.Next(10) < 7 ? 60 : random.Next(100);
        try
        {
            switch (roll)
            {
                case < 12 when Allowed("stop"):
                    doing = "Stop(wait: true)";
                    _manager.Stop(wait: true);
                    break;
                case < 22 when Allowed("stop"):
                    doing = "Stop(wait: false)";
                    _manager.Stop(wait: false);
                    break;
                case < 30 when Allowed("stopcancel"):
                    doing = "Stop(wait: true, cancelPending: true)";
                    _manager.Stop(wait: true, cancelPending: true);
                    break;
                case < 35 when Allowed("stopcancel"):
                    doing = "Stop(wait: false, cancelPending: true)";
                    _manager.Stop(wait: false, cancelPending: true);
                    break;
                case < 48 when Allowed("stopasync"):
                    var when = random.Next(4);
                    doing = $"StopAsync(token {(when switch { 0 => "none", 1 => "canceled before", 2 => "fires during the drain", _ => "fires after" })})";
                    using (var source = new CancellationTokenSource())
                    {
                        if (when == 1)
                        {
                            source.Cancel();
                        }
                        else if (when == 2)
                        {
                            source.CancelAfter(random.Next(0, 3));
                        }

                        var stopping = _manager.StopAsync(when == 0 ? CancellationToken.None : source.Token);
                        if (!stopping.Wait(HangTimeout))
                        {
                            Violation($"HANG: {doing} did not complete within {HangTimeout.TotalSeconds}s.");
                            BreakHang();
                        }
                        else if (!stopping.IsCompletedSuccessfully)
                        {
                            Violation($"EXCEPTION: {doing} ended {stopping.Status}: {stopping.Exception}");
                        }

                        if (when == 3)
                        {
                            source.Cancel();
                        }
                    }

                    break;
                case < 78 when Allowed("start"):
                    doing = "Start";
                    Start(random, doing);
                    break;
                case < 84 when Allowed("resize"):
                    doing = "SetMaxWorkers";
                    _manager.SetMaxWorkers(random.Next(1, 5));
                    break;
                case < 88:
                    doing = "WaitForIdleAsync";
                    using (var source = new CancellationTokenSource(random.Next(1, 5)))
                    {
                        var idle = _manager.WaitForIdleAsync(source.Token);
                        if (!idle.ContinueWith(static _ => { }, TaskScheduler.Default).Wait(HangTimeout))
                        {
                            Violation("HANG: WaitForIdleAsync ignored its canceled token.");
                        }
                    }

                    break;
                case < 90 when Allowed("dispose") && Interlocked.Read(ref _producerOps) >= Producers * (long)_opsPerThread * 3 / 4:
                    // Disposal ends the manager's life: only in the last quarter of the traffic.
                    doing = random.Next(2) == 0 ? "Dispose" : "DisposeAsync";
                    if (doing == "Dispose")
                    {
                        _manager.Dispose();
                    }
                    else if (!_manager.DisposeAsync().AsTask().Wait(HangTimeout))
                    {
                        Violation($"HANG: DisposeAsync did not complete within {HangTimeout.TotalSeconds}s.");
                        BreakHang();
                    }

                    break;
                default:
                    doing = "pause";
                    Thread.SpinWait(random.Next(1000));
                    break;
            }
        }
        catch (Exception exception) when (IsDocumentedLifecycleRefusal(exception))
        {
            Interlocked.Increment(ref _refusals);
        }
    }

    private void Start(Random random, string doing)
    {
        // Each run differs a little from the iteration's options: another size, another prefix.
        var max = random.Next(1, 5);
        var prefix = $"{_manager.Id}-r{Interlocked.Increment(ref _startAttempts)}";
        try
        {
            _manager.Start(new ThreadPoolManagerOptions
            {
                MaxWorkers = max,
                MinWorkers = _baseOptions.MinWorkers is null ? null : Math.Min(max, _baseOptions.MinWorkers.Value),
                IdleTimeout = _baseOptions.IdleTimeout,
                QueueCapacity = _baseOptions.QueueCapacity,
                QueueFullMode = _baseOptions.QueueFullMode,
                TaskType = _baseOptions.TaskType,
                IsBackground = _baseOptions.IsBackground,
                ThreadNamePrefix = prefix,
                FlowExecutionContext = _baseOptions.FlowExecutionContext,
                LogExceptions = _baseOptions.LogExceptions,
                LoggerFactory = _baseOptions.LoggerFactory,
            });
            Interlocked.Increment(ref _runs);
            _startOutcomes[prefix] = "started";
        }
        catch (Exception exception) when (IsDocumentedLifecycleRefusal(exception))
        {
            _startOutcomes[prefix] = $"Start threw {exception.GetType().Name}";
            if (doing == "initial start")
            {
                Violation($"EXCEPTION: the initial Start failed: {exception}");
            }
        }
    }

    private CancellationToken PickToken(Random random, out string kind)
    {
        var roll = random.Next(100);
        if (roll < 8 && Allowed("precanceled"))
        {
            kind = "canceled before Submit";
            return new CancellationToken(canceled: true);
        }

        if (roll < 25 && Allowed("latecanceled"))
        {
            kind = "canceled later";
            var source = new CancellationTokenSource();
            if (random.Next(3) == 0)
            {
                source.CancelAfter(random.Next(0, 3));
            }

            _laterTokens.Enqueue(source);
            return source.Token;
        }

        // QueueFullMode.Wait with no token could wait forever if the pool lost queue room (a leak is a bug the run
        // must report, not hang on): such submissions carry the iteration's teardown token, fired only to break a hang.
        kind = "none";
        return _baseOptions is { QueueCapacity: not null, QueueFullMode: QueueFullMode.Wait } ? _teardown.Token : CancellationToken.None;
    }

    private bool IsDocumentedRefusal(Exception exception, bool mistyped) => exception switch
    {
        ObjectDisposedException => true,
        UnknownTaskTypeException => mistyped || Note($"UnknownTaskTypeException for a correctly typed submission: {exception.Message}"),
        ThreadPoolFullException => _baseOptions.QueueFullMode == QueueFullMode.Reject || Note($"ThreadPoolFullException in {_baseOptions.QueueFullMode} mode: {exception.Message}"),
        InvalidOperationException when exception.GetType() == typeof(InvalidOperationException) =>
            exception.Message.Contains("is not running", StringComparison.Ordinal) || Note($"undocumented InvalidOperationException from a submission: {exception.Message}"),
        _ => Note($"undocumented {exception.GetType().Name} from a submission: {exception}"),
    };

    private bool IsDocumentedLifecycleRefusal(Exception exception) => exception switch
    {
        ObjectDisposedException => true,
        InvalidOperationException when exception.GetType() == typeof(InvalidOperationException) =>
            exception.Message.Contains("already running", StringComparison.Ordinal) || exception.Message.Contains("is not running", StringComparison.Ordinal)
            || Note($"undocumented InvalidOperationException from a lifecycle call: {exception.Message}"),
        _ => Note($"undocumented {exception.GetType().Name} from a lifecycle call: {exception}"),
    };

    private bool Note(string violation)
    {
        Violation("EXCEPTION: " + violation);
        return true;
    }

    private void Track(Task task) => _tasks.Enqueue(task);

    private bool Allowed(string category) => !_excluded.Contains(category);

    private void Violation(string message)
    {
        if (_violations.Count < 50)
        {
            _violations.Enqueue(message);
        }
    }

    private void JoinOrBreakHang(List<Thread> threads, string[] doing)
    {
        var deadline = DateTime.UtcNow + HangTimeout;
        foreach (var thread in threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (!thread.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero))
            {
                var stuck = string.Join("; ", doing.Select(static (d, i) => $"thread {i}: {d}").Where(static d => !d.EndsWith("finished", StringComparison.Ordinal)));
                Violation($"HANG: chaos threads still busy after {HangTimeout.TotalSeconds}s: {stuck}. Statistics: {_manager.GetStatistics()}.");
                BreakHang();
                foreach (var other in threads)
                {
                    other.Join(HangTimeout);
                }

                return;
            }
        }
    }

    private void BreakHang()
    {
        // Release submitters that wait for queue room and the items waiting on tokens, so the iteration can end.
        _teardown.Cancel();
        foreach (var source in _laterTokens)
        {
            source.Cancel();
        }
    }

    private void CheckEveryTaskIsFinal()
    {
        Task[] all = [.. _tasks, .. _schedulerTasks];
        var settled = Task.WhenAll(all).ContinueWith(static _ => { }, TaskScheduler.Default);
        if (!settled.Wait(HangTimeout))
        {
            var lost = all.Where(static t => !t.IsCompleted).ToList();
            LostTasks = lost.Count;
            Violation($"LOST: {lost.Count} of {all.Length} tasks not final {HangTimeout.TotalSeconds}s after the final stop " +
                $"(statuses: {string.Join(", ", lost.GroupBy(static t => t.Status).Select(static g => $"{g.Key} x{g.Count()}"))}).");
        }
    }

    private void CheckCounters()
    {
        // Accounting of async work happens as its task completes: give the counters a bounded moment to settle.
        var expected = _tasks.Count + Interlocked.Read(ref _postsAccepted);
        long Sum()
        {
            var s = _manager.GetStatistics();
            return s.Completed + s.Faulted + s.Canceled;
        }

        if (!SpinWait.SpinUntil(() => Sum() == expected, TimeSpan.FromSeconds(5)))
        {
            var s = _manager.GetStatistics();
            Violation($"COUNTERS: Completed {s.Completed} + Faulted {s.Faulted} + Canceled {s.Canceled} = {Sum()}, expected {expected} " +
                $"({_tasks.Count} tasks returned + {Interlocked.Read(ref _postsAccepted)} posts accepted).");
        }

        var faulted = _manager.GetStatistics().Faulted;
        var logged = _baseOptions.LogExceptions ? faulted : 0;
        if (!SpinWait.SpinUntil(() => _logs.Faults == logged, TimeSpan.FromSeconds(5)))
        {
            Violation($"LOG: {_logs.Faults} faults logged, expected {logged} (Faulted {faulted}, LogExceptions {_baseOptions.LogExceptions}).");
        }

        var byStatus = _tasks.GroupBy(static t => t.Status).ToDictionary(static g => g.Key, static g => g.LongCount());
        var statistics = _manager.GetStatistics();
        if (byStatus.GetValueOrDefault(TaskStatus.Canceled) > statistics.Canceled || byStatus.GetValueOrDefault(TaskStatus.Faulted) > statistics.Faulted)
        {
            Violation($"COUNTERS: tasks by status {string.Join(", ", byStatus.Select(static p => $"{p.Key} {p.Value}"))} exceed the statistics {statistics}.");
        }
    }

    private void CheckState()
    {
        var statistics = _manager.GetStatistics();
        if (_manager.IsRunning || statistics.QueuedItems != 0 || statistics.Workers != 0 || statistics.BusyWorkers != 0)
        {
            Violation($"STATE: after the final stop IsRunning {_manager.IsRunning}, {statistics}.");
        }
    }

    /// <summary>Counts the fault warnings the pool writes; everything else is ignored.</summary>
    private sealed class CountingLoggerFactory : ILoggerFactory
    {
        private long _faults;

        public long Faults => Interlocked.Read(ref _faults);

        public ILogger CreateLogger(string categoryName) => new Logger(this);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Logger(CountingLoggerFactory owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (eventId.Name == "WorkItemFaulted")
                {
                    Interlocked.Increment(ref owner._faults);
                }
            }
        }
    }
}
