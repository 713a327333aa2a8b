namespace ThreadLineage.Pools;

/// <content>
/// Elasticity: workers added on demand up to MaxWorkers, <c>SetMaxWorkers</c>, and retirement (a shrunk pool, or a
/// worker above MinWorkers idle for IdleTimeout) without racing a submission.
/// </content>
internal sealed partial class DedicatedRun
{
    /// <summary>Changes the number of workers; extra workers retire when they next look for work.</summary>
    public override void Resize(int maxWorkers)
    {
        _maxWorkers = maxWorkers;
        if (_minWorkers > maxWorkers)
        {
            _minWorkers = maxWorkers;
        }

        // Parked workers re-check the size when woken; queued work may use the new room at once.
        WakeAll();
        var waiting = QueuedItems;
        while (waiting-- > 0 && TrySpawnWorker())
        {
        }
    }

    /// <summary>Adds a worker if the run is below its size; called by producers that found no parked worker.</summary>
    private bool TrySpawnWorker()
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live < _maxWorkers && !IsStopRequested)
        {
            // Compare-exchange: never exceed MaxWorkers when producers race to grow the pool.
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live + 1, live);
            if (seen == live)
            {
                SpawnThread(slot => WorkerMain(slot, index: -1, initialized: null, errors: null));
                return true;
            }

            live = seen;
        }

        return false;
    }

    /// <summary>
    /// Called right after this worker retired. A submission that arrived as we retired saw either our
    /// announcement (withdrawn, so it claimed another) or the lower live count (so it spawned a worker);
    /// re-check in case it saw neither, and come back if the pool still has room.
    /// </summary>
    /// <returns><see langword="true"/> if the worker came back to work.</returns>
    private bool RetiredUnlessWorkArrived()
    {
        if (!IsQueueEmpty && TryUnretire())
        {
            return true;
        }

        // Interlocked: leaving may make the pool idle, exactly as parking does.
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && IsQueueEmpty)
        {
            ReleaseIdleWaiters();
        }

        return false;
    }

    private bool TryRetire(int floor)
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live > Math.Max(1, floor) && !IsStopRequested)
        {
            // Compare-exchange: retire only while the pool stays at or above its floor (and at least one worker).
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live - 1, live);
            if (seen == live)
            {
                return true;
            }

            live = seen;
        }

        return false;
    }

    private bool TryUnretire()
    {
        var live = Volatile.Read(ref _liveWorkers);
        while (live < _maxWorkers && live > 0 && !IsStopRequested)
        {
            // Compare-exchange: come back only if the pool still has room for us.
            var seen = Interlocked.CompareExchange(ref _liveWorkers, live + 1, live);
            if (seen == live)
            {
                return true;
            }

            live = seen;
        }

        return false;
    }
}
