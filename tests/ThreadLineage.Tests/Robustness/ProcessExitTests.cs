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
        var result = ExitProbe.Run(scenario, output);

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
        var result = ExitProbe.Run(scenario, output);

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Count("done exit-borrower-a"));
        Assert.Equal(3, result.Count("done exit-borrower-b"));
    }

    /// <summary>
    /// The process ends by itself, with exit code 0, though a pool is started: its workers are idle (a non-background
    /// pool), or blocked but background (a background pool, and a borrower of a background host, which is as
    /// background as its host); the blocked work never finishes, it is abandoned.
    /// </summary>
    [Theory]
    [InlineData("idle-pool-exits", "main returning", null)]
    [InlineData("background-abandoned", "main returning", "done")]
    [InlineData("borrowed-background-abandoned", "borrower is background: True", "done bg")]
    public void IdleOrBackgroundPool_DoesNotKeepTheProcessAlive_ItsBlockedWorkIsAbandoned(string scenario, string printed, string? abandoned)
    {
        var result = ExitProbe.Run(scenario, output);

        Assert.True(result.Exited, $"the started pool kept the process alive: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains(printed, result.Lines);
        if (abandoned is not null)
        {
            Assert.Equal(0, result.Count(abandoned));
        }
    }

    [Fact]
    public void BackgroundPool_IsAbandoned_WhileAForegroundPoolDrains()
    {
        var result = ExitProbe.Run("background-abandoned-with-foreground-pool", output);

        Assert.True(result.Exited && result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Count("done exit-fg"));
        Assert.Equal(0, result.Count("done bg"));
    }

    /// <summary>A pool restarted while its previous run still drains: that run's queued work is not abandoned at exit either.</summary>
    [Fact]
    public void RestartedPool_PreviousRunsQueuedWorkFinishesBeforeEnvironmentExit()
    {
        var result = ExitProbe.Run("restart-then-exit-drains", output);

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
        var result = ExitProbe.Run("exit-from-worker", output);

        Assert.True(result.Exited, $"Environment.Exit from a pool worker never ended the process: {result}");
        Assert.Equal(0, result.ExitCode);
        Assert.Equal(3, result.Count("done exit-worker"));
    }
}
