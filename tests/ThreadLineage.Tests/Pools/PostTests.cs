using System.Collections.Concurrent;

namespace ThreadLineage.Tests.Pools;

/// <summary>Post: fire-and-forget submissions with the same admission rules as Submit.</summary>
public class PostTests
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    [Fact]
    public void Post_RunsOnWorker_InFifoOrder()
    {
        using var manager = new ThreadPoolManager("post-fifo");
        manager.Start(1);
        var seen = new ConcurrentQueue<int>();
        for (var i = 0; i < 500; i++)
        {
            manager.Post(static state => state.Seen.Enqueue(state.I), (Seen: seen, I: i));
        }

        Bounded.Wait(manager.WaitForIdleAsync(), "posted items");
        Assert.Equal(Enumerable.Range(0, 500), seen);
        Assert.Equal(500, manager.GetStatistics().Completed);
    }

    [Fact]
    public void Post_WithState_PassesState()
    {
        using var manager = new ThreadPoolManager("post-state");
        manager.Start(2);
        var done = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.Post(static s => s.SetResult(Thread.CurrentThread.Name!), done);
        Assert.StartsWith("post-state-", Bounded.Result(done.Task, "posted item"));
    }

    [Fact]
    public void Post_Fault_IsCountedAndLoggedAndWorkerSurvives()
    {
        var logs = new RecordingLogger();
        using var manager = new ThreadPoolManager("post-fault");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LoggerFactory = logs });
        manager.Post(() => throw new InvalidOperationException("boom"));
        Assert.Equal(5, Bounded.Result(manager.Submit(() => 5), "work after the fault"));
        manager.Stop();

        var statistics = manager.GetStatistics();
        Assert.Equal(1, statistics.Faulted);
        Assert.Equal(1, statistics.Completed);
        var entry = Assert.Single(logs.Entries);
        Assert.IsType<InvalidOperationException>(entry.Exception);
        Assert.Contains("post-fault", entry.Message);
    }

    /// <summary>
    /// A fault is logged with the task type the item was posted with: the pool's own, or, on a pool without one, whatever
    /// the caller passed — with no state, a reference-type state or a value-type state (each travels differently in the queue).
    /// </summary>
    [Theory]
    [InlineData(null, "audit", "none")]
    [InlineData(null, "audit", "reference")]
    [InlineData(null, "audit", "value")]
    [InlineData(null, null, "value")]
    [InlineData("render", "render", "none")]
    [InlineData("render", "render", "reference")]
    [InlineData("render", "render", "value")]
    public void Post_Fault_IsLoggedWithTheTaskTypeItWasPostedWith(string? poolTaskType, string? postedTaskType, string state)
    {
        var logs = new RecordingLogger();
        using var manager = new ThreadPoolManager(TestIds.New("post-task-type"));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = poolTaskType, LoggerFactory = logs });
        var received = new ConcurrentQueue<object>();
        switch (state)
        {
            case "none":
                manager.Post(() => throw new InvalidOperationException("boom"), postedTaskType);
                break;
            case "reference":
                manager.Post(
                    static s =>
                    {
                        s.Enqueue("reference");
                        throw new InvalidOperationException("boom");
                    },
                    received,
                    postedTaskType);
                break;
            default:
                manager.Post(
                    static s =>
                    {
                        s.Received.Enqueue(s.Value);
                        throw new InvalidOperationException("boom");
                    },
                    (Received: received, Value: 42),
                    postedTaskType);
                break;
        }

        manager.Stop();

        Assert.Equal(1, manager.GetStatistics().Faulted);
        var entry = Assert.Single(logs.Entries);
        Assert.Contains($"(task type: {postedTaskType ?? "none"})", entry.Message);
        Assert.Equal(state switch { "none" => [], "reference" => ["reference"], _ => new object[] { 42 } }, received);
    }

    [Fact]
    public void Post_AllocatesNothingPerItem_ExceptTheBoxOfAValueTypeState()
    {
        using var manager = new ThreadPoolManager(TestIds.New("post-allocations"));
        manager.Start(1);
        const int Items = 500;
        var reference = new object();

        // Measured on this thread while the worker is held, so only the posting path counts. A warm-up run grows the
        // queue to its size first: the queue's storage is amortized, not per item.
        long Measure(Action post)
        {
            using var gate = new Gate();
            using var started = new Gate();
            manager.Post(() =>
            {
                started.Open();
                gate.Wait("the gate");
            });
            started.Wait("the worker to be held");
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < Items; i++)
            {
                post();
            }

            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            gate.Open();
            Bounded.Wait(manager.WaitForIdleAsync(), "the posted items");
            return allocated;
        }

        Action postAction = () => manager.Post(static () => { });
        Action postReference = () => manager.Post(static _ => { }, reference);
        Action postValue = () => manager.Post(static _ => { }, 42);
        Measure(postAction);
        Measure(postReference);
        Measure(postValue);

        Assert.Equal(0, Measure(postAction));
        Assert.Equal(0, Measure(postReference));
        Assert.InRange(Measure(postValue), Items * IntPtr.Size, Items * 64);
    }

    [Fact]
    public void Post_AdmissionRules_SameAsSubmit()
    {
        using var manager = new ThreadPoolManager("post-rules");
        Assert.Throws<InvalidOperationException>(() => manager.Post(() => { }));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "render" });
        Assert.Throws<ArgumentNullException>(() => manager.Post(null!));
        Assert.Throws<ArgumentNullException>(() => manager.Post<int>(null!, 1));
        var error = Assert.Throws<UnknownTaskTypeException>(() => manager.Post(() => { }, "io"));
        Assert.Equal("render", error.PoolTaskType);
        Assert.Equal(2, manager.GetStatistics().Rejected);
        manager.Dispose();
        Assert.Throws<ObjectDisposedException>(() => manager.Post(() => { }, "render"));
    }

    [Fact]
    public void Post_FlowsContext_AndDoesNotLeakItToTheNextItem()
    {
        using var manager = new ThreadPoolManager("post-context");
        manager.Start(1);
        string? seen = null;
        string? leaked = "unset";
        s_ambient.Value = "submitter";
        manager.Post(() =>
        {
            seen = s_ambient.Value;
            s_ambient.Value = "changed-by-item";
        });
        s_ambient.Value = null;
        manager.Post(() => leaked = s_ambient.Value);
        Bounded.Wait(manager.WaitForIdleAsync(), "posted items");
        Assert.Equal("submitter", seen);
        Assert.Null(leaked);
    }

    [Fact]
    public void Post_CancelPending_DropsQueuedItemsAndCountsThemCanceled()
    {
        using var manager = new ThreadPoolManager("post-cancel");
        manager.Start(1);
        using var release = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        manager.Post(() => { started.Set(); release.Wait(Bounded.Timeout); });
        Bounded.Wait(started, "blocking item");
        var ran = 0;
        for (var i = 0; i < 10; i++)
        {
            manager.Post(() => Interlocked.Increment(ref ran));
        }

        manager.Stop(wait: false, cancelPending: true);
        release.Set();
        manager.Stop(wait: true);
        Assert.Equal(0, ran);
        Assert.Equal(10, manager.GetStatistics().Canceled);
    }
}
