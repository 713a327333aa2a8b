namespace ThreadLineage.Tests.Reliability;

/// <summary>Bounded waits for a condition that no event announces (a stop has begun, a count caught up).</summary>
internal static class Until
{
    /// <summary>Spins (yielding) until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <see cref="Bounded.Timeout"/>.</summary>
    public static void True(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, Bounded.Timeout))
        {
            throw new TimeoutException($"Timed out after {Bounded.Timeout.TotalSeconds}s waiting until {what}.");
        }
    }

    /// <summary>Runs <paramref name="action"/> on a new thread and returns a task for it, so the caller can bound the wait.</summary>
    public static Task OnThread(Action action, string name = "reliability-helper")
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                action();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        })
        { Name = name, IsBackground = true };
        thread.Start();
        return done.Task;
    }
}
