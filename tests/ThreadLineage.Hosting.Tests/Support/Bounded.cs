namespace ThreadLineage.Hosting.Tests.Support;

/// <summary>Bounded waits: every wait in the suite fails with a message instead of hanging CI.</summary>
internal static class Bounded
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

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

    public static async Task<T> ResultAsync<T>(Task<T> task, string what)
    {
        await WaitAsync(task, what);
        return await task;
    }

    /// <summary>A token that cancels after <see cref="Timeout"/>, for host start and stop calls.</summary>
    public static CancellationToken Token() => new CancellationTokenSource(Timeout).Token;
}
