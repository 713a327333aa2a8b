using System.Diagnostics;

namespace ThreadLineage.Pools;

/// <content>
/// The run loop, and the parking and wake-up protocol that keeps every queued item within reach of a worker.
/// </content>
/// <remarks>
/// <para>
/// The protocol's invariant: <b>every queued item has a worker that is awake or about to be woken.</b>
/// </para>
/// <para>
/// Parking: a worker with nothing to do announces itself in <c>_parked</c>, re-checks the queue, and
/// waits on <c>_wake</c>. A producer that enqueues and then sees an announced worker claims it
/// (decrements <c>_parked</c>) and releases one permit. Both sides use interlocked operations (full
/// fences), so either the worker's re-check sees the item or the producer sees the announcement.
/// Workers are interchangeable, so it does not matter which announcement is claimed.
/// </para>
/// <para>
/// Searching: one idle worker at a time spins for new work, and a producer that sees it searching wakes
/// nobody. The searcher therefore owes a wake-up for whatever it leaves behind: the first item any worker
/// takes after it found the queue empty (by spinning, by re-checking while parking, or after being woken)
/// makes it wake another worker if the queue is still not empty. The woken worker does the same, so a
/// burst wakes one worker per queued item until the queue is empty or nobody is parked.
/// </para>
/// <para>
/// At least one worker stays alive while the run is running (MinWorkers is at least 1), so the last
/// worker to exit is always the one that closes the run.
/// </para>
/// </remarks>
internal sealed partial class DedicatedRun
{
    /// <summary>Runs work until the run stops (returns <see langword="true"/>) or this worker retires (<see langword="false"/>).</summary>
    private bool RunLoop(WorkerSlot slot, ExecutionContext workerContext)
    {
        // Idle workers are background threads; a worker of a non-background pool turns foreground while
        // it has work, so running and queued work keeps the process alive but an idle pool does not.
        var toggleBackground = !Settings.IsBackground;
        var isForeground = false;
        var searching = false;

        // Set from the moment the worker finds the queue empty (it then searches or parks) until it takes an item.
        var idle = true;
        while (true)
        {
            if (TryDequeue(out var item))
            {
                if (searching)
                {
                    // Interlocked: we stop searching, before the hand-off below reads the queue.
                    searching = false;
                    Interlocked.Decrement(ref _searching);
                }

                if (idle)
                {
                    // The hand-off (see the remarks): producers woke nobody while a worker searched, so the first
                    // item found after idling obliges its finder to wake a worker for whatever is still queued.
                    // Without it, a search that timed out and then found the first of two items while parking
                    // left the second queued next to a parked worker.
                    idle = false;
                    if (!IsQueueEmpty)
                    {
                        WakeOrSpawn();
                    }
                }

                if (toggleBackground && !isForeground)
                {
                    Thread.CurrentThread.IsBackground = false;
                    isForeground = true;
                }

                // Plain volatile writes on this worker's own slot: statistics only, nothing waits on them.
                slot.IsRunningItem = true;
                RunItem(item, workerContext);
                slot.IsRunningItem = false;
                if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers) && !RetiredUnlessWorkArrived())
                {
                    return false;
                }

                continue;
            }

            idle = true;
            if (MayExit)
            {
                // The queue was empty after the stop and no borrower is open: leave. The last worker out drains any straggler.
                if (searching)
                {
                    Interlocked.Decrement(ref _searching);
                }

                Interlocked.Decrement(ref _awakeWorkers);
                return true;
            }

            // One idle worker at a time searches (spins) for new work; while it does, producers wake nobody.
            // Compare-exchange: become the searcher only if there is none.
            if (!searching && Interlocked.CompareExchange(ref _searching, 1, 0) == 0)
            {
                searching = true;
            }

            if (searching)
            {
                if (SpinForWork())
                {
                    // Work arrived within a few microseconds: parking and waking would have cost far more.
                    continue;
                }

                // Interlocked: stop searching before parking; Park re-checks the queue after announcing, so an
                // item enqueued by a producer that saw us searching (and woke nobody) is not missed.
                searching = false;
                Interlocked.Decrement(ref _searching);
            }

            if (isForeground)
            {
                Thread.CurrentThread.IsBackground = true;
                isForeground = false;
            }

            var parkedAt = Stopwatch.GetTimestamp();
            if (!Park())
            {
                return false;
            }

            if (SpinLength.WouldHaveCaught(Stopwatch.GetTimestamp() - parkedAt))
            {
                _spin.Lengthen();
            }
        }
    }

    /// <summary>Spins (never yielding the core) for the pool's current <see cref="SpinLength"/> in case work arrives right away.</summary>
    private bool SpinForWork()
    {
        // At length 0 the queue is still read once: spinning ends the same way at any length.
        var deadline = Stopwatch.GetTimestamp() + _spin.Ticks;
        do
        {
            if (!IsQueueEmpty || MayExit)
            {
                _spin.Lengthen();
                return true;
            }

            Thread.SpinWait(1);
        }
        while (Stopwatch.GetTimestamp() < deadline);

        _spin.Shorten();
        return false;
    }

    /// <summary>Parks until woken; returns <see langword="false"/> if the worker retired instead.</summary>
    private bool Park()
    {
        AssertWorkerCounters();
        // A pool shrunk by SetMaxWorkers: an idle worker over the size retires instead of parking.
        if (Volatile.Read(ref _liveWorkers) > _maxWorkers && TryRetire(_maxWorkers))
        {
            return RetiredUnlessWorkArrived();
        }

        // Interlocked: awake count first, so an idle waiter sees "nothing running" only when that is true.
        if (Interlocked.Decrement(ref _awakeWorkers) == 0 && IsQueueEmpty)
        {
            ReleaseIdleWaiters();
        }

        // Interlocked: announce before re-checking, so a producer that enqueues after our re-check sees us.
        Interlocked.Increment(ref _parked);
        if ((!IsQueueEmpty || MayExit || Volatile.Read(ref _liveWorkers) > _maxWorkers) && TryClaimParked())
        {
            // Work, a stop or a shrink arrived while announcing and nobody claimed us: withdraw and go back.
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        if (Settings.IdleTimeout == Timeout.InfiniteTimeSpan || Volatile.Read(ref _liveWorkers) <= _minWorkers)
        {
            // Either nothing is pending, or a producer claimed an announced worker and released a permit for it.
            WaitForPermit();
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        if (WaitForPermit(Settings.IdleTimeout))
        {
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        // Idle for IdleTimeout. Withdraw the announcement; if a producer claimed every announcement
        // meanwhile, a permit is on its way for us: take it and work instead of retiring.
        if (!TryClaimParked())
        {
            WaitForPermit();
            Interlocked.Increment(ref _awakeWorkers);
            return true;
        }

        Interlocked.Increment(ref _awakeWorkers);
        return !TryRetire(_minWorkers) || RetiredUnlessWorkArrived();
    }

    /// <summary>Waits for a wake permit; an interrupt left pending by a work item does not kill the worker.</summary>
    private bool WaitForPermit(TimeSpan timeout = default)
    {
        while (true)
        {
            try
            {
                return timeout == default ? _wake.Wait(Timeout.Infinite) : _wake.Wait(timeout);
            }
            catch (ThreadInterruptedException)
            {
                // A work item interrupted its own worker and returned: the interrupt surfaced here. It was
                // meant for that item, not for the pool; wait again (the permit accounting is unchanged).
            }
        }
    }

    private protected override void OnItemQueued() => WakeOrSpawn();

    // Parked workers re-check whether they may leave (or must cancel what is queued).
    private protected override void OnStopRequested() => WakeAll();

    // A borrower that drained may have been the last thing keeping a stopping run's workers from leaving. Only a
    // stopping run's workers wait for that; waking them for every borrower that ends (one per request) would cost
    // the host a wake-up each. A stop that races this reads the count after it changed, before its own WakeAll.
    private protected override void OnBorrowerClosed()
    {
        if (IsStopRequested)
        {
            WakeAll();
        }
    }

    // Likewise a stop that was canceling what was queued.
    private protected override void OnDrainOutsideRunnersEnded() => WakeAll();

    private void WakeOrSpawn()
    {
        // A searching worker will find the item within microseconds: waking another would cost a system
        // call per item. (The searcher re-checks the queue after it stops searching and before it parks.)
        if (Volatile.Read(ref _searching) > 0)
        {
            return;
        }

        if (Volatile.Read(ref _parked) > 0 && TryClaimParked())
        {
            _wake.Release();
            return;
        }

        // No parked worker to take it: grow if the pool is below its size (no-op at MinWorkers == MaxWorkers).
        if (Volatile.Read(ref _liveWorkers) < _maxWorkers)
        {
            TrySpawnWorker();
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
}
