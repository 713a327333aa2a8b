using System.Collections.Concurrent;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// Managers that borrow the threads of a host (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>): no thread of their
/// own; queue, limit, task type, statistics and lifecycle of their own (docs/pools.md, "Borrowed workers").
/// </summary>
/// <remarks>
/// A host is resolved through the lineage, so each test works inside a scope of its own that holds the host and its
/// borrowers, with unique ids; disposing the scope stops them all. Every wait is bounded; nothing asserts on time.
/// </remarks>
public class BorrowedWorkersTests
{
    [Fact]
    public void Start_WithWorkersFrom_RunsItemsOnTheHostsThreadsAndCreatesNone()
    {
        using var scope = Lineage.BeginScope("borrow-basic");
        var host = StartHost("host", maxWorkers: 2, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 2);

        var thread = Bounded.Result(borrower.Submit(static () => Thread.CurrentThread.Name), "an item of the borrower");

        Assert.Same(host, borrower.WorkersFrom);
        Assert.Null(host.WorkersFrom);
        Assert.StartsWith(hostId + "-", thread);
        Assert.Equal(0, borrower.GetStatistics().Workers);
        Assert.Equal(2, host.GetStatistics().Workers);
        Assert.True(borrower.IsRunning);
        Assert.Equal(2, borrower.MaxWorkers);
        Assert.Equal(host.IsBackground, borrower.IsBackground);
    }

    [Fact]
    public void Start_ManyIdleBorrowers_CreatesNoThread()
    {
        using var scope = Lineage.BeginScope("borrow-many");
        var host = StartHost("host", maxWorkers: 2, out var hostId);
        var borrowers = new List<ThreadPoolManager>();
        for (var i = 0; i < 1_000; i++)
        {
            borrowers.Add(StartBorrower($"borrower-{i}", hostId, maxWorkers: 1));
        }

        Assert.Equal(2, host.GetStatistics().Workers);
        Assert.All(borrowers, static b => Assert.Equal(0, b.GetStatistics().Workers));
        foreach (var borrower in borrowers)
        {
            borrower.Stop();
        }

        Assert.All(borrowers, static b => Assert.False(b.IsRunning));
        Assert.True(host.IsRunning);
    }

    [Fact]
    public void Start_HostNotFound_ThrowsManagerNotFoundNamingBoth()
    {
        using var scope = Lineage.BeginScope("borrow-missing");
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        var missing = TestIds.New("missing-host");

        var error = Assert.Throws<ManagerNotFoundException>(() => borrower.Start(new ThreadPoolManagerOptions { WorkersFrom = missing }));

        Assert.Equal(missing, error.Id);
        Assert.Contains(borrower.Id, error.Message);
        Assert.Contains(missing, error.Message);
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void Start_HostNotRunning_ThrowsInvalidOperationNamingTheHost()
    {
        using var scope = Lineage.BeginScope("borrow-host-stopped");
        var hostId = TestIds.New("host");
        Lineage.CreateManager(hostId);
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));

        var error = Assert.Throws<InvalidOperationException>(() => borrower.Start(new ThreadPoolManagerOptions { WorkersFrom = hostId }));

        Assert.Contains(hostId, error.Message);
        Assert.Contains("not running", error.Message);
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void Start_FromItself_Throws()
    {
        using var scope = Lineage.BeginScope("borrow-self");
        var id = TestIds.New("self");
        var manager = Lineage.CreateManager(id);

        var error = Assert.Throws<InvalidOperationException>(() => manager.Start(new ThreadPoolManagerOptions { WorkersFrom = id }));

        Assert.Contains("itself", error.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("other")]
    public void Start_OnAProtectedHost_WithoutTheSameTaskType_ThrowsUnknownTaskType(string? borrowerTaskType)
    {
        using var scope = Lineage.BeginScope("borrow-protected");
        var hostId = TestIds.New("host");
        Lineage.CreateManager(hostId).Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "render" });
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));

        var error = Assert.Throws<UnknownTaskTypeException>(() =>
            borrower.Start(new ThreadPoolManagerOptions { WorkersFrom = hostId, TaskType = borrowerTaskType }));

        Assert.Equal("render", error.PoolTaskType);
        Assert.Equal(borrowerTaskType, error.TaskType);
        Assert.Contains(hostId, error.Message);
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void Start_OnAProtectedHost_WithTheSameTaskType_RunsItsWork()
    {
        using var scope = Lineage.BeginScope("borrow-protected-ok");
        var hostId = TestIds.New("host");
        Lineage.CreateManager(hostId).Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "render" });
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId, TaskType = "render" });

        Assert.Equal(42, Bounded.Result(borrower.Submit(static () => 42, "render"), "a render item"));
        Assert.Throws<UnknownTaskTypeException>(() => { _ = borrower.Submit(static () => 1, "other"); });
    }

    [Theory]
    [InlineData(nameof(ThreadPoolManagerOptions.MinWorkers))]
    [InlineData(nameof(ThreadPoolManagerOptions.IdleTimeout))]
    [InlineData(nameof(ThreadPoolManagerOptions.IsBackground))]
    [InlineData(nameof(ThreadPoolManagerOptions.ThreadNamePrefix))]
    [InlineData(nameof(ThreadPoolManagerOptions.WorkerStarted))]
    [InlineData(nameof(ThreadPoolManagerOptions.WorkerStopping))]
    public void Start_WithAThreadSetting_ThrowsNamingIt(string setting)
    {
        using var scope = Lineage.BeginScope("borrow-thread-setting");
        StartHost("host", maxWorkers: 1, out var hostId);
        var options = new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId };
        switch (setting)
        {
            case nameof(ThreadPoolManagerOptions.MinWorkers): options.MinWorkers = 1; break;
            case nameof(ThreadPoolManagerOptions.IdleTimeout): options.IdleTimeout = TimeSpan.FromSeconds(1); break;
            case nameof(ThreadPoolManagerOptions.IsBackground): options.IsBackground = true; break;
            case nameof(ThreadPoolManagerOptions.ThreadNamePrefix): options.ThreadNamePrefix = "mine"; break;
            case nameof(ThreadPoolManagerOptions.WorkerStarted): options.WorkerStarted = static _ => { }; break;
            default: options.WorkerStopping = static _ => { }; break;
        }

        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        var error = Assert.Throws<ArgumentException>(() => borrower.Start(options));

        Assert.Contains(setting, error.Message);
        Assert.Contains(hostId, error.Message);
        Assert.Single(options.Validate());
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void Start_SubclassOverridingOnWorkerStarted_ThrowsNamingIt()
    {
        using var scope = Lineage.BeginScope("borrow-override");
        StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = new WorkerTrackingManager(TestIds.New("borrower"));

        var error = Assert.Throws<ArgumentException>(() => borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId }));

        Assert.Contains("OnWorkerStarted", error.Message);
    }

    [Fact]
    public void Start_ResolvesTheHostThroughTheLineage_NotFromASibling()
    {
        using var scope = Lineage.BeginScope("borrow-lineage");
        var hostId = TestIds.New("host");
        var sibling = Bounded.Result(
            TestThreads.StartChild(() =>
            {
                var siblingsHost = Lineage.CreateManager(hostId);
                siblingsHost.Start(1);
                return siblingsHost;
            }),
            "a sibling flow that starts a host");
        try
        {
            // The sibling attached its host to its own node: this flow does not see it.
            var borrower = Lineage.CreateManager(TestIds.New("borrower"));
            Assert.Throws<ManagerNotFoundException>(() => borrower.Start(new ThreadPoolManagerOptions { WorkersFrom = hostId }));

            // A child flow sees the host its parent attached.
            var host = Lineage.CreateManager(hostId);
            host.Start(1);
            var found = Bounded.Result(
                TestThreads.StartChild(() =>
                {
                    var childBorrower = Lineage.CreateManager(TestIds.New("child-borrower"));
                    childBorrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId });
                    return childBorrower.WorkersFrom;
                }),
                "a child flow that borrows");
            Assert.Same(host, found);
        }
        finally
        {
            sibling.Stop();
        }
    }

    [Fact]
    public void MaxWorkers_LimitsHowManyOfItsItemsRunAtOnce()
    {
        using var scope = Lineage.BeginScope("borrow-limit");
        StartHost("host", maxWorkers: 4, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 2);
        var tracker = new ConcurrencyTracker();

        var items = Enumerable.Range(0, 40).Select(_ => borrower.Submit(() => tracker.Run(static () => Thread.SpinWait(20_000)))).ToArray();
        Bounded.Wait(Task.WhenAll(items), "40 items");

        Assert.Equal(2, tracker.Max);
    }

    [Fact]
    public void MaxWorkersOne_IsAnEventLoop_ItemsRunOneByOneInOrder()
    {
        using var scope = Lineage.BeginScope("borrow-fifo");
        StartHost("host", maxWorkers: 4, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        var tracker = new ConcurrencyTracker();
        var order = new ConcurrentQueue<int>();

        var items = Enumerable.Range(0, 200).Select(i => borrower.Submit(() => tracker.Run(() => order.Enqueue(i)))).ToArray();
        Bounded.Wait(Task.WhenAll(items), "200 items");

        Assert.Equal(1, tracker.Max);
        Assert.Equal(Enumerable.Range(0, 200), order);
    }

    [Fact]
    public async Task AsyncWork_ResumesOnTheHostsThreadsWithinTheLimit()
    {
        using var scope = Lineage.BeginScope("borrow-async");
        StartHost("host", maxWorkers: 3, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        var tracker = new ConcurrencyTracker();
        var threads = new ConcurrentBag<string?>();

        var items = Enumerable.Range(0, 20).Select(_ => borrower.Submit(async () =>
        {
            for (var hop = 0; hop < 3; hop++)
            {
                tracker.Run(() => threads.Add(Thread.CurrentThread.Name));
                await Task.Yield();
            }
        })).ToArray();
        await Bounded.WaitAsync(Task.WhenAll(items), "async items");

        Assert.Equal(1, tracker.Max);
        Assert.All(threads, name => Assert.StartsWith(hostId + "-", name));
    }

    [Fact]
    public void PostGetSchedulerAndWaitForIdle_WorkOnABorrower()
    {
        using var scope = Lineage.BeginScope("borrow-post");
        StartHost("host", maxWorkers: 2, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 2);
        using var done = new CountdownEvent(3);

        borrower.Post(() => done.Signal());
        borrower.Post(static d => d.Signal(), done);
        _ = Task.Factory.StartNew(() => done.Signal(), CancellationToken.None, TaskCreationOptions.None, borrower.GetScheduler());
        Bounded.Wait(done, "posted and scheduled work");
        Bounded.Wait(borrower.WaitForIdleAsync(), "the borrower to be idle");

        var statistics = borrower.GetStatistics();
        Assert.Equal(0, statistics.QueuedItems);
        Assert.Equal(0, statistics.BusyWorkers);
        Assert.Equal(2, statistics.Completed);
    }

    [Fact]
    public void QueueCapacity_Reject_OnABorrower_ThrowsThreadPoolFull()
    {
        using var scope = Lineage.BeginScope("borrow-capacity");
        StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId, QueueCapacity = 1, QueueFullMode = QueueFullMode.Reject });
        using var gate = new Gate();

        var running = gate.HoldWorker(borrower);
        var queued = borrower.Submit(static () => { });

        Assert.Throws<ThreadPoolFullException>(() => { _ = borrower.Submit(static () => { }); });
        gate.Open();
        Bounded.Wait(Task.WhenAll(running, queued), "the accepted items");
        Assert.Equal(1, borrower.GetStatistics().Rejected);
    }

    [Fact]
    public void QueueFullModeWait_OnTheHostsOnlyThread_RunsInTheCallerInsteadOfWaitingForItself()
    {
        using var scope = Lineage.BeginScope("borrow-capacity-wait");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId, QueueCapacity = 1, QueueFullMode = QueueFullMode.Wait });

        // On the host's only thread: the first item fills the borrower's queue (its turn waits behind this very item),
        // so the second finds it full; room would only be made by this thread.
        var outcome = host.Submit(() =>
        {
            var queued = borrower.Submit(static () => Thread.CurrentThread.Name);
            var second = borrower.Submit(static () => Thread.CurrentThread.Name);
            return (second.IsCompleted, queued);
        });

        var (ranInCaller, queued) = Bounded.Result(outcome, "a full borrower on the host's only thread");
        Assert.True(ranInCaller, "the second submission should have run in the caller");
        Assert.StartsWith(hostId + "-", Bounded.Result(queued, "the queued item"));
    }

    [Fact]
    public void Statistics_CountTheBorrowersItems_AndTheHostsOwnSeparately()
    {
        using var scope = Lineage.BeginScope("borrow-statistics");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var gate = new Gate();

        var blocker = gate.HoldWorker(host);
        var queued = Enumerable.Range(0, 5).Select(_ => borrower.Submit(static () => { })).ToArray();

        // The borrower's turn waits in the host's queue; it is not one of the host's items.
        Assert.Equal(5, borrower.GetStatistics().QueuedItems);
        Assert.Equal(0, host.GetStatistics().QueuedItems);
        gate.Open();
        Bounded.Wait(Task.WhenAll(queued.Append(blocker)), "all items");
        Bounded.Wait(borrower.WaitForIdleAsync(), "the borrower to be idle");

        Assert.Equal(5, borrower.GetStatistics().Completed);
        Assert.Equal(1, host.GetStatistics().Completed);
        Assert.Equal(0, borrower.GetStatistics().Workers);
    }

    [Fact]
    public void FlowExecutionContextOff_WorkSeesTheBorrowersOwnLineage()
    {
        using var scope = Lineage.BeginScope("borrow-flow-off");
        var hostId = TestIds.New("host");
        var host = Lineage.Root.GetOrCreateManager(hostId);
        host.Start(1);
        try
        {
            var borrower = Lineage.CreateManager(TestIds.New("borrower"));
            borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId, FlowExecutionContext = false });
            s_ambient.Value = "caller";

            var (node, ambient) = Bounded.Result(borrower.Submit(static () => (Lineage.Current, s_ambient.Value)), "a flow-off item");
            using var posted = new Gate();
            LineageNode? postedNode = null;
            borrower.Post(() =>
            {
                postedNode = Lineage.Current;
                posted.Open();
            });
            posted.Wait("the posted item");

            Assert.Same(borrower.Owner, node);
            Assert.Null(ambient);
            Assert.Same(borrower.Owner, postedNode);
        }
        finally
        {
            host.Dispose();
        }
    }

    [Fact]
    public void Fairness_AFloodIntoOneBorrower_DoesNotStarveAnotherOrTheHost()
    {
        using var scope = Lineage.BeginScope("borrow-fairness");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var flooded = StartBorrower("flooded", hostId, maxWorkers: 1);
        var idle = StartBorrower("idle", hostId, maxWorkers: 1);
        var order = new ConcurrentQueue<string>();
        using var gate = new Gate();

        // The first flooded item holds the only host thread while everything else is queued.
        var flood = new List<Task> { flooded.Submit(() => gate.Wait("the gate")) };
        for (var i = 0; i < 1_000; i++)
        {
            flood.Add(flooded.Submit(() => order.Enqueue("flood")));
        }

        var fromIdle = idle.Submit(() => order.Enqueue("idle"));
        var fromHost = host.Submit(() => order.Enqueue("host"));
        gate.Open();
        Bounded.Wait(Task.WhenAll(flood.Append(fromIdle).Append(fromHost)), "all items");

        var ran = order.ToList();
        // "Within a few items": a turn of the flooded borrower may finish before the idle one's turn comes up.
        const int bound = 16;
        Assert.True(ran.IndexOf("idle") < bound, $"the idle borrower's item ran after {ran.IndexOf("idle")} flood items (bound {bound}).");
        Assert.True(ran.IndexOf("host") < bound, $"the host's own item ran after {ran.IndexOf("host")} flood items (bound {bound}).");
    }

    [Fact]
    public void Nesting_ABorrowerOfABorrower_RunsOnlyWhenEveryLevelHasRoom()
    {
        using var scope = Lineage.BeginScope("borrow-nesting");
        StartHost("host", maxWorkers: 4, out var hostId);
        var tenantId = TestIds.New("tenant");
        var tenant = Lineage.CreateManager(tenantId);
        tenant.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, WorkersFrom = hostId });
        var request = StartBorrower("request", tenantId, maxWorkers: 4);
        var tenantLevel = new ConcurrencyTracker();
        var requestLevel = new ConcurrencyTracker();

        var items = new List<Task>();
        for (var i = 0; i < 30; i++)
        {
            items.Add(request.Submit(() => requestLevel.Run(() => tenantLevel.Run(static () => Thread.SpinWait(20_000)))));
            items.Add(tenant.Submit(() => tenantLevel.Run(static () => Thread.SpinWait(20_000))));
        }

        Bounded.Wait(Task.WhenAll(items), "the tenant's and the request's items");

        Assert.Same(tenant, request.WorkersFrom);
        Assert.True(tenantLevel.Max <= 2, $"{tenantLevel.Max} items of the tenant and its borrower ran at once (limit 2).");
        Assert.True(requestLevel.Max <= 2, $"{requestLevel.Max} items of the request ran at once (its tenant's limit is 2).");
    }

    [Fact]
    public void NestedWait_AcrossBorrowersOfOneHost_RunsTheItemInline()
    {
        using var scope = Lineage.BeginScope("borrow-nested-wait");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var first = StartBorrower("first", hostId, maxWorkers: 1);
        var second = StartBorrower("second", hostId, maxWorkers: 1);

        // The only host thread blocks on items of a sibling borrower, of the host, and of its own borrower.
        var result = first.Submit(() =>
            second.Submit(() => host.Submit(() => first.Submit(static () => 7).Result).Result).Result);

        Assert.Equal(7, Bounded.Result(result, "nested waits on one host thread"));
    }

    /// <summary>
    /// A host thread blocked on an item of a borrower of that host runs it, also when the thread belongs to the host's
    /// previous run (stopped with <c>wait: false</c>, still draining because this very item runs on it) and the item to
    /// the borrower's new run on the host's new run, which waits for the previous run to drain: otherwise nobody could
    /// ever run the item. The same holds for a submission waiting for room in the new run's full queue: it runs in the
    /// caller. Found by the chaos run's borrowed iterations.
    /// </summary>
    [Theory]
    [InlineData("nested wait")]
    [InlineData("wait for room")]
    public void NestedWait_FromAThreadOfTheHostsPreviousRun_OnTheBorrowersNewRun_Completes(string variant)
    {
        var scope = Lineage.BeginScope("borrow-nested-wait-across-runs");
        var hostId = TestIds.New("host");
        var host = Lineage.CreateManager(hostId);
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, IsBackground = true });
        var borrower = Lineage.CreateManager(TestIds.New("borrower"));
        var options = new ThreadPoolManagerOptions
        {
            MaxWorkers = 1,
            WorkersFrom = hostId,
            QueueCapacity = variant == "wait for room" ? 1 : null,
            QueueFullMode = QueueFullMode.Wait,
        };
        borrower.Start(options);

        using var entered = new Gate();
        using var release = new Gate();
        var outer = borrower.Submit(() =>
        {
            entered.Open();
            release.Wait("the test's restarts");
            if (variant == "wait for room")
            {
                // The new run's only queue slot is taken: the next submission waits for room (QueueFullMode.Wait).
                _ = borrower.Submit(static () => 0);
            }

            return borrower.Submit(static () => 1).Result + 1;
        });
        entered.Wait("the outer item to start on the host's worker");

        host.Stop(wait: false);      // stops the borrower too; the outer item still runs on the host's (previous run's) worker
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, IsBackground = true });
        borrower.Start(options);     // the borrower's new run, on the host's new run
        release.Open();

        var completed = outer.Wait(TimeSpan.FromSeconds(10));
        if (completed)
        {
            scope.Dispose();
        }

        // Otherwise the host's previous worker stays blocked for good (a background thread): disposing the scope would wait for it.
        Assert.True(completed, $"The outer item never completed ({variant}): host {host.GetStatistics()}, borrower {borrower.GetStatistics()}.");
        Assert.Equal(2, outer.Result);
    }

    [Fact]
    public void HostStop_StopsItsBorrowers_AndWaitsForWhatTheyAccepted()
    {
        using var scope = Lineage.BeginScope("borrow-host-stop");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var gate = new Gate();
        var running = borrower.Submit(() => gate.Wait("the gate"));
        var queued = Enumerable.Range(0, 10).Select(i => borrower.Submit(() => i)).ToArray();

        host.Stop(wait: false);

        Assert.False(host.IsRunning);
        Assert.False(borrower.IsRunning);
        var refused = Assert.Throws<InvalidOperationException>(() => { _ = borrower.Submit(static () => { }); });
        Assert.Contains(hostId, refused.Message);
        gate.Open();
        Bounded.Stop(host);
        Assert.All(queued, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
        Assert.Equal(0, host.GetStatistics().Workers);
        Assert.Equal(11, borrower.GetStatistics().Completed);
    }

    [Fact]
    public void HostStop_WithCancelPending_CancelsTheBorrowersQueuedItems()
    {
        using var scope = Lineage.BeginScope("borrow-host-cancel");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var gate = new Gate();
        var running = gate.HoldWorker(borrower);
        var queued = Enumerable.Range(0, 10).Select(i => borrower.Submit(() => i)).ToArray();

        host.Stop(wait: false, cancelPending: true);
        gate.Open();
        Bounded.Stop(host);

        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
        Assert.All(queued, static t => Assert.Equal(TaskStatus.Canceled, t.Status));
        Assert.Equal(10, borrower.GetStatistics().Canceled);
    }

    [Fact]
    public void Restart_ABorrowerOfAStoppedHost_NeedsTheHostRunningAgain()
    {
        using var scope = Lineage.BeginScope("borrow-restart");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        host.Stop();

        Assert.Throws<InvalidOperationException>(() => borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId }));
        host.Start(1);
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId });
        Assert.Equal(3, Bounded.Result(borrower.Submit(static () => 3), "an item after the restart"));
    }

    [Fact]
    public void Restart_WhileThePreviousRunDrains_KeepsTheLimitAndFifoAcrossBothRuns()
    {
        using var scope = Lineage.BeginScope("borrow-restart-draining");
        StartHost("host", maxWorkers: 3, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        var tracker = new ConcurrencyTracker();
        var order = new ConcurrentQueue<int>();
        using var gate = new Gate();

        var old = new List<Task> { borrower.Submit(() => tracker.Run(() => gate.Wait("the gate"))) };
        old.AddRange(Enumerable.Range(1, 5).Select(i => borrower.Submit(() => tracker.Run(() => order.Enqueue(i)))));
        Bounded.Until(() => borrower.GetStatistics().BusyWorkers == 1, "the first item runs");
        borrower.Stop(wait: false);
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId });
        using var newItemStarted = new ManualResetEventSlim();
        var restarted = Enumerable.Range(100, 5).Select(i => borrower.Submit(() =>
        {
            newItemStarted.Set();
            tracker.Run(() => order.Enqueue(i));
        })).ToArray();

        // A wrongly eager new run would start an item here; a correct one lets this wait run out.
        newItemStarted.Wait(TimeSpan.FromMilliseconds(200));
        gate.Open();
        Bounded.Wait(Task.WhenAll(old.Concat(restarted)), "both runs' items");

        Assert.Equal(1, tracker.Max);
        Assert.Equal([1, 2, 3, 4, 5, 100, 101, 102, 103, 104], order);
    }

    [Fact]
    public void Stop_ABorrower_LeavesTheHostRunning_AndWaitsOnlyForItsOwnItems()
    {
        using var scope = Lineage.BeginScope("borrow-stop");
        var host = StartHost("host", maxWorkers: 2, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var hostGate = new Gate();
        var hostItem = host.Submit(() => hostGate.Wait("the host's gate"));
        var items = Enumerable.Range(0, 20).Select(i => borrower.Submit(() => i)).ToArray();

        Bounded.Stop(borrower);

        Assert.All(items, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.False(hostItem.IsCompleted);
        Assert.True(host.IsRunning);
        hostGate.Open();
        Bounded.Wait(hostItem, "the host's item");
    }

    [Fact]
    public void ScopeDispose_StopsTheBorrowersInside_AndLeavesTheHostRunning()
    {
        using var outer = Lineage.BeginScope("borrow-scope-outer");
        var host = StartHost("host", maxWorkers: 2, out var hostId);
        ThreadPoolManager borrower;
        Task<int>[] items;
        using (Lineage.BeginScope("request"))
        {
            borrower = StartBorrower("request-pool", hostId, maxWorkers: 2);
            items = Enumerable.Range(0, 20).Select(i => borrower.Submit(() => i)).ToArray();
        }

        Assert.False(borrower.IsRunning);
        Assert.All(items, static t => Assert.Equal(TaskStatus.RanToCompletion, t.Status));
        Assert.True(host.IsRunning);
    }

    [Fact]
    public void Stop_FromTheBorrowersOwnItem_DoesNotDeadlock()
    {
        using var scope = Lineage.BeginScope("borrow-own-stop");
        StartHost("host", maxWorkers: 2, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 2);

        var stopper = borrower.Submit(() => borrower.Stop(wait: true));

        Bounded.Wait(stopper, "a stop called from the borrower's own item");
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void Stop_OfABorrower_FromTheOnlyHostThread_RunsItsQueuedItemsInsteadOfDeadlocking()
    {
        using var scope = Lineage.BeginScope("borrow-stop-from-host");
        var host = StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var gate = new Gate();
        Task<int>[] items = [];

        // The host's only thread queues work on the borrower, then stops it and waits: the borrower's turn is queued
        // behind the very item that waits.
        var stopper = host.Submit(() =>
        {
            items = Enumerable.Range(0, 10).Select(i => borrower.Submit(() => i)).ToArray();
            borrower.Stop(wait: true);
            return items.All(static t => t.IsCompletedSuccessfully);
        });

        Assert.True(Bounded.Result(stopper, "a borrower's stop on the host's only thread"), "the stop returned before the borrower's items ran");
        Assert.False(borrower.IsRunning);
    }

    [Fact]
    public void ElasticHost_GrowsForTheBorrowersQueuedWork()
    {
        using var scope = Lineage.BeginScope("borrow-elastic");
        var hostId = TestIds.New("host");
        var host = Lineage.CreateManager(hostId);
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 3, MinWorkers = 1 });
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 3);
        using var allRunning = new CountdownEvent(3);
        using var gate = new Gate();

        var items = Enumerable.Range(0, 3).Select(_ => borrower.Submit(() =>
        {
            allRunning.Signal();
            gate.Wait("the gate");
        })).ToArray();

        Bounded.Wait(allRunning, "three borrowed items at once");
        Assert.Equal(3, host.GetStatistics().Workers);
        gate.Open();
        Bounded.Wait(Task.WhenAll(items), "the items");
    }

    [Fact]
    public void SetMaxWorkers_OnABorrower_ChangesItsLimit()
    {
        using var scope = Lineage.BeginScope("borrow-resize");
        StartHost("host", maxWorkers: 4, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 1);
        using var gate = new Gate();
        using var started = new CountdownEvent(3);

        var items = Enumerable.Range(0, 3).Select(_ => borrower.Submit(() =>
        {
            started.Signal();
            gate.Wait("the gate");
        })).ToArray();
        Bounded.Until(() => started.CurrentCount == 2, "one item runs");
        borrower.SetMaxWorkers(3);

        Bounded.Wait(started, "three items at once after growing");
        Assert.Equal(3, borrower.MaxWorkers);
        gate.Open();
        Bounded.Wait(Task.WhenAll(items), "the items");
    }

    [Fact]
    public void Describe_ShowsWhereABorrowerBorrowsFrom()
    {
        using var scope = Lineage.BeginScope("borrow-describe");
        StartHost("host", maxWorkers: 1, out var hostId);
        var borrower = StartBorrower("borrower", hostId, maxWorkers: 2);

        Assert.Contains($"{borrower.Id}: running, up to 2 borrowed from '{hostId}'", Lineage.Describe());
        Assert.Contains($"borrowed from '{hostId}'", borrower.ToString());
    }

    [Fact]
    public void NothingIsLost_WhenBorrowersAndTheirHostStopAndRestartUnderLoad()
    {
        var random = new Random(20261206);
        for (var round = 0; round < 30; round++)
        {
            using var scope = Lineage.BeginScope($"borrow-chaos-{round}");
            var host = StartHost("host", maxWorkers: 2, out var hostId);
            var borrowers = Enumerable.Range(0, 3).Select(i => StartBorrower($"b{i}", hostId, maxWorkers: 1 + (i % 2))).ToArray();
            var tasks = new ConcurrentQueue<Task>();
            var producers = Enumerable.Range(0, 2).Select(p => Bounded.OnLongRunningThread(() =>
            {
                for (var i = 0; i < 300; i++)
                {
                    var target = borrowers[(i + p) % borrowers.Length];
                    try
                    {
                        tasks.Enqueue(i % 3 == 0
                            ? target.Submit(async () => await Task.Yield())
                            : target.Submit(static () => Thread.SpinWait(100)));
                    }
                    catch (InvalidOperationException)
                    {
                        // Refused: the borrower or its host was stopping. Nothing was queued.
                    }
                }
            })).ToArray();

            switch (random.Next(3))
            {
                case 0:
                    host.Stop(wait: false, cancelPending: random.Next(2) == 0);
                    break;
                case 1:
                    borrowers[random.Next(borrowers.Length)].Stop(wait: false);
                    break;
                default:
                    break;
            }

            Bounded.Wait(Task.WhenAll(producers), "the producers");
            Bounded.Stop(host);
            foreach (var task in tasks)
            {
                Bounded.WaitFinal(task, $"round {round}: every accepted item reaches a final state");
            }
        }
    }

    private static readonly AsyncLocal<string?> s_ambient = new();

    private static ThreadPoolManager StartHost(string prefix, int maxWorkers, out string hostId)
    {
        hostId = TestIds.New(prefix);
        var host = Lineage.CreateManager(hostId);
        host.Start(maxWorkers);
        return host;
    }

    private static ThreadPoolManager StartBorrower(string prefix, string hostId, int maxWorkers)
    {
        var borrower = Lineage.CreateManager(TestIds.New(prefix));
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = maxWorkers, WorkersFrom = hostId });
        return borrower;
    }
}
