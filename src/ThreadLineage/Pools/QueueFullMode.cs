namespace ThreadLineage;

/// <summary>What a submission does when the pool's bounded queue (<see cref="ThreadPoolManagerOptions.QueueCapacity"/>) is full.</summary>
public enum QueueFullMode
{
    /// <summary>
    /// Block the submitting thread until the queue has room (or the submission's token fires: the task ends canceled).
    /// On one of the pool's own workers, run the work in the caller instead, because waiting there could deadlock.
    /// </summary>
    Wait = 0,

    /// <summary>Throw <see cref="ThreadPoolFullException"/> from <c>Submit</c>/<c>Post</c>; nothing is queued.</summary>
    Reject = 1,

    /// <summary>Run the work on the calling thread: it has run when <c>Submit</c>/<c>Post</c> returns.</summary>
    RunInCaller = 2,
}
