using Xunit.Abstractions;
using HandOffRule = ThreadLineage.Tests.Pools.ParkingProtocolModel.HandOffRule;

namespace ThreadLineage.Tests.Pools;

/// <summary>
/// Exhaustive interleavings of <see cref="ParkingProtocolModel"/>, a step-by-step model of the worker parking
/// protocol (DedicatedRun.cs, PoolRun.cs): with the hand-off of commit 0892fa0, no interleaving leaves an item queued
/// next to a parked worker; with the rule before it, the checker finds the lost wake-up that commit fixed.
/// </summary>
public sealed class ParkingProtocolModelTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(2, 1, 2)]
    [InlineData(2, 2, 1)]
    [InlineData(3, 1, 3)]
    [InlineData(3, 2, 2)]
    public void Explore_FixedHandOff_NoItemWaitsNextToAParkedWorker(int workers, int producers, int itemsPerProducer)
    {
        // Items run forever once taken (they wait for each other at a barrier): every item needs a worker of its own.
        // With fewer workers than items (3, 2, 2) the last item may wait for a free worker, but never next to a parked one.
        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.FixedRule).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation is null, result.Report);
        Assert.True(result.TerminalStates > 0, $"no terminal state was reached: the model never settles. {result.Summary}");
    }

    [Theory]
    [InlineData(2, 1, 2)]
    [InlineData(2, 2, 2)]
    [InlineData(3, 1, 3)]
    [InlineData(3, 2, 2)]
    public void Explore_FixedHandOff_ItemsThatReturn_NoItemWaitsNextToAParkedWorker(int workers, int producers, int itemsPerProducer)
    {
        // Items return at once: workers go back to the queue without idling (idle stays false), then search and park.
        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.FixedRule, itemsBlockForever: false).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation is null, result.Report);
        Assert.True(result.TerminalStates > 0, $"no terminal state was reached: the model never settles. {result.Summary}");
    }

    [SkippableTheory]
    [InlineData(4, 1, 4, true)]
    [InlineData(4, 2, 2, true)]
    [InlineData(4, 4, 1, true)]
    [InlineData(3, 3, 1, false)]
    [InlineData(4, 1, 4, false)]
    public void Explore_FixedHandOff_LargerPools_WhenThreadLineageModelLargeIsSet(int workers, int producers, int itemsPerProducer, bool itemsBlockForever)
    {
        Skip.If(
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("THREADLINEAGE_MODEL_LARGE")),
            "The larger models are opt-in (up to about 30 s and 1 GB each): set THREADLINEAGE_MODEL_LARGE=1.");

        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.FixedRule, itemsBlockForever).Explore(stateLimit: 50_000_000);
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(result.Violation is null, result.Report);
    }

    [Fact]
    public void Explore_OldHandOff_FindsTheLostWakeUp()
    {
        // Proves the checker can fail: the rule before 0892fa0 loses a wake-up with two workers and two items.
        var result = new ParkingProtocolModel(workers: 2, producers: 1, itemsPerProducer: 2, HandOffRule.OldRule).Explore();
        output.WriteLine(result.Report);

        Assert.False(result.StateLimitReached, result.Report);
        Assert.True(
            result.Violation is not null && result.Violation.StartsWith("LOST WAKE-UP", StringComparison.Ordinal),
            $"the old hand-off rule should lose a wake-up, but the checker found none. {result.Report}");

        // The counterexample is the bug 0892fa0 describes: a producer saw the searcher and woke nobody, the
        // searcher's spin timed out, it announced itself in Park, re-checked, saw work, withdrew, and took the
        // first item without handing off.
        var trace = string.Join(Environment.NewLine, result.Trace);
        Assert.True(result.Trace.Any(static s => s.Contains("WakeOrSpawn saw a searcher", StringComparison.Ordinal)), trace);
        Assert.True(result.Trace.Any(static s => s.Contains("spin TIMED OUT", StringComparison.Ordinal)), trace);
        Assert.True(result.Trace.Any(static s => s.Contains("withdrew the announcement", StringComparison.Ordinal)), trace);
    }

    [Theory]
    [InlineData(3, 1, 3)]
    [InlineData(2, 2, 1)]
    public void Explore_OldHandOff_LosesAWakeUpInOtherConfigurationsToo(int workers, int producers, int itemsPerProducer)
    {
        var result = new ParkingProtocolModel(workers, producers, itemsPerProducer, HandOffRule.OldRule).Explore();
        output.WriteLine(result.Report);

        Assert.True(
            result.Violation is not null && result.Violation.StartsWith("LOST WAKE-UP", StringComparison.Ordinal),
            $"the old hand-off rule should lose a wake-up. {result.Report}");
    }
}
