namespace ThreadLineage.Benchmarks.Support;

/// <summary>
/// One "request" as a web app runs it, three ways: a lineage scope, 4 no-op submissions waited for, and the scope's
/// disposal. <see cref="Borrowed"/> creates a per-request pool that borrows the threads of a process-wide host,
/// <see cref="Dedicated"/> creates one with 2 threads of its own, and <see cref="Shared"/> submits straight to the host.
/// Shared by <c>Pools.PerRequestPoolBenchmarks</c> (time and allocations) and the <c>per-request</c> probe (threads).
/// </summary>
public sealed class PerRequestWorkload : IDisposable
{
    /// <summary>The id of the process-wide host on <see cref="Lineage.Root"/>.</summary>
    public const string HostId = "bench-request-workers";

    /// <summary>The id of the pool each request creates in its own scope.</summary>
    public const string RequestPoolId = "request";

    /// <summary>Submissions per request.</summary>
    public const int Submits = 4;

    /// <summary>The most items of one request's pool that run at once (its borrowing limit, or its threads).</summary>
    public const int RequestWorkers = 2;

    private readonly Action _work;
    private readonly Action<ThreadPoolManager> _countThread;
    private int _dedicatedThreadsStarted;

    /// <summary>Starts the host with <paramref name="hostWorkers"/> threads on <see cref="Lineage.Root"/>.</summary>
    /// <param name="hostWorkers">The host's threads.</param>
    /// <param name="work">The work of each submission; a no-op when <see langword="null"/>.</param>
    public PerRequestWorkload(int hostWorkers, Action? work = null)
    {
        _work = work ?? (static () => { });
        _countThread = _ => Interlocked.Increment(ref _dedicatedThreadsStarted);
        Host = Lineage.Root.GetOrCreateManager(HostId);
        Host.Start(hostWorkers);
    }

    /// <summary>Gets the process-wide host.</summary>
    public ThreadPoolManager Host { get; }

    /// <summary>Gets the threads the dedicated per-request pools have started so far (counted by their WorkerStarted hook).</summary>
    public int DedicatedThreadsStarted => Volatile.Read(ref _dedicatedThreadsStarted);

    /// <summary>The baseline: 4 submissions to the already running host, resolved through the request's lineage.</summary>
    public void Shared()
    {
        using var scope = Lineage.BeginScope("request");
        SubmitAndWait(Lineage.GetManager(HostId));
    }

    /// <summary>A per-request pool that borrows the host's threads (<see cref="ThreadPoolManagerOptions.WorkersFrom"/>).</summary>
    public void Borrowed()
    {
        using var scope = Lineage.BeginScope("request");
        var mine = Lineage.CreateManager(RequestPoolId);
        mine.Start(new ThreadPoolManagerOptions { MaxWorkers = RequestWorkers, WorkersFrom = HostId });
        SubmitAndWait(mine);
    }

    /// <summary>A per-request pool with 2 dedicated threads, created by <c>Start</c> and joined by the scope's disposal.</summary>
    public void Dedicated()
    {
        using var scope = Lineage.BeginScope("request");
        var mine = Lineage.CreateManager(RequestPoolId);
        mine.Start(new ThreadPoolManagerOptions
        {
            MaxWorkers = RequestWorkers,
            WorkerStarted = _countThread,
        });
        SubmitAndWait(mine);
    }

    public void Dispose() => Host.Dispose();

    private void SubmitAndWait(ThreadPoolManager pool)
    {
        var first = pool.Submit(_work);
        var second = pool.Submit(_work);
        var third = pool.Submit(_work);
        var fourth = pool.Submit(_work);
        first.Wait();
        second.Wait();
        third.Wait();
        fourth.Wait();
    }
}
