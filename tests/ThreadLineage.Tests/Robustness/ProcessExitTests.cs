using Xunit.Abstractions;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// docs/shutdown.md, "Process exit", each scenario in a real child process (tests/ThreadLineage.ExitProbe): queued and
/// running work of non-background pools completes before a normal exit; an idle pool does not keep the process
/// alive; work of background pools is abandoned.
/// </summary>
public sealed class ProcessExitTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("main-returns-drains", "exit-main", 6)]
    [InlineData("environment-exit-drains", "exit-env", 6)]
    public void NonBackgroundPool_QueuedAndRunningWorkFinishesBeforeTheProcessEnds(string scenario, string pool, int items)
    {
        var result = Run(scenario);

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        for (var i = 0; i < items; i++)
        {
            Assert.True(result.Lines.Contains($"done {pool} {i}"), $"work item {i} never finished: {result}");
        }
    }

    [Theory]
    [InlineData("borrowed-main-returns-drains")]
    [InlineData("borrowed-environment-exit-drains")]
    public void BorrowingPoolsOfANonBackgroundHost_TheirWorkFinishesBeforeTheProcessEnds(string scenario)
    {
        var result = Run(scenario);

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Count("done exit-borrower-a"));
        Assert.Equal(3, result.Count("done exit-borrower-b"));
    }

    [Fact]
    public void BorrowingPoolOfABackgroundHost_ItsWorkIsAbandonedAtExit()
    {
        var result = Run("borrowed-background-abandoned");

        Assert.True(result.Exited, $"a background host's borrower kept the process alive: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("borrower is background: True", result.Lines);
        Assert.Equal(0, result.Count("done bg"));
    }

    [Fact]
    public void IdleNonBackgroundPool_DoesNotKeepTheProcessAlive()
    {
        var result = Run("idle-pool-exits");

        Assert.True(result.Exited, $"an idle started pool kept the process alive: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("main returning", result.Lines);
    }

    [Fact]
    public void BackgroundPool_QueuedWorkIsAbandonedAtExit()
    {
        var result = Run("background-abandoned");

        Assert.True(result.Exited, $"a background pool's blocked work kept the process alive: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains("main returning", result.Lines);
        Assert.Equal(0, result.Count("done"));
    }

    [Fact]
    public void BackgroundPool_IsAbandoned_WhileAForegroundPoolDrains()
    {
        var result = Run("background-abandoned-with-foreground-pool");

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Count("done exit-fg"));
        Assert.Equal(0, result.Count("done bg"));
    }

    /// <summary>A pool restarted while its previous run still drains: that run's queued work is not abandoned at exit either.</summary>
    [Fact]
    public void RestartedPool_PreviousRunsQueuedWorkFinishesBeforeEnvironmentExit()
    {
        var result = Run("restart-then-exit-drains");

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        Assert.True(result.Count("done exit-restart") == 4, $"work queued on the run stopped with Stop(wait: false) was lost at exit: {result}");
    }

    /// <summary>
    /// Environment.Exit called by a work item. The runtime raises ProcessExit on another thread while the calling
    /// worker waits inside Environment.Exit, so the exit drain must not wait for that worker.
    /// </summary>
    [Fact]
    public void EnvironmentExit_CalledFromAWorkItem_EndsTheProcess_AfterTheOtherWorkersDrain()
    {
        var result = Run("exit-from-worker");

        Assert.True(result.Exited, $"Environment.Exit from a pool worker never ended the process: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(3, result.Count("done exit-worker"));
    }

    private ProbeResult Run(string scenario)
    {
        var result = ExitProbe.Run(scenario);
        output.WriteLine(result.ToString());
        return result;
    }
}
