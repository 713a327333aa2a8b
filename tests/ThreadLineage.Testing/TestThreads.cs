namespace ThreadLineage.Testing;

/// <summary>Starts dedicated threads whose outcome is a task, so a test can start a flow now and check it later.</summary>
public static class TestThreads
{
    /// <summary>
    /// Starts <paramref name="body"/> on a new thread with <see cref="Thread.Start()"/>: the thread captures the
    /// caller's <see cref="ExecutionContext"/>, so it is a child flow of the caller.
    /// </summary>
    public static Task<T> StartChild<T>(Func<T> body, string name = "child-thread") => Start(body, name, flowContext: true);

    /// <summary>Starts <paramref name="body"/> on a new thread that is a child flow of the caller, as <see cref="StartChild{T}"/> does.</summary>
    public static Task StartChild(Action body, string name = "child-thread") =>
        Start<object?>(
            () =>
            {
                body();
                return null;
            },
            name,
            flowContext: true);

    /// <summary>
    /// Starts <paramref name="body"/> on a new thread with <see cref="Thread.UnsafeStart()"/>: it captures nothing,
    /// so it is not a descendant of the caller (its lineage is <see cref="global::ThreadLineage.Lineage.Root"/>).
    /// </summary>
    public static Task<T> StartUnrelated<T>(Func<T> body, string name = "unrelated-thread") => Start(body, name, flowContext: false);

    private static Task<T> Start<T>(Func<T> body, string name, bool flowContext)
    {
        // Continuations must not run on the thread that completes the task: it is the flow under test.
        var outcome = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                outcome.SetResult(body());
            }
            catch (Exception e)
            {
                outcome.SetException(e);
            }
        })
        { Name = name, IsBackground = true };
        if (flowContext)
        {
            thread.Start();
        }
        else
        {
            thread.UnsafeStart();
        }

        return outcome.Task;
    }
}
