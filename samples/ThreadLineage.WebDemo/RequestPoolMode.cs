namespace ThreadLineage.WebDemo;

/// <summary>Where a request loads its components' data (configuration key <c>RequestPools:Mode</c>).</summary>
public enum RequestPoolMode
{
    /// <summary>
    /// The default: each request starts a pool of its own, in its own lineage scope, that borrows the threads of the
    /// process-wide <c>request-workers</c> pool (<c>WorkersFrom</c>): its own queue and limit, no thread of its own.
    /// </summary>
    Borrowed,

    /// <summary>Each request starts a pool of its own with 2 dedicated threads, created for the request and joined when it ends.</summary>
    Dedicated,

    /// <summary>No pool per request: every request loads its data on the process-wide <c>request-workers</c> pool itself.</summary>
    Shared,
}
