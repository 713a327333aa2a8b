namespace ThreadLineage.Demo;

/// <summary>Bounded waits: the demo fails with a message instead of hanging.</summary>
internal static class Within
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>Blocks on <paramref name="task"/> like <c>.Result</c>, but for at most <see cref="Timeout"/>.</summary>
    /// <remarks>
    /// A timed wait never runs a queued task inline, so do not use this for a nested wait on a pool's own work;
    /// use <c>.Result</c> there (see RequestWorker.RenderPage).
    /// </remarks>
    public static T Result<T>(Task<T> task, string what)
    {
        if (!task.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }

        return task.Result;
    }

    public static async Task WaitAsync(Task task, string what)
    {
        try
        {
            await task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static void Wait(ManualResetEventSlim gate, string what)
    {
        if (!gate.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static void Wait(CountdownEvent countdown, string what)
    {
        if (!countdown.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static void Join(Thread thread, string what)
    {
        if (!thread.Join(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what} to finish.");
        }
    }
}
