using System.Diagnostics;
using ThreadLineage.Pools;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// How long an idle worker spins before it parks adapts to how soon its pool's work arrives: a pool fed now and then
/// stops spinning (many pools on few cores stop burning each other's cores), a pool fed in quick succession spins again.
/// </summary>
public class SpinLengthTests
{
    [Fact]
    public void NewSpin_IsTheLongest()
    {
        Assert.Equal(SpinLength.MaxTicks, new SpinLength().Ticks);
        Assert.Equal(Stopwatch.Frequency * 5 / 1_000_000, SpinLength.MaxTicks);
    }

    [Fact]
    public void SpinsThatTimeOut_HalveTheLength_DownToNone()
    {
        var spin = new SpinLength();
        var lengths = new List<long>();
        while (spin.Ticks != 0)
        {
            Assert.True(lengths.Count < 64, $"the spin never reached 0: {string.Join(", ", lengths)}");
            lengths.Add(spin.Ticks);
            spin.Shorten();
        }

        // Each step halves it, and nothing shorter than the minimum is kept.
        Assert.All(lengths.Zip(lengths.Skip(1)), pair => Assert.Equal(pair.First / 2, pair.Second));
        Assert.True(lengths[^1] >= SpinLength.MinTicks, $"the last spin ({lengths[^1]} ticks) was below the minimum ({SpinLength.MinTicks})");
        Assert.True(lengths[^1] / 2 < SpinLength.MinTicks);

        spin.Shorten();
        Assert.Equal(0, spin.Ticks);
    }

    [Fact]
    public void WorkThatComesSoon_DoublesTheLength_FromTheMinimum_UpToTheLongest()
    {
        var spin = new SpinLength();
        while (spin.Ticks != 0)
        {
            spin.Shorten();
        }

        spin.Lengthen();
        Assert.Equal(SpinLength.MinTicks, spin.Ticks);
        spin.Lengthen();
        Assert.Equal(Math.Min(SpinLength.MaxTicks, SpinLength.MinTicks * 2), spin.Ticks);
        for (var i = 0; i < 64; i++)
        {
            spin.Lengthen();
        }

        Assert.Equal(SpinLength.MaxTicks, spin.Ticks);
    }

    [Fact]
    public void AWorkerParkedForLessThanTheLongestSpin_WouldHaveCaughtItsWork()
    {
        Assert.True(SpinLength.WouldHaveCaught(0));
        Assert.True(SpinLength.WouldHaveCaught(SpinLength.MaxTicks - 1));
        Assert.False(SpinLength.WouldHaveCaught(SpinLength.MaxTicks));
        Assert.False(SpinLength.WouldHaveCaught(Stopwatch.Frequency / 1000));
    }

    [Fact]
    public void APoolFedNowAndThen_StopsSpinning_AndSpinsAgainWhenWorkComesInQuickSuccession()
    {
        using var manager = new ThreadPoolManager("spin-adapts");
        manager.Start(1);
        var run = Assert.IsType<DedicatedRun>(manager.ActiveRun);

        // One item every 2 ms: every spin after an item times out, so the length halves down to none. (A worker that the
        // machine stalls past the next item's arrival lengthens it once; the loop gives it room for that.)
        var items = 0;
        while (run.SpinTicks != 0)
        {
            Assert.True(items < 500, $"the pool still spins {run.SpinTicks} ticks after {items} items 2 ms apart");
            Bounded.Wait(manager.Submit(static () => { }), "an item of the sparse feed");
            items++;
            SpinWait.SpinUntil(() => run.SpinTicks == 0, TimeSpan.FromMilliseconds(2));
        }

        // Items about a microsecond apart: the worker, checking the queue once before it parks, or woken right after it
        // announced itself, finds work within the longest spin and lengthens the spin again.
        var posted = 0;
        var longest = 0L;
        var feeding = Stopwatch.StartNew();
        while (longest == 0 && feeding.Elapsed < Bounded.Timeout)
        {
            manager.Post(static () => { });
            posted++;
            var next = Stopwatch.GetTimestamp() + (Stopwatch.Frequency / 1_000_000);
            while (Stopwatch.GetTimestamp() < next)
            {
                Thread.SpinWait(1);
            }

            longest = Math.Max(longest, run.SpinTicks);
        }

        Assert.True(longest > 0, $"the spin stayed at 0 through {posted} items about 1 µs apart ({feeding.Elapsed.TotalSeconds:F0} s)");
    }
}
