namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// The parking protocol's promise: every queued item has a worker that is awake or about to be woken, so
/// two items that must run at the same time (they meet at a <see cref="Barrier"/>) always do on a two-worker
/// pool. Before the fix, about one pair in 3,000–5,000 ran one after the other: the searching worker's spin
/// timed out just as both items arrived (so their producer woke nobody), it then found the first item while
/// parking, and nobody woke the parked worker for the second.
/// </summary>
public class WorkerWakeUpTests
{
    // Long enough that a healthy pair never times out on a loaded machine; a lost wake-up waits it out.
    private static readonly TimeSpan s_meetTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public void PairThatMustMeet_OnFreshPools_AlwaysRunsConcurrently()
    {
        // A fresh pool right after Start: the workers are still entering their loop and searching.
        for (var pair = 0; pair < 8_000; pair++)
        {
            using var manager = new ThreadPoolManager(TestIds.New("wake-fresh"));
            manager.Start(2);
            AssertItemsMeet(manager, 2, $"pair {pair}");
        }
    }

    [Fact]
    public void PairThatMustMeet_BackToBackOnOnePool_AlwaysRunsConcurrently()
    {
        // Each pair right after the previous one finished: the workers are still looking for work.
        using var manager = new ThreadPoolManager(TestIds.New("wake-back-to-back"));
        manager.Start(2);
        for (var pair = 0; pair < 40_000; pair++)
        {
            AssertItemsMeet(manager, 2, $"pair {pair}");
        }
    }

    [Fact]
    public void BurstThatMustMeet_OnAFourWorkerPool_AlwaysRunsConcurrently()
    {
        // Four items that all wait for each other: each worker woken for the burst must wake the next.
        using var manager = new ThreadPoolManager(TestIds.New("wake-burst"));
        manager.Start(4);
        for (var burst = 0; burst < 5_000; burst++)
        {
            AssertItemsMeet(manager, 4, $"burst {burst}");
        }
    }

    /// <summary>Submits <paramref name="count"/> items that wait for each other at a barrier, and asserts that they all met there.</summary>
    private static void AssertItemsMeet(ThreadPoolManager manager, int count, string what)
    {
        using var barrier = new Barrier(count);
        var items = new Task<bool>[count];
        for (var i = 0; i < items.Length; i++)
        {
            items[i] = manager.Submit(() => barrier.SignalAndWait(s_meetTimeout));
        }

        Bounded.Wait(Task.WhenAll(items), what);
        Assert.True(items.All(static item => item.Result), $"{what}: the {count} items did not all run at once (a worker stayed parked while work was queued).");
    }
}
