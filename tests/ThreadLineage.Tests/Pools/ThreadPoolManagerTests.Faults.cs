using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using ThreadLineage.Tests.Robustness;

namespace ThreadLineage.Tests.Pools;

/// <content>
/// Faults, docs/pools.md, "Exceptions and logging": an exception never kills a worker; <c>OnWorkerStarted</c> failures,
/// and fault logging (<see cref="ThreadPoolManagerOptions.LogExceptions"/>).
/// </content>
public partial class ThreadPoolManagerTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 3)]
    [InlineData(3, 1)]
    public void Start_OnWorkerStartedThrows_FailsCleanly_NoThreadLeft_StartableAgain(int workers, int failing)
    {
        var logs = new RecordingLogger();
        var manager = NewTrackedManager("start-fault");
        var fail = true;
        var seen = 0;
        var thrown = new ConcurrentQueue<Exception>();
        manager.OnStart = () =>
        {
            // The last `failing` workers to start throw; the others succeed and must exit again.
            if (Volatile.Read(ref fail) && Interlocked.Increment(ref seen) > workers - failing)
            {
                var failure = new InvalidOperationException("worker init failed");
                thrown.Enqueue(failure);
                throw failure;
            }
        };

        var error = Assert.Throws<AggregateException>(() => manager.Start(new ThreadPoolManagerOptions { MaxWorkers = workers, LoggerFactory = logs }));

        // The very exceptions OnWorkerStarted threw, each once.
        Assert.Equal(failing, error.InnerExceptions.Count);
        Assert.Equal(failing, error.InnerExceptions.Distinct().Count());
        Assert.All(error.InnerExceptions, e => Assert.Contains(e, thrown));
        Assert.All(error.InnerExceptions, static e => Assert.Equal("worker init failed", e.Message));
        Assert.Contains(manager.Id, error.Message, StringComparison.Ordinal);
        Assert.Contains("Start again", error.Message, StringComparison.Ordinal);
        Assert.False(manager.IsRunning);
        Assert.Equal(0, manager.GetStatistics().Workers);
        Assert.Equal(workers, manager.StartedWorkers.Count);
        manager.AssertNoWorkerAlive("after Start failed");
        ThrowsSync<InvalidOperationException>(() => manager.Submit(() => { }));
        Assert.Equal(failing, logs.Entries.Count(static e => e.Level == LogLevel.Error && e.EventId.Name == "WorkerStartFailed"));

        Volatile.Write(ref fail, false);
        manager.Start(workers);
        Assert.True(manager.IsRunning);
        Assert.Equal(7, Bounded.Result(manager.Submit(() => 7), "work after a successful start"));
        manager.Stop(wait: true);
        manager.AssertNoWorkerAlive("after the second run stopped");
    }

    [Fact]
    public void OnDemandWorker_OnWorkerStartedThrows_PoolKeepsRunning_NoWorkLost()
    {
        var logs = new RecordingLogger();
        var manager = NewTrackedManager("ondemand-fault");
        var fail = false;
        manager.OnStart = () =>
        {
            if (Volatile.Read(ref fail))
            {
                throw new InvalidOperationException("on-demand worker init failed");
            }
        };
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, MinWorkers = 1, LoggerFactory = logs });
        Volatile.Write(ref fail, true);

        using var gate = new Gate();
        var busy = gate.HoldWorker(manager);
        // No free worker: this submission asks for a second worker, whose OnWorkerStarted throws.
        var waiting = manager.Submit(() => 2);
        Bounded.Until(() => logs.Entries.Any(static e => e.EventId.Name == "OnDemandWorkerStartFailed"), "the failed on-demand start is logged");
        Assert.True(manager.IsRunning);

        gate.Open();
        Assert.Equal(2, Bounded.Result(waiting, "the item queued when the on-demand worker failed"));
        Bounded.Wait(busy, "the busy item");
        manager.Stop(wait: true);
        manager.AssertNoWorkerAlive("after Stop(wait: true)");
    }

    public static TheoryData<string> WorkerKillers =>
    [
        "throw",
        "func-of-task-throws-before-returning-a-task",
        "throw-ThreadInterruptedException",
        "interrupt-self-then-block",
        "async-throw-after-await",
        "post-throw",
        "post-interrupt-self-then-block",
        "stack-of-nested-faults",
    ];

    [Theory]
    [MemberData(nameof(WorkerKillers))]
    public void FaultingWorkItem_NeverKillsTheWorker_NextItemRunsOnTheSameWorker(string fault)
    {
        var manager = NewTrackedManager($"fault-{fault}");
        manager.Start(1);
        Thread? faultedOn = null;
        Task? faulting = null;
        switch (fault)
        {
            case "throw":
                faulting = manager.Submit((Action)(() => { faultedOn = Thread.CurrentThread; throw new InvalidOperationException("boom"); }));
                break;
            case "func-of-task-throws-before-returning-a-task":
                // The async overload, with a delegate that throws before it returns a task (what a block lambda
                // that only throws binds to, as with Task.Run).
                faulting = manager.Submit((Func<Task>)(() => { faultedOn = Thread.CurrentThread; throw new InvalidOperationException("boom before the task"); }));
                break;
            case "throw-ThreadInterruptedException":
                faulting = manager.Submit((Action)(() => { faultedOn = Thread.CurrentThread; throw new ThreadInterruptedException(); }));
                break;
            case "interrupt-self-then-block":
                faulting = manager.Submit(() => { faultedOn = Thread.CurrentThread; InterruptSelfThenBlock(); });
                break;
            case "async-throw-after-await":
                faulting = manager.Submit(async () =>
                {
                    await Task.Yield();
                    faultedOn = Thread.CurrentThread;
                    throw new InvalidOperationException("async boom");
                });
                break;
            case "post-throw":
                manager.Post(() => { faultedOn = Thread.CurrentThread; throw new InvalidOperationException("posted boom"); });
                break;
            case "post-interrupt-self-then-block":
                manager.Post(() => { faultedOn = Thread.CurrentThread; InterruptSelfThenBlock(); });
                break;
            default:
                faulting = manager.Submit(() =>
                {
                    faultedOn = Thread.CurrentThread;
                    // A worker that waits on a faulted nested item still lives.
                    manager.Submit((Action)(static () => throw new InvalidOperationException("inner"))).Wait();
                });
                break;
        }

        if (fault == "async-throw-after-await")
        {
            // The faulting part runs in a continuation queued after Task.Yield: let it run before the next item,
            // or the next item may be queued ahead of it.
            Bounded.Wait(faulting!.ContinueWith(static _ => { }, TaskScheduler.Default), "the async faulting item");
        }

        var next = manager.Submit(() => Thread.CurrentThread);
        var nextOn = Bounded.Result(next, "the item after the fault");

        Assert.Same(faultedOn, nextOn);
        Assert.True(nextOn.IsAlive);
        Assert.Equal(1, manager.GetStatistics().Workers);
        if (faulting is not null)
        {
            Bounded.Wait(faulting.ContinueWith(static _ => { }, TaskScheduler.Default), "the faulting item");
            Assert.Equal(TaskStatus.Faulted, faulting.Status);
            _output.WriteLine($"{fault}: {faulting.Exception!.InnerException!.GetType().Name}");
        }

        manager.Stop(wait: true);
        Assert.Equal(1, manager.GetStatistics().Completed);
        Assert.True(manager.GetStatistics().Faulted >= 1);
        manager.AssertNoWorkerAlive("after Stop(wait: true)");
    }

    /// <summary>
    /// An item that interrupts its own worker and returns leaves the interrupt pending on the worker thread; the
    /// worker's next wait must not turn it into an unhandled exception. Run in a child process: if the worker dies,
    /// it takes the whole process with it.
    /// </summary>
    [Fact]
    public void WorkItemThatInterruptsItsWorkerAndReturns_DoesNotKillTheWorkerOrTheProcess() =>
        AssertTheProbesWorkerAndProcessLiveOn("interrupt-leak");

    /// <summary>A logger that throws while reporting a fault must not kill the worker (child process, as above).</summary>
    [Fact]
    public void ThrowingLogger_DoesNotKillTheWorkerOrTheProcess() =>
        AssertTheProbesWorkerAndProcessLiveOn("throwing-logger");

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Faults_AreLoggedExactlyOnce_WhenLogExceptionsIsOn(bool logExceptions)
    {
        var logs = new RecordingLogger();
        var manager = NewTrackedManager($"fault-log-{logExceptions}");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 2, LogExceptions = logExceptions, LoggerFactory = logs, TaskType = "job" });
        using var cts = new CancellationTokenSource();
        string[] messages = ["sync", "sync result", "async", "async result", "posted", "posted with state"];
        var thrown = messages.ToDictionary(static message => message, static message => new InvalidOperationException(message));
        var faults = new List<(Task Task, Exception Thrown)>
        {
            (manager.Submit(Throw(thrown["sync"]), "job"), thrown["sync"]),
            (manager.Submit(new Func<int>(() => throw thrown["sync result"]), "job"), thrown["sync result"]),
            (manager.Submit(async () => { await Task.Yield(); throw thrown["async"]; }, "job"), thrown["async"]),
            (manager.Submit(new Func<Task<int>>(async () => { await Task.Yield(); throw thrown["async result"]; }), "job"), thrown["async result"]),
        };
        manager.Post(() => throw thrown["posted"], "job");
        manager.Post(_ => throw thrown["posted with state"], 1, "job");
        // Work that succeeds, and cancellation, which is not a fault: never logged.
        var fine = manager.Submit(() => { }, "job");
        var canceled = manager.Submit(() => { cts.Cancel(); cts.Token.ThrowIfCancellationRequested(); }, "job", cts.Token);

        manager.Stop(wait: true);
        Bounded.WaitFinal(Task.WhenAll([.. faults.Select(static f => f.Task), fine, canceled]), "the faulting work");

        Assert.All(faults, static f => Assert.Equal(TaskStatus.Faulted, f.Task.Status));
        Assert.All(faults, static f => Assert.Same(f.Thrown, f.Task.Exception!.InnerException));
        Assert.Equal(TaskStatus.RanToCompletion, fine.Status);
        Assert.Equal(TaskStatus.Canceled, canceled.Status);
        Bounded.Until(() => manager.GetStatistics().Faulted == 6, "every fault is counted");
        Assert.Equal(1, manager.GetStatistics().Canceled);
        Assert.Equal(1, manager.GetStatistics().Completed);
        var entries = logs.Entries;
        if (!logExceptions)
        {
            Assert.Empty(entries);
            return;
        }

        Bounded.Until(() => logs.Entries.Count == 6, "every fault is logged");
        entries = logs.Entries;
        Assert.NotEmpty(logs.Categories);
        Assert.All(entries, e =>
        {
            Assert.Equal(LogLevel.Warning, e.Level);
            Assert.Contains(manager.Id, e.Message, StringComparison.Ordinal);
            Assert.IsType<InvalidOperationException>(e.Exception);
            Assert.Same(thrown[e.Exception!.Message], e.Exception);
        });
        // Each fault once: six distinct exceptions, none logged twice.
        Assert.Equal(
            ["async", "async result", "posted", "posted with state", "sync", "sync result"],
            entries.Select(static e => e.Exception!.Message).Order(StringComparer.Ordinal));
    }

    /// <summary>Runs the exit probe's <paramref name="scenario"/>: the process ends normally, and the worker that met the fault ran the next item.</summary>
    private void AssertTheProbesWorkerAndProcessLiveOn(string scenario)
    {
        var result = ExitProbe.Run(scenario, _output);

        Assert.True(result.Exited && result.ExitCode == 0, $"the process died: {result}");
        Assert.Contains("done next item: 42", result.Lines);
    }

    private static void InterruptSelfThenBlock()
    {
        Thread.CurrentThread.Interrupt();
        using var never = new ManualResetEventSlim();
        // The pending interrupt ends this wait at once with ThreadInterruptedException.
        if (!never.Wait(Bounded.Timeout))
        {
            throw new TimeoutException("the self-interrupt did not end the wait");
        }
    }
}
