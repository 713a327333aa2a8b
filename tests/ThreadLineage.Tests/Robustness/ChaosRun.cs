using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// One chaos iteration: fresh managers, several producer threads submitting every kind of work (sync, async with
/// awaits, Post, canceled tokens, wrong task types, nested waits, scheduler tasks) while controller threads stop,
/// cancel, restart, resize and dispose them at random. Afterwards the promises of docs/shutdown.md ("Nothing is lost",
/// "A waiting stop leaves no thread behind") and the statistics of docs/pools.md are checked.
/// </summary>
/// <remarks>
/// <para>
/// Most iterations test one manager with threads of its own. A seeded share (<see cref="BorrowedPercent"/>) test
/// borrowing managers (docs/borrowed-workers.md): a host and a borrower attached in a scope of the iteration, sometimes a
/// second borrower of the same host and a borrower of the borrower (attached in a nested scope). Producers submit to all
/// of them; controllers also stop (with and without <c>cancelPending</c>), restart, resize and dispose the host, which
/// stops its borrowers, restart borrowers (refused while their host is not running: a documented outcome), and dispose
/// the scopes. Every manager's counters are checked on their own, and no item of a manager runs beyond the largest
/// <c>MaxWorkers</c> it was given.
/// </para>
/// <para>
/// All choices come from one seed, so an iteration replays the same operations (the interleaving of the threads is
/// the machine's). A hang is detected, reported and broken (every blocking call is bounded), so a failing iteration
/// always ends and names its seed.
/// </para>
/// </remarks>
internal sealed class ChaosRun : IDisposable
{
    /// <summary>How long any thread of the iteration may take before the iteration counts as hung.</summary>
    public static readonly TimeSpan HangTimeout = TimeSpan.FromSeconds(20);

    /// <summary>The share of iterations (in percent) that test borrowing managers (unless <c>CHAOS_EXCLUDE=borrowed</c>).</summary>
    public const int BorrowedPercent = 40;

    private const string ChaosType = "chaos";

    // The threads of the iteration (producers, controllers): work run on them is run in the caller
    // (QueueFullMode.RunInCaller), which no MaxWorkers limits.
    [ThreadStatic]
    private static bool t_chaosThread;

    // How deep each manager's sync items are nested on this thread (a nested wait runs an item inline): the limit is
    // about threads, so a thread counts once per manager however many of its items it runs inside each other.
    [ThreadStatic]
    private static Dictionary<Subject, int>? t_depth;

    private readonly int _seed;
    private readonly int _iteration;
    private readonly int _opsPerThread;
    private readonly HashSet<string> _excluded;
    private readonly ConcurrentQueue<string> _violations = new();
    private readonly ConcurrentQueue<CancellationTokenSource> _laterTokens = new();
    private readonly CancellationTokenSource _teardown = new();
    private readonly ThreadPoolManagerOptions _baseOptions;
    private readonly BorrowedShape? _borrowed;
    private readonly List<Subject> _subjects = [];
    private long _runs;
    private long _lifecycleOps;
    private long _refusals;
    private long _hostOps;
    private long _hostRefusals;
    private long _scopeDisposals;
    private long _producerOps;
    private int _producersLeft;
    private Subject _primary = null!;
    private Subject? _host;
    private LineageScope? _scope;
    private LineageScope? _innerScope;
    private ExecutionContext? _scopeContext;

    /// <param name="seed">The iteration seed: every choice of the iteration comes from it.</param>
    /// <param name="iteration">The iteration's number, for the managers' ids.</param>
    /// <param name="opsPerThread">How many operations each producer and controller thread performs.</param>
    /// <param name="excluded">Categories of operations left out.</param>
    /// <param name="withoutFastPath">Take the runtime's fast path for canceling queued submissions away, as on a runtime without it.</param>
    public ChaosRun(int seed, int iteration, int opsPerThread, HashSet<string> excluded, bool withoutFastPath = false)
    {
        _seed = seed;
        _iteration = iteration;
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
        };
        Producers = random.Next(2, 5);
        Controllers = random.Next(1, 3);
        WithoutFastPath = withoutFastPath;

        // The borrowed shape draws from a generator of its own, so that an iteration that tests a dedicated pool makes
        // the same choices as before borrowed iterations existed (and CHAOS_EXCLUDE=borrowed replays those exactly).
        var shape = new Random(seed ^ 0x2545f491);
        if (shape.Next(100) < BorrowedPercent && Allowed("borrowed"))
        {
            _borrowed = BorrowedShape.Draw(shape, _baseOptions, Allowed("secondborrower"), Allowed("nestedborrower"));
        }
        else
        {
            var manager = new WorkerTrackingManager($"chaos-{iteration}-{seed}");
            _primary = new Subject("pool", manager, Copy(_baseOptions, _baseOptions.MaxWorkers), host: null);
            _subjects.Add(_primary);
            if (withoutFastPath)
            {
                manager.Canceler = WithoutFastPathCanceler();
            }
        }
    }

    public bool WithoutFastPath { get; }

    /// <summary>
    /// Derives a seed from a seed and an index, the same in every process (<see cref="HashCode.Combine{T1, T2}"/> is
    /// randomized per process, so the seeds it derived could not be replayed by another run).
    /// </summary>
    public static int Mix(int seed, int index)
    {
        // SplitMix64's finalizer over the pair: every bit of both inputs reaches every bit of the result.
        var z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9e3779b97f4a7c15UL;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return (int)((z ^ (z >> 31)) & int.MaxValue);
    }

    public int Producers { get; }

    public int Controllers { get; }

    /// <summary>Gets whether this iteration tests borrowing managers.</summary>
    public bool Borrowed => _borrowed is not null;

    public long ItemsAccepted => _subjects.Sum(static s => s.Accepted);

    /// <summary>Gets the items the borrowing managers accepted (tasks returned + posts accepted).</summary>
    public long BorrowerItems => _subjects.Where(static s => s.Borrows).Sum(static s => s.Accepted);

    public long Runs => Interlocked.Read(ref _runs);

    public long LifecycleOps => Interlocked.Read(ref _lifecycleOps);

    /// <summary>Gets the lifecycle operations on a host (stops of every kind, restarts, resizes, disposal) while borrowers ran on it.</summary>
    public long HostOps => Interlocked.Read(ref _hostOps);

    /// <summary>Gets the borrowers' starts refused because their host was not running (or had been disposed).</summary>
    public long HostRefusals => Interlocked.Read(ref _hostRefusals);

    /// <summary>Gets the scopes disposed by controllers while the producers ran.</summary>
    public long ScopeDisposals => Interlocked.Read(ref _scopeDisposals);

    public long Refusals => Interlocked.Read(ref _refusals);

    /// <summary>Gets the borrowing managers of the iteration and how many of them ran as many items at once as their largest limit.</summary>
    public (int Borrowers, int AtLimit) BorrowerPeaks =>
        (_subjects.Count(static s => s.Borrows), _subjects.Count(static s => s.Borrows && Volatile.Read(ref s.Peak) == Volatile.Read(ref s.MaxLimit)));

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
        $"{Producers} producers, {Controllers} controllers{(WithoutFastPath ? ", without the cancel fast path" : "")}" +
        (_borrowed is { } b ? $"; borrowed: {b.Describe()}" : "");

    /// <summary>Runs the iteration and checks its invariants; the violations are in <see cref="Violations"/>.</summary>
    public void Run()
    {
        if (_borrowed is null)
        {
            Start(_primary, new Random(_seed ^ 0x5bd1e995), "initial start");
        }
        else
        {
            SetUpBorrowed(_borrowed);
        }

        var doing = new string[Producers + Controllers];
        _producersLeft = Producers;
        using var barrier = new Barrier(doing.Length);
        var threads = new List<Thread>();
        for (var i = 0; i < doing.Length; i++)
        {
            var index = i;
            var random = new Random(Mix(_seed, index));
            var isProducer = index < Producers;
            var thread = new Thread(() =>
            {
                t_chaosThread = true;
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
        FinalStop();
        CheckNoWorkerAlive();
        CheckEveryTaskIsFinal();
        foreach (var subject in _subjects)
        {
            CheckCounters(subject);
            CheckState(subject);
        }

        DisposeManagers();
    }

    public void Dispose()
    {
        foreach (var source in _laterTokens)
        {
            source.Dispose();
        }

        _teardown.Dispose();
        foreach (var subject in _subjects)
        {
            subject.Logs.Dispose();
        }
    }

    /// <summary>Disposes the managers (borrowers first, then the host) and ends the scopes; bounded, as every wait of the run.</summary>
    private void DisposeManagers()
    {
        var disposing = Task.Factory.StartNew(
            () =>
            {
                foreach (var subject in Enumerable.Reverse(_subjects))
                {
                    subject.Manager.Dispose();
                }

                _innerScope?.Dispose();
                _scope?.Dispose();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default);
        if (!disposing.Wait(HangTimeout))
        {
            Violation($"HANG: disposing the managers after the final stop did not return within {HangTimeout.TotalSeconds}s " +
                $"({string.Join("; ", _subjects.Select(static s => $"{s.Role} {s.Manager}: {s.Manager.GetStatistics()}"))}).");
            BreakHang();
        }
        else if (!disposing.IsCompletedSuccessfully)
        {
            Violation($"EXCEPTION: disposing the managers after the final stop threw: {disposing.Exception}");
        }
    }

    private static ThreadLineage.Internal.TaskCanceler WithoutFastPathCanceler() =>
        new(static _ => throw new MissingMethodException("System.Threading.Tasks.Task", "InternalCancel"));

    /// <summary>The options of a run: the subject's, with another size (and the logger of the subject).</summary>
    private static ThreadPoolManagerOptions Copy(ThreadPoolManagerOptions options, int maxWorkers, string? threadNamePrefix = null, Action<ThreadPoolManager>? workerStarted = null) => new()
    {
        MaxWorkers = maxWorkers,
        MinWorkers = options.MinWorkers is null ? null : Math.Min(maxWorkers, options.MinWorkers.Value),
        IdleTimeout = options.IdleTimeout,
        QueueCapacity = options.QueueCapacity,
        QueueFullMode = options.QueueFullMode,
        TaskType = options.TaskType,
        IsBackground = options.IsBackground,
        ThreadNamePrefix = threadNamePrefix,
        FlowExecutionContext = options.FlowExecutionContext,
        LogExceptions = options.LogExceptions,
        LoggerFactory = options.LoggerFactory,
        WorkersFrom = options.WorkersFrom,
        WorkerStarted = workerStarted,
    };

    /// <summary>
    /// Attaches the host and the borrowers in a scope of the iteration (the nested borrower in a scope inside it) and
    /// starts them, host first. On a thread of its own: a scope changes the lineage of the flow that begins it, and the
    /// test runner's must stay as it is.
    /// </summary>
    private void SetUpBorrowed(BorrowedShape shape)
    {
        var prefix = $"chaos-{_iteration}-{_seed}";
        var setup = new Thread(() =>
        {
            _scope = Lineage.BeginScope(prefix);
            _host = AddSubject("host", Lineage.CreateManager($"{prefix}-host"), shape.Host, host: null);
            _primary = AddSubject("borrower", Lineage.CreateManager($"{prefix}-borrower"), shape.Borrower, _host);
            if (shape.Second is { } second)
            {
                AddSubject("second borrower", Lineage.CreateManager($"{prefix}-borrower2"), second, _host);
            }

            if (shape.Nested is { } nested)
            {
                _innerScope = Lineage.BeginScope(prefix + "-inner");
                AddSubject("nested borrower", Lineage.CreateManager($"{prefix}-nested"), nested, _primary);
            }

            _scopeContext = ExecutionContext.Capture();
            var random = new Random(_seed ^ 0x5bd1e995);
            foreach (var subject in _subjects)
            {
                Start(subject, random, "initial start");
            }
        })
        { Name = $"chaos-setup-{_iteration}", IsBackground = true };
        setup.Start();
        if (!setup.Join(HangTimeout))
        {
            throw new TimeoutException($"The set-up of borrowed chaos iteration {_iteration} (seed {_seed}) did not finish within {HangTimeout.TotalSeconds}s.");
        }
    }

    private Subject AddSubject(string role, ThreadPoolManager manager, ThreadPoolManagerOptions options, Subject? host)
    {
        var subject = new Subject(role, manager, options, host);
        if (WithoutFastPath)
        {
            manager.Canceler = WithoutFastPathCanceler();
        }

        _subjects.Add(subject);
        return subject;
    }

    /// <summary>Picks the manager a producer submits to: one of the iteration's, the borrower most often.</summary>
    private Subject PickSubject(Random random)
    {
        if (_subjects.Count == 1)
        {
            // A dedicated iteration draws nothing here, so that its choices stay those of its seed.
            return _primary;
        }

        var roll = random.Next(100);
        return roll switch
        {
            < 20 => _host!,
            < 35 when Find("second borrower") is { } second => second,
            < 50 when Find("nested borrower") is { } nested => nested,
            _ => _primary,
        };
    }

    private Subject? Find(string role) => _subjects.Find(s => s.Role == role);

    private void Produce(Random random, ref string doing)
    {
        var subject = PickSubject(random);
        var manager = subject.Manager;
        var mistyped = random.Next(20) == 0 && Allowed("mistyped");
        var taskType = mistyped ? "wrong-type" : subject.Options.TaskType;
        var token = PickToken(random, subject, out var tokenKind);
        var roll = random.Next(100);
        try
        {
            switch (roll)
            {
                case < 25:
                    doing = $"Submit(Action) token {tokenKind} to the {subject.Role}";
                    var shape = random.Next(100);
                    subject.Track(manager.Submit(() => { SyncWork(subject, shape, taskType); }, taskType, token));
                    break;
                case < 35:
                    doing = $"Submit(Func<T>) token {tokenKind} to the {subject.Role}";
                    var resultShape = random.Next(100);
                    subject.Track(manager.Submit(() => SyncWork(subject, resultShape, taskType), taskType, token));
                    break;
                case < 55 when Allowed("async"):
                    doing = $"Submit(Func<Task>) token {tokenKind} to the {subject.Role}";
                    var asyncStart = random.Next(100);
                    subject.Track(manager.Submit(() => AsyncWork(asyncStart), taskType, token));
                    break;
                case < 62 when Allowed("async"):
                    doing = $"Submit(Func<Task<T>>) token {tokenKind} to the {subject.Role}";
                    var asyncShape = random.Next(100);
                    subject.Track(manager.Submit(async () => { await AsyncWork(asyncShape); return asyncShape; }, taskType, token));
                    break;
                case < 80 when Allowed("post"):
                    doing = $"Post to the {subject.Role}";
                    var fault = random.Next(20) == 0;
                    if (random.Next(2) == 0)
                    {
                        manager.Post(() => PostedWork(subject, fault), taskType);
                    }
                    else
                    {
                        manager.Post(static s => s.Run.PostedWork(s.Subject, s.Fault), (Run: this, Subject: subject, Fault: fault), taskType);
                    }

                    Interlocked.Increment(ref subject.PostsAccepted);
                    break;
                case < 88 when Allowed("latecanceled"):
                    doing = "cancel a pending token";
                    if (_laterTokens.TryDequeue(out var source))
                    {
                        source.Cancel();
                    }

                    break;
                case < 93 when Allowed("scheduler"):
                    doing = $"GetScheduler + StartNew on the {subject.Role}";
                    var scheduler = manager.GetScheduler(taskType);
                    subject.SchedulerTasks.Enqueue(Task.Factory.StartNew(static () => Thread.SpinWait(20), CancellationToken.None, TaskCreationOptions.None, scheduler));
                    break;
                case < 96:
                    doing = $"GetStatistics of the {subject.Role}";
                    var statistics = manager.GetStatistics();
                    if (statistics.Workers < 0 || statistics.BusyWorkers < 0 || statistics.QueuedItems < 0)
                    {
                        Violation($"STATE: negative statistics of the {subject.Role}: {statistics}");
                    }

                    if (subject.Borrows && statistics.Workers != 0)
                    {
                        Violation($"STATE: the {subject.Role} '{manager.Id}' reports threads of its own: {statistics}");
                    }

                    break;
                default:
                    doing = $"Submit(Action) without a token to the {subject.Role}";
                    subject.Track(manager.Submit(() => RunCounted(subject, static () => Thread.SpinWait(50)), taskType));
                    break;
            }
        }
        catch (Exception exception) when (IsDocumentedRefusal(exception, subject, mistyped))
        {
            Interlocked.Increment(ref _refusals);
        }
    }

    private int SyncWork(Subject subject, int shape, string? taskType)
    {
        EnterItem(subject);
        try
        {
            switch (shape)
            {
                case < 5:
                    throw new InvalidOperationException("chaos fault");
                case < 8 when Allowed("nested"):
                    // A nested wait on the same pool: must complete even when every worker is busy.
                    try
                    {
                        var inner = subject.Manager.Submit(() => RunCounted(subject, static () => { }), taskType);
                        subject.Track(inner);

                        // Wait() with no timeout, as the contract names it: the runtime asks the pool to run a still-queued
                        // item inline only for an unbounded wait. A self-deadlock here shows up as an iteration hang.
                        inner.Wait();
                    }
                    catch (AggregateException exception) when (exception.InnerException is TaskCanceledException)
                    {
                    }
                    catch (Exception exception) when (IsDocumentedRefusal(exception, subject, mistyped: false))
                    {
                    }

                    return 1;
                case >= 95:
                    // Now and then an item that blocks, as real work does: the other threads run items meanwhile, so the
                    // concurrency check sees the limits reached.
                    Thread.Sleep(1);
                    return shape;
                default:
                    Thread.SpinWait(shape * 4);
                    return shape;
            }
        }
        finally
        {
            LeaveItem(subject);
        }
    }

    private void PostedWork(Subject subject, bool fault)
    {
        EnterItem(subject);
        try
        {
            if (fault)
            {
                throw new InvalidOperationException("posted chaos fault");
            }
        }
        finally
        {
            LeaveItem(subject);
        }
    }

    private int RunCounted(Subject subject, Action body)
    {
        EnterItem(subject);
        try
        {
            body();
            return 0;
        }
        finally
        {
            LeaveItem(subject);
        }
    }

    /// <summary>Counts the threads running sync items of <paramref name="subject"/>; more than its largest limit is a violation.</summary>
    private void EnterItem(Subject subject)
    {
        if (t_chaosThread)
        {
            return;
        }

        var depth = t_depth ??= [];
        var nested = depth.GetValueOrDefault(subject);
        depth[subject] = nested + 1;
        if (nested > 0)
        {
            return;
        }

        // Interlocked: every thread running the subject's items updates the count.
        var now = Interlocked.Increment(ref subject.Running);
        int peak;
        // Compare-exchange: raise the peak only if no other thread raised it higher meanwhile.
        while (now > (peak = Volatile.Read(ref subject.Peak)) && Interlocked.CompareExchange(ref subject.Peak, now, peak) != peak)
        {
        }

        var limit = Volatile.Read(ref subject.MaxLimit);
        if (now > limit)
        {
            Violation($"CONCURRENCY: {now} threads ran items of the {subject.Role} '{subject.Manager.Id}' at once, more than the largest MaxWorkers it was given ({limit}).");
        }
    }

    private static void LeaveItem(Subject subject)
    {
        if (t_chaosThread)
        {
            return;
        }

        var depth = t_depth!;
        var nested = depth[subject] - 1;
        if (nested > 0)
        {
            depth[subject] = nested;
            return;
        }

        depth.Remove(subject);
        // Interlocked: pairs with the increment in EnterItem.
        Interlocked.Decrement(ref subject.Running);
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
        var subject = _primary;
        if (_subjects.Count > 1)
        {
            // A borrowed iteration: the borrower most often, but also its host, the other borrowers and the scopes.
            var pick = random.Next(100);
            if (pick < 6 && Allowed("scope"))
            {
                DisposeAScope(random, ref doing);
                return;
            }

            subject = pick switch
            {
                < 33 when Allowed("hostcontrol") => _host!,
                < 43 when Find("second borrower") is { } second => second,
                < 53 when Find("nested borrower") is { } nested => nested,
                _ => _primary,
            };
            if (subject == _host)
            {
                Interlocked.Increment(ref _hostOps);
            }
        }

        var manager = subject.Manager;
        var on = _subjects.Count > 1 ? $" of the {subject.Role}" : "";
        // A stopped pool is mostly restarted at once; a running one gets any operation.
        var roll = !manager.IsRunning && random.Next(10) < 7 ? 60 : random.Next(100);
        try
        {
            switch (roll)
            {
                case < 12 when Allowed("stop"):
                    doing = $"Stop(wait: true){on}";
                    manager.Stop(wait: true);
                    break;
                case < 22 when Allowed("stop"):
                    doing = $"Stop(wait: false){on}";
                    manager.Stop(wait: false);
                    break;
                case < 30 when Allowed("stopcancel"):
                    doing = $"Stop(wait: true, cancelPending: true){on}";
                    manager.Stop(wait: true, cancelPending: true);
                    break;
                case < 35 when Allowed("stopcancel"):
                    doing = $"Stop(wait: false, cancelPending: true){on}";
                    manager.Stop(wait: false, cancelPending: true);
                    break;
                case < 48 when Allowed("stopasync"):
                    var when = random.Next(4);
                    doing = $"StopAsync(token {(when switch { 0 => "none", 1 => "canceled before", 2 => "fires during the drain", _ => "fires after" })}){on}";
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

                        var stopping = manager.StopAsync(when == 0 ? CancellationToken.None : source.Token);
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
                    doing = $"Start{on}";
                    if (subject.Host is { } host && !host.Manager.IsRunning && random.Next(3) != 0)
                    {
                        // Mostly, a borrower whose host stopped is restarted after its host (and the host after its own).
                        StartWithHosts(host, random);
                    }

                    Start(subject, random, doing);
                    break;
                case < 84 when Allowed("resize"):
                    doing = $"SetMaxWorkers{on}";
                    var size = NextSize(subject, random);
                    subject.RaiseLimit(size);
                    manager.SetMaxWorkers(size);
                    break;
                case < 88:
                    doing = $"WaitForIdleAsync{on}";
                    using (var source = new CancellationTokenSource(random.Next(1, 5)))
                    {
                        var idle = manager.WaitForIdleAsync(source.Token);
                        if (!idle.ContinueWith(static _ => { }, TaskScheduler.Default).Wait(HangTimeout))
                        {
                            Violation("HANG: WaitForIdleAsync ignored its canceled token.");
                        }
                    }

                    break;
                case < 90 when Allowed("dispose") && Interlocked.Read(ref _producerOps) >= Producers * (long)_opsPerThread * 3 / 4:
                    // Disposal ends the manager's life: only in the last quarter of the traffic.
                    var synchronously = random.Next(2) == 0;
                    doing = $"{(synchronously ? "Dispose" : "DisposeAsync")}{on}";
                    // Before the call: from here on, a borrower's start may no longer find this manager.
                    subject.Disposed = true;
                    if (synchronously)
                    {
                        manager.Dispose();
                    }
                    else if (!manager.DisposeAsync().AsTask().Wait(HangTimeout))
                    {
                        Violation($"HANG: {doing} did not complete within {HangTimeout.TotalSeconds}s.");
                        BreakHang();
                    }

                    break;
                default:
                    doing = "pause";
                    Thread.SpinWait(random.Next(1000));
                    break;
            }
        }
        catch (Exception exception) when (IsDocumentedLifecycleRefusal(exception, subject))
        {
            Interlocked.Increment(ref _refusals);
        }
    }

    /// <summary>Starts the hosts of <paramref name="subject"/> that are not running, outermost first, then the subject if it is not running.</summary>
    private void StartWithHosts(Subject subject, Random random)
    {
        if (subject.Host is { } host && !host.Manager.IsRunning)
        {
            StartWithHosts(host, random);
        }

        if (!subject.Manager.IsRunning)
        {
            Start(subject, random, $"Start of the {subject.Role}");
        }
    }

    private void DisposeAScope(Random random, ref string doing)
    {
        var inner = _innerScope is not null && random.Next(2) == 0;
        var scope = inner ? _innerScope! : _scope!;
        var asynchronously = random.Next(2) == 0;
        doing = $"{(asynchronously ? "DisposeAsync" : "Dispose")} of the {(inner ? "inner" : "iteration's")} scope";
        Interlocked.Increment(ref _scopeDisposals);
        if (!asynchronously)
        {
            var disposing = Task.Factory.StartNew(scope.Dispose, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!disposing.Wait(HangTimeout))
            {
                Violation($"HANG: {doing} did not return within {HangTimeout.TotalSeconds}s.");
                BreakHang();
            }
        }
        else if (!scope.DisposeAsync().AsTask().Wait(HangTimeout))
        {
            Violation($"HANG: {doing} did not complete within {HangTimeout.TotalSeconds}s.");
            BreakHang();
        }
    }

    private void Start(Subject subject, Random random, string doing)
    {
        // Each run differs a little from the subject's options: another size, another prefix.
        var max = NextSize(subject, random);
        var prefix = $"{subject.Manager.Id}-r{Interlocked.Increment(ref subject.StartAttempts)}";
        subject.RaiseLimit(max);
        try
        {
            if (subject.Borrows)
            {
                // Through the scope's lineage: WorkersFrom is resolved from the caller's node (a controller that disposed
                // a scope it was in has left it).
                var options = Copy(subject.Options, max);
                ExecutionContext.Run(_scopeContext!, static state => { var (m, o) = ((ThreadPoolManager, ThreadPoolManagerOptions))state!; m.Start(o); }, (subject.Manager, options));
            }
            else
            {
                subject.Manager.Start(Copy(subject.Options, max, prefix, subject.RecordsWorkers ? subject.RecordWorker : null));
            }

            Interlocked.Increment(ref _runs);
            subject.StartOutcomes[prefix] = "started";
        }
        catch (Exception exception) when (IsDocumentedLifecycleRefusal(exception, subject))
        {
            subject.StartOutcomes[prefix] = $"Start threw {exception.GetType().Name}";
            Interlocked.Increment(ref _refusals);
            if (doing == "initial start")
            {
                Violation($"EXCEPTION: the initial Start of the {subject.Role} failed: {exception}");
            }
        }
    }

    /// <summary>
    /// The size of a restart or a resize: for the pool of a dedicated iteration any of 1–4 (its choices stay those of its
    /// seed); in a borrowed iteration, at most the manager's own MaxWorkers, so that the largest limit a manager was given
    /// stays its own and the concurrency check bites.
    /// </summary>
    private static int NextSize(Subject subject, Random random) =>
        subject.Role == "pool" ? random.Next(1, 5) : random.Next(1, subject.Options.MaxWorkers + 1);

    private CancellationToken PickToken(Random random, Subject subject, out string kind)
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
        return subject.Options is { QueueCapacity: not null, QueueFullMode: QueueFullMode.Wait } ? _teardown.Token : CancellationToken.None;
    }

    private bool IsDocumentedRefusal(Exception exception, Subject subject, bool mistyped) => exception switch
    {
        ObjectDisposedException => true,
        UnknownTaskTypeException => mistyped || Note($"UnknownTaskTypeException for a correctly typed submission: {exception.Message}"),
        ThreadPoolFullException => subject.Options.QueueFullMode == QueueFullMode.Reject || Note($"ThreadPoolFullException in {subject.Options.QueueFullMode} mode: {exception.Message}"),
        InvalidOperationException when exception.GetType() == typeof(InvalidOperationException) =>
            exception.Message.Contains("is not running", StringComparison.Ordinal) || Note($"undocumented InvalidOperationException from a submission: {exception.Message}"),
        _ => Note($"undocumented {exception.GetType().Name} from a submission: {exception}"),
    };

    private bool IsDocumentedLifecycleRefusal(Exception exception, Subject subject)
    {
        switch (exception)
        {
            case ObjectDisposedException:
                return true;
            case ManagerNotFoundException when subject.Host is { Disposed: true }:
                // The host was disposed, which detaches it from its node: a borrower can no longer find it.
                Interlocked.Increment(ref _hostRefusals);
                return true;
            case InvalidOperationException when exception.GetType() == typeof(InvalidOperationException) && subject.Host is { } host
                && exception.Message.Contains($"cannot borrow workers from '{host.Manager.Id}': '{host.Manager.Id}' is not running", StringComparison.Ordinal):
                // A borrower's start needs a running host (docs/borrowed-workers.md, "Host lifecycle").
                Interlocked.Increment(ref _hostRefusals);
                return true;
            case InvalidOperationException when exception.GetType() == typeof(InvalidOperationException):
                return exception.Message.Contains("already running", StringComparison.Ordinal) || exception.Message.Contains("is not running", StringComparison.Ordinal)
                    || Note($"undocumented InvalidOperationException from a lifecycle call of the {subject.Role}: {exception.Message}");
            default:
                return Note($"undocumented {exception.GetType().Name} from a lifecycle call of the {subject.Role}: {exception}");
        }
    }

    private bool Note(string violation)
    {
        Violation("EXCEPTION: " + violation);
        return true;
    }

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
                var statistics = string.Join("; ", _subjects.Select(static s => $"{s.Role} {s.Manager.GetStatistics()}"));
                Violation($"HANG: chaos threads still busy after {HangTimeout.TotalSeconds}s: {stuck}. Statistics: {statistics}.");
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

    /// <summary>
    /// Stops everything, waiting. A dedicated pool: Stop(wait: true). Borrowed: as the shape says, the host first (which
    /// stops its borrowers and waits for them), the borrowers first, or the iteration's scope (which stops them all),
    /// and then a waiting stop of each manager.
    /// </summary>
    private void FinalStop()
    {
        var steps = new List<(string What, Action Stop)>();
        if (_borrowed is { } shape)
        {
            var borrowers = _subjects.Where(static s => s.Borrows).Reverse().ToList();
            switch (shape.FinalStop)
            {
                case FinalStopOrder.HostFirst:
                    steps.Add(("the host's Stop(wait: true)", () => _host!.Manager.Stop(wait: true)));
                    break;
                case FinalStopOrder.Scope:
                    steps.Add(("the iteration scope's Dispose", () => _scope!.Dispose()));
                    break;
                default:
                    break;
            }

            steps.AddRange(borrowers.Select(b => ($"the {b.Role}'s Stop(wait: true)", (Action)(() => b.Manager.Stop(wait: true)))));
        }

        steps.Add(($"the {(_host ?? _primary).Role}'s final Stop(wait: true)", () => (_host ?? _primary).Manager.Stop(wait: true)));
        foreach (var (what, stop) in steps)
        {
            var stopping = Task.Factory.StartNew(stop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            if (!stopping.Wait(HangTimeout))
            {
                var statistics = string.Join("; ", _subjects.Select(s => $"{s.Role} {s.Manager.GetStatistics()} (workers alive: {string.Join(", ", s.LiveWorkerNames())})"));
                Violation($"HANG: {what} did not return within {HangTimeout.TotalSeconds}s ({statistics}).");
                BreakHang();
                stopping.Wait(HangTimeout);
            }
            else if (!stopping.IsCompletedSuccessfully)
            {
                Violation($"EXCEPTION: {what} threw: {stopping.Exception}");
            }
        }
    }

    private void CheckNoWorkerAlive()
    {
        foreach (var subject in _subjects)
        {
            var liveAfterStop = subject.LiveWorkerNames();
            if (liveAfterStop.Count > 0)
            {
                var runs = liveAfterStop.Select(name => name[..name.LastIndexOf('-')]).Distinct()
                    .Select(prefix => $"{prefix[(prefix.LastIndexOf('-') + 1)..]}: {subject.StartOutcomes.GetValueOrDefault(prefix, "?")}");
                Violation($"THREADS: worker threads of the {subject.Role} alive after its final Stop(wait: true) returned: {string.Join(", ", liveAfterStop)} " +
                    $"(their runs: {string.Join("; ", runs)}; {subject.StartAttempts} Start calls in all).");
            }
        }
    }

    private void CheckEveryTaskIsFinal()
    {
        Task[] all = [.. _subjects.SelectMany(static s => s.Tasks.Concat(s.SchedulerTasks))];
        var settled = Task.WhenAll(all).ContinueWith(static _ => { }, TaskScheduler.Default);
        if (!settled.Wait(HangTimeout))
        {
            var lost = all.Where(static t => !t.IsCompleted).ToList();
            LostTasks = lost.Count;
            Violation($"LOST: {lost.Count} of {all.Length} tasks not final {HangTimeout.TotalSeconds}s after the final stop " +
                $"(statuses: {string.Join(", ", lost.GroupBy(static t => t.Status).Select(static g => $"{g.Key} x{g.Count()}"))}).");
        }
    }

    private void CheckCounters(Subject subject)
    {
        var manager = subject.Manager;
        var of = _subjects.Count > 1 ? $" of the {subject.Role}" : "";

        // Accounting of async work happens as its task completes: give the counters a bounded moment to settle.
        var expected = subject.Accepted;
        long Sum()
        {
            var s = manager.GetStatistics();
            return s.Completed + s.Faulted + s.Canceled;
        }

        if (!SpinWait.SpinUntil(() => Sum() == expected, TimeSpan.FromSeconds(5)))
        {
            var s = manager.GetStatistics();
            Violation($"COUNTERS: Completed {s.Completed} + Faulted {s.Faulted} + Canceled {s.Canceled} = {Sum()}{of}, expected {expected} " +
                $"({subject.Tasks.Count} tasks returned + {Interlocked.Read(ref subject.PostsAccepted)} posts accepted).");
        }

        var faulted = manager.GetStatistics().Faulted;
        var logged = subject.Options.LogExceptions ? faulted : 0;
        if (!SpinWait.SpinUntil(() => subject.Logs.Faults == logged, TimeSpan.FromSeconds(5)))
        {
            Violation($"LOG: {subject.Logs.Faults} faults logged{of}, expected {logged} (Faulted {faulted}, LogExceptions {subject.Options.LogExceptions}).");
        }

        var byStatus = subject.Tasks.GroupBy(static t => t.Status).ToDictionary(static g => g.Key, static g => g.LongCount());
        var statistics = manager.GetStatistics();
        if (byStatus.GetValueOrDefault(TaskStatus.Canceled) > statistics.Canceled || byStatus.GetValueOrDefault(TaskStatus.Faulted) > statistics.Faulted)
        {
            Violation($"COUNTERS: tasks by status{of} {string.Join(", ", byStatus.Select(static p => $"{p.Key} {p.Value}"))} exceed the statistics {statistics}.");
        }
    }

    private void CheckState(Subject subject)
    {
        var statistics = subject.Manager.GetStatistics();
        if (subject.Manager.IsRunning || statistics.QueuedItems != 0 || statistics.Workers != 0 || statistics.BusyWorkers != 0)
        {
            Violation($"STATE: after the final stop{(_subjects.Count > 1 ? $", the {subject.Role}" : "")}: IsRunning {subject.Manager.IsRunning}, {statistics}.");
        }
    }

    /// <summary>The order of a borrowed iteration's final stop.</summary>
    private enum FinalStopOrder
    {
        HostFirst,
        BorrowersFirst,
        Scope,
    }

    /// <summary>What a borrowed iteration consists of: the host's, the borrowers' options, and the order of the final stop.</summary>
    private sealed record BorrowedShape(
        ThreadPoolManagerOptions Host,
        ThreadPoolManagerOptions Borrower,
        ThreadPoolManagerOptions? Second,
        ThreadPoolManagerOptions? Nested,
        FinalStopOrder FinalStop)
    {
        public static BorrowedShape Draw(Random random, ThreadPoolManagerOptions baseOptions, bool second, bool nested)
        {
            // The host: the iteration's thread settings, a size and a queue of its own; protected by the iteration's task
            // type or not (a protected host only lends to borrowers of its type, and every borrower here has it).
            var hostMax = random.Next(1, 5);
            var host = Copy(baseOptions, hostMax);
            host.QueueCapacity = random.Next(2) == 0 ? null : random.Next(1, 16);
            host.QueueFullMode = (QueueFullMode)random.Next(3);
            host.TaskType = random.Next(2) == 0 ? baseOptions.TaskType : null;
            host.LogExceptions = random.Next(3) != 0;

            // The borrower: the iteration's queue, task type, flow and logging; no thread settings (they are the host's).
            var borrower = BorrowerOptions(baseOptions.MaxWorkers, baseOptions.QueueCapacity, baseOptions.QueueFullMode, baseOptions, baseOptions.FlowExecutionContext, baseOptions.LogExceptions);
            var secondOptions = random.Next(2) == 0 && second ? Drawn(random, baseOptions) : null;
            var nestedOptions = random.Next(2) == 0 && nested ? Drawn(random, baseOptions) : null;
            var finalStop = (FinalStopOrder)random.Next(3);
            return new BorrowedShape(host, borrower, secondOptions, nestedOptions, finalStop);
        }

        public string Describe() =>
            $"host MaxWorkers {Host.MaxWorkers} (QueueCapacity {Host.QueueCapacity?.ToString(CultureInfo.InvariantCulture) ?? "unbounded"} ({Host.QueueFullMode}), TaskType {Host.TaskType ?? "none"}), " +
            $"borrower {Of(Borrower)}{(Second is null ? "" : $", second borrower {Of(Second)}")}{(Nested is null ? "" : $", nested borrower {Of(Nested)}")}, " +
            $"final stop {FinalStop}";

        private static string Of(ThreadPoolManagerOptions o) =>
            $"(MaxWorkers {o.MaxWorkers}, QueueCapacity {o.QueueCapacity?.ToString(CultureInfo.InvariantCulture) ?? "unbounded"} ({o.QueueFullMode}), flow {o.FlowExecutionContext}, log {o.LogExceptions})";

        private static ThreadPoolManagerOptions Drawn(Random random, ThreadPoolManagerOptions baseOptions) =>
            BorrowerOptions(
                random.Next(1, 5),
                random.Next(2) == 0 ? null : random.Next(1, 16),
                (QueueFullMode)random.Next(3),
                baseOptions,
                random.Next(4) != 0,
                random.Next(3) != 0);

        private static ThreadPoolManagerOptions BorrowerOptions(int max, int? capacity, QueueFullMode mode, ThreadPoolManagerOptions baseOptions, bool flow, bool log) => new()
        {
            MaxWorkers = max,
            QueueCapacity = capacity,
            QueueFullMode = mode,
            TaskType = baseOptions.TaskType,
            FlowExecutionContext = flow,
            LogExceptions = log,
            // Resolved when the subject is created: its host's id.
            WorkersFrom = "(host)",
        };
    }

    /// <summary>One manager of the iteration, with what was submitted to it and what it must account for.</summary>
    private sealed class Subject
    {
        public Subject(string role, ThreadPoolManager manager, ThreadPoolManagerOptions options, Subject? host)
        {
            Role = role;
            Manager = manager;
            Host = host;
            Options = Copy(options, options.MaxWorkers);
            Options.LoggerFactory = Logs;
            Options.WorkersFrom = host?.Manager.Id;
            MaxLimit = options.MaxWorkers;
        }

        public string Role { get; }

        public ThreadPoolManager Manager { get; }

        /// <summary>Gets the subject's options (each run varies the size).</summary>
        public ThreadPoolManagerOptions Options { get; }

        /// <summary>Gets the manager this one borrows from, or <see langword="null"/> for one with threads of its own.</summary>
        public Subject? Host { get; }

        public bool Borrows => Host is not null;

        /// <summary>Gets whether this subject's worker threads are recorded through <see cref="ThreadPoolManagerOptions.WorkerStarted"/> (a lineage-attached host).</summary>
        public bool RecordsWorkers => !Borrows && Manager is not WorkerTrackingManager;

        public ConcurrentQueue<Task> Tasks { get; } = new();

        public ConcurrentQueue<Task> SchedulerTasks { get; } = new();

        public CountingLoggerFactory Logs { get; } = new();

        public ConcurrentDictionary<string, string> StartOutcomes { get; } = new();

        public long Accepted => Tasks.Count + Interlocked.Read(ref PostsAccepted);

        public volatile bool Disposed;
        public long PostsAccepted;
        public int StartAttempts;
        public int MaxLimit;
        public int Running;
        public int Peak;

        private readonly ConcurrentQueue<Thread> _workers = new();

        public void Track(Task task) => Tasks.Enqueue(task);

        /// <summary>Raises the largest limit the subject was given (before the call that gives it: the check is conservative).</summary>
        public void RaiseLimit(int limit)
        {
            int current;
            // Compare-exchange: only ever raised, whichever controller gets there first.
            while (limit > (current = Volatile.Read(ref MaxLimit)) && Interlocked.CompareExchange(ref MaxLimit, limit, current) != current)
            {
            }
        }

        public void RecordWorker(ThreadPoolManager manager) => _workers.Enqueue(Thread.CurrentThread);

        public List<string> LiveWorkerNames() => Manager is WorkerTrackingManager tracking
            ? tracking.LiveWorkerNames()
            : [.. _workers.Where(static t => t.IsAlive).Select(static t => t.Name ?? $"#{t.ManagedThreadId}")];
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
