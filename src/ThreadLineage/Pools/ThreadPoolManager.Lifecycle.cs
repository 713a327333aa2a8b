using ThreadLineage.Pools;

namespace ThreadLineage;

/// <content>Start, stop and disposal.</content>
public partial class ThreadPoolManager
{
    // At process exit, a pool that makes no progress for this long is abandoned (see WaitForExitAtProcessExit).
    private static readonly TimeSpan s_exitDrainStall = TimeSpan.FromSeconds(5);

    private static int s_processExitHooked;

    private readonly Lock _lifecycleLock = new();

    // The running run (null when not running) and the last one stopped, which may still be draining.
    // Written under _lifecycleLock; read without it (volatile) on the submission path.
    private volatile PoolRun? _run;
    private volatile PoolRun? _lastRun;
    private volatile PoolSettings? _settings;
    private volatile bool _starting;
    private volatile bool _disposed;

    private string State => _disposed ? "disposed" : _run is not null ? "running" : _lastRun is { IsDrained: false } ? "stopping" : "stopped";

    /// <summary>Starts the pool with <paramref name="maxWorkers"/> dedicated workers.</summary>
    /// <param name="maxWorkers">The number of worker threads; at least 1.</param>
    /// <param name="taskType">The only task type the pool accepts; <see langword="null"/> accepts any.</param>
    /// <param name="isBackground">Whether workers run work as background threads (abandoned at process exit).</param>
    /// <param name="threadNamePrefix">Worker names are <c>"{prefix}-{n}"</c>; <see langword="null"/> uses the id.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxWorkers"/> is less than 1.</exception>
    /// <exception cref="ArgumentException"><paramref name="taskType"/> or <paramref name="threadNamePrefix"/> is empty.</exception>
    /// <exception cref="InvalidOperationException">The manager is already running.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <exception cref="AggregateException"><see cref="OnWorkerStarted"/> or the <see cref="ThreadPoolManagerOptions.WorkerStarted"/> option threw on some workers (their exceptions inside); the manager is not running.</exception>
    public void Start(int maxWorkers, string? taskType = null, bool isBackground = false, string? threadNamePrefix = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWorkers, 1);
        Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = maxWorkers,
            TaskType = taskType,
            IsBackground = isBackground,
            ThreadNamePrefix = threadNamePrefix,
        });
    }

    /// <summary>Starts the pool with <paramref name="options"/>, validated (every problem reported together) and copied.</summary>
    /// <param name="options">The pool settings.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">One or more options are invalid; nothing was started.</exception>
    /// <exception cref="InvalidOperationException">The manager is already running.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <exception cref="AggregateException"><see cref="OnWorkerStarted"/> or the <see cref="ThreadPoolManagerOptions.WorkerStarted"/> option threw on some workers (their exceptions inside); the manager is not running.</exception>
    /// <remarks>A stopped manager can be started again, even while workers of the previous run still drain.</remarks>
    public void Start(ThreadPoolManagerOptions options)
    {
        var settings = PoolSettings.From(options, Id, HasWorkerStartedOverride);
        var host = settings.WorkersFrom is { } hostId ? ResolveHostRun(hostId, settings) : null;
        PoolRun? previous;
        lock (_lifecycleLock)
        {
            ThrowIfDisposed();
            if (_run is not null || _starting)
            {
                throw new InvalidOperationException(
                    $"Thread pool manager '{Id}' is already running. Call Stop() before starting it again.");
            }

            _starting = true;
            previous = _lastRun is { IsDrained: false } last ? last : null;
        }

        PoolRun run;
        try
        {
            run = host is null ? StartDedicated(settings, previous) : StartBorrowing(settings, host, previous);
        }
        catch
        {
            lock (_lifecycleLock)
            {
                _starting = false;
            }

            throw;
        }

        bool disposedWhileStarting;
        lock (_lifecycleLock)
        {
            disposedWhileStarting = _disposed;
            if (!disposedWhileStarting)
            {
                _settings = settings;
                _starting = false;
                if (run.IsStopRequested)
                {
                    // A borrowing run whose host stopped between registration and here: it was stopped with the host.
                    _lastRun = run;
                    throw HostNotRunning(run.Host!.Manager);
                }

                _run = run;
            }
        }

        if (disposedWhileStarting)
        {
            // Dispose waits while _starting is set: clear it only once no worker of this start is left.
            try
            {
                run.RequestStop(cancelPending: false);
                run.WaitForExit();
            }
            finally
            {
                _starting = false;
            }

            throw new ObjectDisposedException(GetType().FullName, $"Thread pool manager '{Id}' was disposed while it started; create a new manager.");
        }

        if (!run.Threads.Settings.IsBackground)
        {
            HookProcessExit();
        }
    }

    /// <summary>Creates the dedicated threads of a run; outside the lifecycle lock, since OnWorkerStarted runs user code while Start waits for it.</summary>
    private DedicatedRun StartDedicated(PoolSettings settings, PoolRun? previous)
    {
        var run = new DedicatedRun(this, settings, previous);
        run.Start();
        return run;
    }

    /// <summary>Registers a borrowing run with its host's run; no thread is created.</summary>
    private BorrowedRun StartBorrowing(PoolSettings settings, PoolRun host, PoolRun? previous)
    {
        var run = new BorrowedRun(this, settings, host, previous);
        if (!run.TryStart())
        {
            throw HostNotRunning(host.Manager);
        }

        return run;
    }

    /// <summary>Resolves <see cref="ThreadPoolManagerOptions.WorkersFrom"/> through the caller's lineage and checks the host can take this manager's work.</summary>
    private PoolRun ResolveHostRun(string hostId, PoolSettings settings)
    {
        var current = Lineage.Current;
        var host = Lineage.Resolve(current, hostId) ?? throw new ManagerNotFoundException(
            hostId,
            $"Thread pool manager '{Id}' cannot start: WorkersFrom names '{hostId}', but no manager with that id is attached to {current} " +
            $"or any of its ancestors. Create and start '{hostId}' first (for example with Lineage.Root.GetOrCreateManager(\"{hostId}\")), " +
            "or set WorkersFrom to null for dedicated threads.");
        if (ReferenceEquals(host, this))
        {
            throw new InvalidOperationException(
                $"Thread pool manager '{Id}' cannot borrow workers from itself. Set WorkersFrom to another manager's id, or to null for dedicated threads.");
        }

        var run = host._run ?? throw HostNotRunning(host);
        if (run.Settings.TaskType is { } hostTaskType && !string.Equals(settings.TaskType, hostTaskType, StringComparison.Ordinal))
        {
            throw UnknownTaskTypeException.WithMessage(
                $"Thread pool manager '{Id}' cannot borrow workers from '{host.Id}': '{host.Id}' only runs work of task type '{hostTaskType}', " +
                $"and '{Id}' {(settings.TaskType is null ? "is unprotected" : $"is protected by task type '{settings.TaskType}'")}. " +
                $"Set TaskType = \"{hostTaskType}\" on '{Id}', or borrow from a pool meant for its work.",
                settings.TaskType,
                hostTaskType);
        }

        return run;
    }

    private InvalidOperationException HostNotRunning(ThreadPoolManager host) => new(
        $"Thread pool manager '{Id}' cannot borrow workers from '{host.Id}': '{host.Id}' is not running. Start '{host.Id}' first.");

    /// <summary>Called by a host's run that was asked to stop: this borrowing manager stops too (its accepted work still runs).</summary>
    internal void StopBecauseHostStopped(BorrowedRun run, bool cancelPending)
    {
        // The run first: a Start that has registered the run but not yet published it sees the stop when it does.
        run.StoppedWithHost = true;
        run.RequestStop(cancelPending);
        lock (_lifecycleLock)
        {
            if (ReferenceEquals(_run, run))
            {
                _lastRun = run;
                _run = null;
            }
        }
    }

    /// <summary>Stops the pool: no new work is accepted; queued work still runs unless <paramref name="cancelPending"/>.</summary>
    /// <param name="wait">
    /// <see langword="true"/> to return once everything queued has run and the workers have exited (called from one of the
    /// pool's own workers: once the other workers have exited); <see langword="false"/> to return at once.
    /// </param>
    /// <param name="cancelPending"><see langword="true"/> to cancel submitted work that has not started: its task ends <see cref="TaskStatus.Canceled"/>.</param>
    /// <remarks>
    /// Does nothing on a manager that never started. Async work suspended in an <c>await</c> is not queued work: it is not
    /// waited for, and it still runs to completion when it resumes.
    /// </remarks>
    public void Stop(bool wait = true, bool cancelPending = false)
    {
        var run = BeginStop();
        if (run is null)
        {
            return;
        }

        run.RequestStop(cancelPending);
        if (wait)
        {
            run.WaitForExit();
        }
    }

    /// <summary>Stops the pool and drains it gracefully without blocking.</summary>
    /// <param name="cancellationToken">When it fires, work still queued is canceled; running work is still waited for.</param>
    /// <returns>A task that completes when the queue is drained and the workers have exited.</returns>
    public Task StopAsync(CancellationToken cancellationToken = default)
    {
        var run = BeginStop();
        if (run is null)
        {
            return Task.CompletedTask;
        }

        run.RequestStop(cancelPending: cancellationToken.IsCancellationRequested);
        return WaitForExitAsync(run, cancellationToken);

        static async Task WaitForExitAsync(PoolRun run, CancellationToken cancellationToken)
        {
            using (cancellationToken.UnsafeRegister(static state => ((PoolRun)state!).RequestStop(cancelPending: true), run))
            {
#pragma warning disable VSTHRD003 // Exited is completed by the run's own workers, never by the caller's context.
                await run.Exited.ConfigureAwait(false);
#pragma warning restore VSTHRD003
            }

            // The workers have finished every item; joining only waits out their last instructions.
            run.JoinThreads();
            if (run.Previous is { } previous)
            {
                await WaitForExitAsync(previous, CancellationToken.None).ConfigureAwait(false);
                run.ForgetPrevious(previous);
            }
        }
    }

    /// <summary>Changes the number of workers of a running pool.</summary>
    /// <param name="maxWorkers">The new maximum; at least 1. <c>MinWorkers</c> is lowered to it if it was higher.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxWorkers"/> is less than 1.</exception>
    /// <exception cref="InvalidOperationException">The manager is not running.</exception>
    /// <exception cref="ObjectDisposedException">The manager has been disposed.</exception>
    /// <remarks>Growing adds workers as queued work needs them; shrinking retires workers as they finish their current item.</remarks>
    public void SetMaxWorkers(int maxWorkers)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWorkers, 1);
        ThrowIfDisposed();
        var run = _run ?? throw new InvalidOperationException(
            $"Thread pool manager '{Id}' is not running, so it cannot be resized. Call Start() first, or pass the size to Start().");
        run.Resize(maxWorkers);
    }

    /// <summary>Completes when the queue is empty and no work runs (at once if the pool is idle or not running).</summary>
    /// <param name="cancellationToken">Cancels the wait (the returned task ends canceled), not the pool's work.</param>
    /// <returns>A task that completes when the pool is idle.</returns>
    /// <remarks>Async work suspended in an <c>await</c> is not running work.</remarks>
    public Task WaitForIdleAsync(CancellationToken cancellationToken = default) =>
        ActiveRun is { IsDrained: false } run ? run.WaitForIdleAsync(cancellationToken) : Task.CompletedTask;

    /// <summary>Stops the pool, waiting for queued work, and marks the manager disposed. A second call does nothing.</summary>
    public void Dispose()
    {
        _disposed = true;
        Owner?.Detach(this);
        WaitForStartInProgress();
        Stop(wait: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Stops the pool without blocking, waiting for queued work, and marks the manager disposed.</summary>
    /// <returns>A task that completes when the pool has drained.</returns>
    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        Owner?.Detach(this);
        WaitForStartInProgress();
        await StopAsync().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>A start in progress (workers still in OnWorkerStarted) sees the disposal and stops its workers; wait for that.</summary>
    private void WaitForStartInProgress()
    {
        var spinner = new SpinWait();
        while (_starting)
        {
            spinner.SpinOnce();
        }
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(
                GetType().FullName,
                $"Thread pool manager '{Id}' has been disposed and cannot take work or start again. Create a new manager " +
                "(for example with Lineage.CreateManager) instead.");
        }
    }

    /// <summary>Detaches the running run (so IsRunning turns false) and returns the run to stop: it, or the last one.</summary>
    private PoolRun? BeginStop()
    {
        lock (_lifecycleLock)
        {
            var run = _run;
            if (run is null)
            {
                // Not running: a repeated stop still waits for (or cancels) the last run's drain.
                return _lastRun;
            }

            _lastRun = run;
            _run = null;
            return run;
        }
    }

    private static void HookProcessExit()
    {
        // Interlocked: hook once per process, however many pools start concurrently.
        if (Interlocked.Exchange(ref s_processExitHooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += static (_, _) => DrainForegroundPoolsAtExit();
        }
    }

    private static void DrainForegroundPoolsAtExit()
    {
        // "Guaranteed completion of jobs before exit": queued and running work of non-background pools
        // finishes before the process ends; background pools are abandoned. A borrowing pool is as background
        // as its host, whose threads run its work (stopping either first is fine: a host's stop waits for its borrowers).
        foreach (var manager in AllInstances)
        {
            if (!manager.IsBackground && manager.BeginStop() is { } run)
            {
                run.RequestStop(cancelPending: false);
                run.WaitForExitAtProcessExit(s_exitDrainStall);
            }
        }
    }
}
