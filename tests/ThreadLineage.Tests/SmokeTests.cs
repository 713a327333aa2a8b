using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests;

public class SmokeTests
{
    [Fact]
    public void Submit_RunsOnDedicatedWorker_AndReturnsResult()
    {
        using var manager = new ThreadPoolManager("smoke");
        manager.Start(2);
        var name = Bounded.Result(manager.Submit(() => Thread.CurrentThread.Name), "work");
        Assert.StartsWith("smoke-", name);
        manager.Stop();
        Assert.Equal(1, manager.GetStatistics().Completed);
    }

    [Fact]
    public void NestedWait_OnSaturatedOneWorkerPool_Completes()
    {
        using var manager = new ThreadPoolManager("nested");
        manager.Start(1);
        var outer = manager.Submit(() => manager.Submit(() => 42).Result);
        Assert.Equal(42, Bounded.Result(outer, "nested work"));
    }

    [Fact]
    public void CancelPending_QueuedWorkEndsCanceled()
    {
        using var manager = new ThreadPoolManager("cancel");
        manager.Start(1);
        using var gate = new ManualResetEventSlim();
        using var started = new ManualResetEventSlim();
        var blocker = manager.Submit(() => { started.Set(); gate.Wait(Bounded.Timeout); });
        Bounded.Wait(started, "blocker start");
        var pending = manager.Submit(() => { });
        manager.Stop(wait: false, cancelPending: true);
        gate.Set();
        manager.Stop(wait: true);
        Assert.Equal(TaskStatus.Canceled, pending.Status);
        Assert.Equal(TaskStatus.RanToCompletion, blocker.Status);
    }

    [Fact]
    public async Task AsyncWork_ResumesOnPool()
    {
        await using var manager = new ThreadPoolManager("loop");
        manager.Start(1);
        var names = await Bounded.ResultAsync(manager.Submit(async () =>
        {
            var before = Thread.CurrentThread.Name;
            await Task.Delay(10);
            return (before, Thread.CurrentThread.Name);
        }), "async work");
        Assert.Equal("loop-1", names.before);
        Assert.Equal("loop-1", names.Item2);
    }
}
