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

    /// <summary>
    /// Each group (a pair on two workers, a burst of four on four) right after the previous one finished, while the
    /// workers are still looking for work; in a burst, each worker woken for it must wake the next.
    /// </summary>
    [Theory]
    [InlineData(2, 40_000)]
    [InlineData(4, 5_000)]
    public void GroupThatMustMeet_BackToBackOnOnePoolOfThatManyWorkers_AlwaysRunsConcurrently(int workers, int groups)
    {
        using var manager = new ThreadPoolManager(TestIds.New("wake-back-to-back"));
        manager.Start(workers);
        for (var group = 0; group < groups; group++)
        {
            AssertItemsMeet(manager, workers, $"group {group}");
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
