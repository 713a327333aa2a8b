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
            AssertPairMeets(manager, pair);
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
            AssertPairMeets(manager, pair);
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
            using var barrier = new Barrier(4);
            var items = new Task<bool>[4];
            for (var i = 0; i < items.Length; i++)
            {
                items[i] = manager.Submit(() => barrier.SignalAndWait(s_meetTimeout));
            }

            Bounded.Wait(Task.WhenAll(items), $"burst {burst}");
            Assert.True(items.All(static item => item.Result), $"burst {burst}: the four items did not all run at once (a worker stayed parked while work was queued).");
        }
    }

    private static void AssertPairMeets(ThreadPoolManager manager, int pair)
    {
        using var barrier = new Barrier(2);
        var first = manager.Submit(() => barrier.SignalAndWait(s_meetTimeout));
        var second = manager.Submit(() => barrier.SignalAndWait(s_meetTimeout));
        Bounded.Wait(Task.WhenAll(first, second), $"pair {pair}");
        Assert.True(first.Result && second.Result, $"pair {pair}: the two items ran one after the other (a worker stayed parked while work was queued).");
    }
}
