using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;

namespace ThreadLineage.Pools;

/// <summary>
/// One run of a <see cref="ThreadPoolManager"/>, from <c>Start</c> until its last worker exits: the
/// dedicated worker threads, their FIFO queue, and the protocol that parks idle workers and drains the
/// queue on stop without losing an item.
/// </summary>
/// <remarks>
/// <para>
/// The <em>gate</em> counts enqueuers in flight and carries two flags. <c>StopRequested</c> refuses new
/// submissions; <c>Closed</c>, set by the last worker to exit, refuses every enqueue. Because the last
/// worker waits for the in-flight count to reach zero after closing and then drains the queue, an item
/// that got through the gate is always run by a worker of this run — nothing is stranded in a queue that
/// nobody reads. Items refused by a closed gate (continuations of async work resuming after the pool
/// stopped) are run by the manager's scheduler elsewhere.
/// </para>
/// <para>
/// Parking: a worker with nothing to do announces itself in <c>_parked</c>, re-checks the queue, and
/// waits on <c>_wake</c>. A producer that enqueues and then sees an announced worker claims it (decrements
/// <c>_parked</c>) and releases one permit. Both sides use interlocked operations (full fences), so either
/// the worker's re-check sees the item or the producer sees the announcement: no lost wake-up.
/// </para>
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The semaphore never allocates a wait handle (AvailableWaitHandle is not used), and late Release calls must not meet a disposed object.")]
internal sealed class WorkerGroup
{
    private const int StopRequestedFlag = 1 << 30;
    private const int ClosedFlag = 1 << 29;
    private const int EnqueuersMask = ClosedFlag - 1;

    [ThreadStatic]
    private static WorkerGroup? t_workerOf;

    private readonly ConcurrentQueue<Task> _queue = new();
    private readonly SemaphoreSlim _wake = new(0);
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly object _exitMonitor = new();
    private readonly ContextCallback _executeInWorkerContext;

    private int _gate;
    private int _parked;
    private int _liveWorkers;
    private int _busyWorkers;
    private volatile bool _cancelPending;

    public WorkerGroup(ThreadPoolManager manager, PoolSettings settings)
    {
        Manager = manager;
        Settings = settings;
        _executeInWorkerContext = state => Manager.Scheduler.Execute((Task)state!);
    }

    public ThreadPoolManager Manager { get; }

    public PoolSettings Settings { get; }

    /// <summary>Gets a task that completes when every worker has exited and the queue has been drained.</summary>
#pragma warning disable VSTHRD003 // The run's own workers complete this task; it never needs the caller's context.
    public Task Exited => _exited.Task;
#pragma warning restore VSTHRD003

    public int LiveWorkers => Volatile.Read(ref _liveWorkers);

    public int BusyWorkers => Volatile.Read(ref _busyWorkers);

    public int QueuedItems => _queue.Count;

    public bool IsDrained => _exited.Task.IsCompleted;

    public bool IsStopRequested => (Volatile.Read(ref _gate) & StopRequestedFlag) != 0;

    /// <summary>Gets the run whose worker the current thread is, if any.</summary>
    public static WorkerGroup? Current => t_workerOf;

    /// <summary>Creates the workers and waits until each has run <c>OnWorkerStarted</c>.</summary>
    /// <exception cref="AggregateException">An <c>OnWorkerStarted</c> threw; every worker has exited again.</exception>
    public void Start()
    {
        var count = Settings.MaxWorkers;
        var errors = new Exception?[count];
        using var initialized = new CountdownEvent(count);
        _liveWorkers = count;
        for (var i = 0; i < count; i++)
        {
            var index = i;
            var thread = new Thread(() => WorkerMain(index, initialized, errors))
            {
                Name = $"{Settings.ThreadNamePrefix}-{i + 1}",
                // Idle workers never keep the process alive; a worker turns foreground while it runs
                // work of a non-background pool (see RunLoop).
                IsBackground = true,
            };
            // UnsafeStart: the worker must not capture (and keep alive) the starter's AsyncLocals.
            thread.UnsafeStart();
        }

        initialized.Wait();
        var failures = errors.Where(static e => e is not null).Select(static e => e!).ToArray();
        if (failures.Length > 0)
        {
            RequestStop(cancelPending: true);
#pragma warning disable VSTHRD002 // Start is synchronous by contract; the run's workers complete Exited without needing this thread.
            Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
            throw new AggregateException(
                $"Thread pool manager '{Manager.Id}' did not start: OnWorkerStarted threw on {failures.Length} of {count} workers. " +
                "No worker is left running; fix OnWorkerStarted and call Start again.",
                failures);
        }
    }

    /// <summary>Enters the gate for a submission; fails once a stop has been requested.</summary>
    public bool TryEnterSubmission()
    {
        // Interlocked: the increment publishes us to a closing worker, which waits for the count to drop.
        if ((Interlocked.Increment(ref _gate) & (StopRequestedFlag | ClosedFlag)) == 0)
        {
            return true;
        }

        Interlocked.Decrement(ref _gate);
        return false;
    }

    /// <summary>Enqueues an admitted submission; the caller holds the gate (see <see cref="TryEnterSubmission"/>).</summary>
    public void EnqueueAdmitted(Task item)
    {
        Debug.Assert((Volatile.Read(ref _gate) & EnqueuersMask) > 0, "the submitter must hold the gate");
        _queue.Enqueue(item);
        WakeOne();
    }

    /// <summary>Leaves the gate after <see cref="EnqueueAdmitted"/>.</summary>
    public void ExitSubmission() => Interlocked.Decrement(ref _gate);

    /// <summary>Enqueues a task that is not a new submission (a continuation, a scheduler task) unless the run has closed.</summary>
    public bool TryEnqueueInternal(Task task)
    {
        // Continuations of admitted work are still accepted while the run drains; only Closed refuses.
        if ((Interlocked.Increment(ref _gate) & ClosedFlag) != 0)
        {
            Interlocked.Decrement(ref _gate);
            return false;
        }

        _queue.Enqueue(task);
        WakeOne();
        Interlocked.Decrement(ref _gate);
        return true;
    }

    /// <summary>Stops accepting submissions; with <paramref name="cancelPending"/>, cancels the submissions still queued.</summary>
    public void RequestStop(bool cancelPending)
    {
        if (cancelPending)
        {
            // Set before the stop flag is published so that every worker that sees the stop also cancels.
            _cancelPending = true;
        }

        // Interlocked: publishes the flag atomically with the enqueuer count other threads update.
        Interlocked.Or(ref _gate, StopRequestedFlag);
        WakeAll();

        if (cancelPending)
        {
            CancelQueuedSubmissions();
        }
    }

    /// <summary>Blocks until the workers have exited, or, on one of this run's own workers, until the others have.</summary>
    public void WaitForExit()
    {
        if (t_workerOf == this)
        {
            // The calling worker cannot exit while it waits; it drains and closes the run when it returns.
            lock (_exitMonitor)
            {
                while (Volatile.Read(ref _liveWorkers) > 1)
                {
                    Monitor.Wait(_exitMonitor);
                }
            }

            return;
        }

#pragma warning disable VSTHRD002 // Stop(wait: true) is synchronous by contract; the workers complete Exited without needing this thread.
        Exited.GetAwaiter().GetResult();
#pragma warning restore VSTHRD002
    }

    /// <summary>Returns the tasks waiting in the queue, for debuggers.</summary>
    public Task[] SnapshotQueue() => _queue.ToArray();

    /// <summary>Runs a task inline on a worker of this run that is blocked waiting for it.</summary>
    public bool TryExecuteInline(Task task)
    {
        Debug.Assert(t_workerOf == this, "only this run's own workers may run its work inline");
        return Execute(task);
    }

    private void WorkerMain(int index, CountdownEvent initialized, Exception?[] errors)
    {
        t_workerOf = this;
        Lineage.SetWorkerLineage(Manager.Owner);
        var workerContext = ExecutionContext.Capture()!;
        try
        {
            Manager.RaiseWorkerStarted();
        }
        catch (Exception exception)
        {
            // Reported by Start, which then stops the run; this worker leaves without taking work.
            errors[index] = exception;
            PoolLog.WorkerStartFailed(Settings.Logger, Manager.Id, exception);
            initialized.Signal();
            ExitWorker(workerContext);
            return;
        }

        initialized.Signal();
        RunLoop(workerContext);
        ExitWorker(workerContext);
    }

    private void RunLoop(ExecutionContext workerContext)
    {
        // Idle workers are background threads; a worker of a non-background pool turns foreground while
        // it has work, so running and queued work keeps the process alive but an idle pool does not.
        var toggleBackground = !Settings.IsBackground;
        var isForeground = false;
        while (true)
        {
            if (_queue.TryDequeue(out var task))
            {
                if (toggleBackground && !isForeground)
                {
                    Thread.CurrentThread.IsBackground = false;
                    isForeground = true;
                }

                RunItem(task, workerContext);
                continue;
            }

            if (IsStopRequested)
            {
                // The queue was empty after the stop: leave. The last worker out drains any straggler.
                return;
            }

            if (isForeground)
            {
                Thread.CurrentThread.IsBackground = true;
                isForeground = false;
            }

            Park();
        }
    }

    private void RunItem(Task task, ExecutionContext workerContext)
    {
        if (Settings.FlowExecutionContext)
        {
            // The task runs in the context captured at Submit and restores ours afterwards.
            Execute(task);
        }
        else
        {
            // Run restores the worker's context afterwards: one item's AsyncLocals never reach the next.
            ExecutionContext.Run(workerContext, _executeInWorkerContext, task);
        }
    }

    private bool Execute(Task task)
    {
        // Interlocked: BusyWorkers is read by statistics from any thread.
        Interlocked.Increment(ref _busyWorkers);
        try
        {
            if (_cancelPending && task is IPoolWorkItem)
            {
                // Stop(cancelPending: true): a queued submission ends Canceled without running.
                TaskCanceler.RequestCancellation(task);
            }

            return Manager.Scheduler.Execute(task);
        }
        finally
        {
            Interlocked.Decrement(ref _busyWorkers);
        }
    }

    private void Park()
    {
        // Interlocked: announce before re-checking, so a producer that enqueues after our re-check sees us.
        Interlocked.Increment(ref _parked);
        if ((!_queue.IsEmpty || IsStopRequested) && TryClaimParked())
        {
            // Work (or a stop) arrived while announcing and nobody claimed us yet: withdraw and go back.
            return;
        }

        // Either nothing is pending, or a producer claimed an announced worker and released a permit for it.
        _wake.Wait();
    }

    private void WakeOne()
    {
        if (Volatile.Read(ref _parked) > 0 && TryClaimParked())
        {
            _wake.Release();
        }
    }

    private void WakeAll()
    {
        // Interlocked: claim every announced worker at once; each gets one permit.
        var parked = Interlocked.Exchange(ref _parked, 0);
        if (parked > 0)
        {
            _wake.Release(parked);
        }
    }

    private bool TryClaimParked()
    {
        var parked = Volatile.Read(ref _parked);
        while (parked > 0)
        {
            // Compare-exchange: claim exactly one announced worker, never driving the count below zero.
            var seen = Interlocked.CompareExchange(ref _parked, parked - 1, parked);
            if (seen == parked)
            {
                return true;
            }

            parked = seen;
        }

        return false;
    }

    private void CancelQueuedSubmissions()
    {
        // Take everything queued right now; submissions end Canceled, other tasks (continuations of
        // work that already started) go back to the queue, because they must still run.
        List<Task>? others = null;
        while (_queue.TryDequeue(out var task))
        {
            if (task is IPoolWorkItem)
            {
                TaskCanceler.RequestCancellation(task);
                Manager.Scheduler.Execute(task);
            }
            else
            {
                (others ??= []).Add(task);
            }
        }

        if (others is not null)
        {
            foreach (var task in others)
            {
                Manager.Scheduler.QueueElsewhereIfClosed(this, task);
            }
        }
    }

    private void ExitWorker(ExecutionContext workerContext)
    {
        // Interlocked: exactly one worker sees zero and closes the run.
        var remaining = Interlocked.Decrement(ref _liveWorkers);
        if (remaining == 0)
        {
            Close(workerContext);
        }

        lock (_exitMonitor)
        {
            Monitor.PulseAll(_exitMonitor);
        }

        t_workerOf = null;
    }

    private void Close(ExecutionContext workerContext)
    {
        // Interlocked: from here on every enqueue is refused; then wait out the enqueuers already inside.
        Interlocked.Or(ref _gate, ClosedFlag);
        var spinner = new SpinWait();
        while ((Volatile.Read(ref _gate) & EnqueuersMask) != 0)
        {
            spinner.SpinOnce();
        }

        // Whatever got in before the gate closed runs here, on this run's last worker.
        if (!_queue.IsEmpty)
        {
            Thread.CurrentThread.IsBackground = Settings.IsBackground;
            while (_queue.TryDequeue(out var task))
            {
                RunItem(task, workerContext);
            }
        }

        _exited.TrySetResult();
    }
}
