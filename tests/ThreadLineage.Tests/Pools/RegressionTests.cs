namespace ThreadLineage.Tests.Pools;

/// <summary>Bugs found while building the demo and docs, each pinned by the test that showed it.</summary>
public class RegressionTests
{
    private static readonly AsyncLocal<string?> s_ambient = new();

    [Fact]
    public void Submit_WithAlreadyCanceledToken_ReturnsCanceledTaskAndNeverRuns()
    {
        using var manager = new ThreadPoolManager("regression-canceled");
        manager.Start(1);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var ran = false;

        var action = manager.Submit(() => { ran = true; }, cancellationToken: cts.Token);
        var func = manager.Submit(() => ran = true, cancellationToken: cts.Token);
        var asyncWork = manager.Submit(async () => { ran = true; await Task.Yield(); }, cancellationToken: cts.Token);

        Assert.Equal(TaskStatus.Canceled, action.Status);
        Assert.Equal(TaskStatus.Canceled, func.Status);
        Assert.True(SpinWait.SpinUntil(() => asyncWork.IsCompleted, Bounded.Timeout));
        Assert.Equal(TaskStatus.Canceled, asyncWork.Status);
        manager.Stop();
        Assert.False(ran);
        Assert.Equal(3, manager.GetStatistics().Canceled);
    }






}
