using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace ThreadLineage.Tests.Pools;

/// <content>
/// Submission: the four overloads, FIFO order, task-type protection, async work, nested waits, and exceptions
/// (docs/pools.md, "Submitting work", "Task-type protection", "Async work and the event loop", "Nested waits",
/// "Exceptions and logging").
/// </content>
public partial class ThreadPoolManagerTests
{
    // Precomposed "é": a culture-aware comparison would equal the decomposed "e\u0301" below; ordinal does not.
    private const string ProtectedType = "caf\u00e9";

    /// <summary>The three ways to block on a task that docs/pools.md ("Nested waits") names as run inline.</summary>
    public enum BlockingWait
    {
        Wait,
        Result,
        GetAwaiterGetResult,
    }

    [Fact]
    public void Submit_Action_RunsWorkOnPoolWorker()
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-action"));
        manager.Start(2);
        string? name = null;

        Bounded.Wait(manager.Submit(() => name = Thread.CurrentThread.Name), "work");

        Assert.StartsWith(manager.Id + "-", name, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_FuncOfT_ReturnsResult()
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-func"));
        manager.Start(2);

        Assert.Equal(42, Bounded.Result(manager.Submit(() => 42), "work"));
    }

    [Fact]
    public void Submit_FuncOfTask_CompletesWhenAsyncWorkDoes()
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-async"));
        manager.Start(2);
        var done = false;

        Bounded.Wait(
            manager.Submit(async () =>
            {
                await Task.Yield();
                done = true;
            }),
            "async work");

        Assert.True(done);
    }

    [Fact]
    public void Submit_FuncOfTaskOfT_ReturnsAsyncResult()
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-async-result"));
        manager.Start(2);

        var result = Bounded.Result(
            manager.Submit(async () =>
            {
                await Task.Yield();
                return "async result";
            }),
            "async work");

        Assert.Equal("async result", result);
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_NotRunning_ThrowsInvalidOperationExceptionWithStartHint(SubmitKind kind)
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-not-running"));
        var ran = false;

        var beforeStart = ThrowsSync<InvalidOperationException>(() => SubmitAny(manager, kind, () => ran = true));
        manager.Start(1);
        Bounded.Stop(manager);
        var afterStop = ThrowsSync<InvalidOperationException>(() => SubmitAny(manager, kind, () => ran = true));

        foreach (var exception in new[] { beforeStart, afterStop })
        {
            Assert.Contains("is not running. Call Start() first.", exception.Message, StringComparison.Ordinal);
            Assert.Contains(manager.Id, exception.Message, StringComparison.Ordinal);
        }

        Assert.False(ran);
    }

    [Fact]
    public void Submit_NullWork_ThrowsArgumentNullException()
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-null"));
        manager.Start(1);

        Assert.Equal("work", ThrowsSync<ArgumentNullException>(() => manager.Submit((Action)null!)).ParamName);
        Assert.Equal("work", ThrowsSync<ArgumentNullException>(() => manager.Submit((Func<int>)null!)).ParamName);
        Assert.Equal("work", ThrowsSync<ArgumentNullException>(() => manager.Submit((Func<Task>)null!)).ParamName);
        Assert.Equal("work", ThrowsSync<ArgumentNullException>(() => manager.Submit((Func<Task<int>>)null!)).ParamName);
        Bounded.Stop(manager);
        Assert.Equal(0, manager.GetStatistics().Completed);
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_WorkThrows_TaskFaultedWithOriginalException(SubmitKind kind)
    {
        using var manager = new ThreadPoolManager(TestIds.New("submit-throws"));
        manager.Start(1);
        var failure = new InvalidOperationException("planned failure");

        var task = SubmitAny(manager, kind, () => throw failure);
        Bounded.WaitFinal(task, "the faulting work");

        Assert.Equal(TaskStatus.Faulted, task.Status);
        Assert.Same(failure, Assert.Single(task.Exception!.InnerExceptions));
    }

    [Fact]
    public void Submit_OneWorker_Runs1000ItemsInSubmissionOrder()
    {
        using var manager = new ThreadPoolManager(TestIds.New("fifo"));
        manager.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var order = new ConcurrentQueue<int>();
        var tasks = new Task[1000];

        for (var i = 0; i < tasks.Length; i++)
        {
            var n = i;
            tasks[i] = manager.Submit(() => order.Enqueue(n));
        }

        gate.Open();
        Bounded.Wait(Task.WhenAll([blocker, .. tasks]), "1000 queued items");

        Assert.Equal(Enumerable.Range(0, tasks.Length), order);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("tea")]
    [InlineData("CAF\u00c9")]
    [InlineData("cafe\u0301")]
    [InlineData("caf\u00e9 ")]
    public void Submit_ProtectedPoolMismatchedType_ThrowsUnknownTaskTypeExceptionSynchronously(string? taskType)
    {
        using var manager = new ThreadPoolManager(TestIds.New("protected"));
        manager.Start(1, taskType: ProtectedType);
        var ran = false;

        var exception = ThrowsSync<UnknownTaskTypeException>(() => manager.Submit(() => ran = true, taskType));

        Assert.Equal(taskType, exception.TaskType);
        Assert.Equal(ProtectedType, exception.PoolTaskType);
        Assert.Equal(ProtectedType, manager.TaskType);
        Assert.Contains(manager.Id, exception.Message, StringComparison.Ordinal);
        Assert.Contains(ProtectedType, exception.Message, StringComparison.Ordinal);
        // How to fix it: name the parameter to pass, with the value the pool accepts.
        Assert.Contains("taskType", exception.Message, StringComparison.Ordinal);
        Bounded.Stop(manager);
        Assert.False(ran);
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_ProtectedPoolMismatchedType_NothingQueuedAndOnlyRejectedCounted(SubmitKind kind)
    {
        using var manager = new ThreadPoolManager(TestIds.New("protected-nothing-queued"));
        manager.Start(1, taskType: ProtectedType);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager, ProtectedType);
        var queued = manager.Submit(() => { }, ProtectedType);
        var before = manager.GetStatistics();
        var ran = false;

        ThrowsSync<UnknownTaskTypeException>(() => SubmitAny(manager, kind, () => ran = true, taskType: null));
        ThrowsSync<UnknownTaskTypeException>(() => SubmitAny(manager, kind, () => ran = true, taskType: "other"));

        Assert.Equal(before with { Rejected = before.Rejected + 2 }, manager.GetStatistics());
        gate.Open();
        Bounded.Wait(Task.WhenAll(blocker, queued), "the admitted work");
        Bounded.Stop(manager);
        Assert.False(ran);
        Assert.Equal(2, manager.GetStatistics().Completed);
    }

    [Theory]
    [MemberData(nameof(AllSubmitKinds))]
    public void Submit_ProtectedPoolMatchingType_RunsWork(SubmitKind kind)
    {
        using var manager = new ThreadPoolManager(TestIds.New("protected-match"));
        manager.Start(1, taskType: ProtectedType);
        var ran = false;

        // An equal but distinct string instance: the comparison is by value (ordinal), not by reference.
        Bounded.Wait(SubmitAny(manager, kind, () => ran = true, taskType: new string(ProtectedType.ToCharArray())), "admitted work");

        Assert.True(ran);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("anything")]
    public void Submit_UnprotectedPool_AcceptsAnyTaskType(string? taskType)
    {
        using var manager = new ThreadPoolManager(TestIds.New("unprotected"));
        manager.Start(1);

        Assert.Null(manager.TaskType);
        Assert.Equal(3, Bounded.Result(manager.Submit(() => 3, taskType), "work"));
        var scheduler = manager.GetScheduler(taskType);
        Bounded.Wait(Task.Factory.StartNew(() => { }, CancellationToken.None, TaskCreationOptions.None, scheduler), "scheduler work");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("tea")]
    public void GetScheduler_ProtectedPoolMismatchedType_ThrowsUnknownTaskTypeException(string? taskType)
    {
        using var manager = new ThreadPoolManager(TestIds.New("scheduler-mismatch"));
        manager.Start(1, taskType: ProtectedType);

        var exception = Assert.Throws<UnknownTaskTypeException>(() => manager.GetScheduler(taskType));

        Assert.Equal(taskType, exception.TaskType);
        Assert.Equal(ProtectedType, exception.PoolTaskType);
    }

    [Fact]
    public void GetScheduler_NotRunning_ThrowsInvalidOperationException()
    {
        using var manager = new ThreadPoolManager(TestIds.New("scheduler-not-running"));

        Assert.Throws<InvalidOperationException>(() => manager.GetScheduler());
    }

    [Fact]
    public void GetScheduler_MatchingType_RunsTasksAndTheirContinuationsOnWorkersWithoutCheckingAgain()
    {
        using var manager = new ThreadPoolManager(TestIds.New("scheduler"));
        manager.Start(2, taskType: ProtectedType);

        var scheduler = manager.GetScheduler(ProtectedType);
        var names = Task.Factory.StartNew(ThreadsSeenByTaskOnCurrentScheduler, CancellationToken.None, TaskCreationOptions.None, scheduler).Unwrap();

        Assert.All(Bounded.Result(names, "scheduler work"), thread =>
        {
            Assert.StartsWith(manager.Id + "-", thread.Name, StringComparison.Ordinal);
            Assert.False(thread.IsThreadPoolThread);
        });
    }

    /// <summary>Records the thread it starts on, the thread of a child task it starts, and the thread it resumes on.</summary>
    private static async Task<Thread[]> ThreadsSeenByTaskOnCurrentScheduler()
    {
        var first = Thread.CurrentThread;
        // Tasks started from admitted work inherit the scheduler: part of that work, not checked again.
        var child = await Task.Factory.StartNew(() => Thread.CurrentThread, CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Current);
        await Task.Yield();
        return [first, child, Thread.CurrentThread];
    }

    [Fact]
    public void Submit_AsyncWork_StartsOnWorkerResumesOnPoolWorkersAndCompletesWithIt()
    {
        using var manager = new ThreadPoolManager(TestIds.New("async-resume"));
        manager.Start(2);
        var outside = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var started = new Gate();

        var task = manager.Submit(async () =>
        {
            var first = Thread.CurrentThread;
            started.Open();
            var value = await outside.Task;
            var resumed = Thread.CurrentThread;
            await Task.Yield();
            return (Value: value, Threads: new[] { first, resumed, Thread.CurrentThread });
        });
        started.Wait("the async work to start");
        // Started and no worker busy: the work is suspended in its await.
        Bounded.Until(() => manager.GetStatistics().BusyWorkers == 0, "the async work to suspend");

        Assert.False(task.IsCompleted);
        outside.SetResult(5);
        var seen = Bounded.Result(task, "the async work");

        Assert.Equal(5, seen.Value);
        Assert.All(seen.Threads, thread =>
        {
            Assert.StartsWith(manager.Id + "-", thread.Name, StringComparison.Ordinal);
            Assert.False(thread.IsThreadPoolThread);
        });
    }

    [Fact]
    public void Submit_OneWorkerPool_ActsAsEventLoopThatSyncCodeCanBlockOn()
    {
        using var manager = new ThreadPoolManager(TestIds.New("event-loop"));
        manager.Start(1);
        var steps = new ConcurrentQueue<string>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var first = manager.Submit(async () =>
        {
            steps.Enqueue("first: before await");
            await ready.Task;
            steps.Enqueue("first: after await");
            return Thread.CurrentThread;
        });
        var second = manager.Submit(() =>
        {
            steps.Enqueue("second: completes the event");
            ready.SetResult();
            steps.Enqueue("second: done");
            return Thread.CurrentThread;
        });

        // Plain synchronous code blocks on the loop's result.
        var firstThread = Bounded.Result(first, "the first coroutine");
        var secondThread = Bounded.Result(second, "the second item");

        Assert.Equal(["first: before await", "second: completes the event", "second: done", "first: after await"], steps);
        Assert.Same(firstThread, secondThread);
        Assert.Equal(manager.Id + "-1", firstThread.Name);
    }

    [Fact]
    public void Submit_AsyncWorkWithConfigureAwaitFalse_LeavesThePool()
    {
        using var manager = new ThreadPoolManager(TestIds.New("configure-await-false"));
        manager.Start(1);
        var outside = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var started = new Gate();

        var task = manager.Submit(async () =>
        {
            var first = Thread.CurrentThread;
            started.Open();
            await outside.Task.ConfigureAwait(false);
            return (First: first, Resumed: Thread.CurrentThread);
        });
        started.Wait("the async work to start");
        Bounded.Until(() => manager.GetStatistics().BusyWorkers == 0, "the async work to suspend");
        outside.SetResult();
        var seen = Bounded.Result(task, "the async work");

        Assert.StartsWith(manager.Id + "-", seen.First.Name, StringComparison.Ordinal);
        Assert.NotSame(seen.First, seen.Resumed);
        Assert.True(seen.Resumed.IsThreadPoolThread);
    }

    [Theory]
    [InlineData(1, BlockingWait.Wait)]
    [InlineData(1, BlockingWait.Result)]
    [InlineData(1, BlockingWait.GetAwaiterGetResult)]
    [InlineData(2, BlockingWait.Wait)]
    [InlineData(2, BlockingWait.Result)]
    [InlineData(2, BlockingWait.GetAwaiterGetResult)]
    public void Submit_NestedWaitOnSaturatedPool_Completes(int workers, BlockingWait how)
    {
        var manager = new ThreadPoolManager(TestIds.New("nested-wait"));
        // Background, and stopped without waiting: if the deadlock this guards against happens, the test fails
        // instead of hanging the test host.
        manager.Start(workers, isBackground: true);
        try
        {
            using var saturated = new Barrier(workers);
            var outers = Enumerable.Range(1, workers).Select(n => manager.Submit(() =>
            {
                // Every worker is inside an outer item before any of them submits: the pool is saturated.
                if (!saturated.SignalAndWait(Bounded.Timeout))
                {
                    throw new TimeoutException("The workers never all ran outer items.");
                }

                var inner = manager.Submit(() => n * 10);
                switch (how)
                {
                    case BlockingWait.Wait:
                        inner.Wait();
                        return inner.Result;
                    case BlockingWait.Result:
                        return inner.Result;
                    default:
                        return inner.GetAwaiter().GetResult();
                }
            })).ToArray();

            var results = Bounded.Result(Task.WhenAll(outers), "outer items blocked in nested waits");

            Assert.Equal(Enumerable.Range(1, workers).Select(n => n * 10), results);
        }
        finally
        {
            manager.Stop(wait: false);
        }
    }

    [Theory]
    [InlineData("Wait(Timeout.Infinite)")]
    [InlineData("Wait(Timeout.InfiniteTimeSpan)")]
    [InlineData("Wait(CancellationToken.None)")]
    public void Submit_NestedUntimedNonCancelableWaitOnTheOnlyWorker_RunsTheItemInline(string how)
    {
        var manager = new ThreadPoolManager(TestIds.New("nested-untimed"));
        manager.Start(1, isBackground: true);
        try
        {
            var outer = manager.Submit(() =>
            {
                var inner = manager.Submit(static () => Thread.CurrentThread);
                _ = how switch
                {
                    "Wait(Timeout.Infinite)" => inner.Wait(Timeout.Infinite),
                    "Wait(Timeout.InfiniteTimeSpan)" => inner.Wait(Timeout.InfiniteTimeSpan),
                    _ => Wait(inner, CancellationToken.None),
                };
                return inner.Result == Thread.CurrentThread;
            });

            Assert.True(Bounded.Result(outer, "a nested untimed wait"), "the inner item ran inline on the waiting worker");
        }
        finally
        {
            manager.Stop(wait: false);
        }

        static bool Wait(Task task, CancellationToken token)
        {
            task.Wait(token);
            return true;
        }
    }

    [Theory]
    [InlineData("timed")]
    [InlineData("cancelable")]
    public void Submit_NestedTimedOrCancelableWaitOnTheOnlyWorker_DoesNotRunTheItemInline(string how)
    {
        using var manager = new ThreadPoolManager(TestIds.New("nested-timed"));
        manager.Start(1);
        Task<Thread>? inner = null;

        // The only worker waits; a wait the runtime does not inline cannot be served, so it ends without the item.
        // (The short limits are not synchronisation: nothing can run the item while the worker waits.)
        var outer = manager.Submit(() =>
        {
            inner = manager.Submit(static () => Thread.CurrentThread);
            if (how == "timed")
            {
                return inner.Wait(TimeSpan.FromMilliseconds(50)) ? "ran" : "timed out";
            }

            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(50));
            try
            {
                inner.Wait(cancel.Token);
                return "ran";
            }
            catch (OperationCanceledException)
            {
                return "canceled";
            }
        });

        Assert.Equal(how == "timed" ? "timed out" : "canceled", Bounded.Result(outer, "the outer item"));

        // The worker runs the inner item afterwards, from the queue.
        Assert.StartsWith(manager.Id + "-", Bounded.Result(inner!, "the inner item").Name, StringComparison.Ordinal);
    }

    [Fact]
    public void Submit_WorkerOfAnUnrelatedPoolWaitingOnAQueuedItem_WaitsInsteadOfRunningItInline()
    {
        using var busy = new ThreadPoolManager(TestIds.New("nested-unrelated-busy"));
        busy.Start(1);
        using var other = new ThreadPoolManager(TestIds.New("nested-unrelated-other"));
        other.Start(1);
        using var gate = new Gate();
        var blocker = gate.HoldWorker(busy);
        var queued = busy.Submit(static () => Thread.CurrentThread.Name);

        // A worker of another pool blocks on the queued item with an untimed wait: it does not run it, it waits.
        var waiter = other.Submit(() => queued.Result);
        Assert.False(waiter.Wait(TimeSpan.FromMilliseconds(50)), "the other pool's worker must not run the item");
        gate.Open();

        Assert.StartsWith(busy.Id + "-", Bounded.Result(waiter, "the waiting item"), StringComparison.Ordinal);
        Bounded.Wait(blocker, "the blocker");
    }

    [Fact]
    public void LogExceptions_AsyncWorkThrowsAfterAwait_LoggedOnce()
    {
        using var logger = new RecordingLogger();
        using var manager = new ThreadPoolManager(TestIds.New("log-async"));
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LoggerFactory = logger });
        var failure = new InvalidOperationException("planned");

        var faulted = manager.Submit(async () =>
        {
            await Task.Yield();
            throw failure;
        });
        Bounded.WaitFinal(faulted, "the faulting async work");
        Bounded.Stop(manager);

        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Same(failure, entry.Exception);
    }

    [Fact]
    public void LogExceptions_FaultRunInlineByNestedWait_LoggedAndCountedOnce()
    {
        using var logger = new RecordingLogger();
        var manager = new ThreadPoolManager(TestIds.New("log-inline"));
        // Background, stopped without waiting on failure: a nested-wait deadlock must fail the test, not hang it.
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LoggerFactory = logger, IsBackground = true });
        try
        {
            var failure = new InvalidOperationException("planned");
            Task? inner = null;
            var outer = manager.Submit(() =>
            {
                // The only worker waits on a queued item: it runs inline here, and is dequeued again later.
                inner = manager.Submit(Throw(failure));
                try
                {
                    inner.Wait();
                }
                catch (AggregateException)
                {
                }
            });
            Bounded.Wait(outer, "the outer item");
            Bounded.Stop(manager);

            Assert.True(inner!.IsFaulted);
            Assert.Same(failure, Assert.Single(logger.Entries).Exception);
            Assert.Equal(1, manager.GetStatistics().Faulted);
            Assert.Equal(1, manager.GetStatistics().Completed);
        }
        finally
        {
            manager.Stop(wait: false);
        }
    }
}
