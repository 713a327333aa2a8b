using ThreadLineage.Tests.Support;

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

    [Fact]
    public void Submit_UnderSuppressFlow_DoesNotLeakAsyncLocalsToTheNextItem()
    {
        using var manager = new ThreadPoolManager("regression-suppressed");
        manager.Start(1);
        Task first, second;
        string? seenBySecond = "unset";
        using (ExecutionContext.SuppressFlow())
        {
            first = manager.Submit(() => s_ambient.Value = "leaked");
            second = manager.Submit(() => seenBySecond = s_ambient.Value);
        }

        Bounded.Wait(Task.WhenAll(first, second), "both items");
        Assert.Null(seenBySecond);
    }

    [Fact]
    public void InlineNestedWait_WithFlowOff_LeavesTheWaitersContextIntact()
    {
        using var manager = new ThreadPoolManager("regression-inline-context");
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, FlowExecutionContext = false });
        var outer = manager.Submit(() =>
        {
            s_ambient.Value = "waiter";
            var inner = manager.Submit(() =>
            {
                var seen = s_ambient.Value;
                s_ambient.Value = "inner";
                return seen;
            });
            var innerSaw = inner.Result; // runs inline on this worker
            return (innerSaw, after: s_ambient.Value);
        });

        var (innerSaw, after) = Bounded.Result(outer, "outer work");
        Assert.Null(innerSaw);
        Assert.Equal("waiter", after);
    }

    [Fact]
    public void Submit_AfterDispose_MessageNamesTheManager()
    {
        var manager = new ThreadPoolManager("regression-disposed");
        manager.Start(1);
        manager.Dispose();
        var error = Assert.Throws<ObjectDisposedException>(() => { _ = manager.Submit(() => { }); });
        Assert.Contains("regression-disposed", error.Message);
    }
}
