// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// A disposed <see cref="ThreadPoolManager"/> is detached from its <see cref="LineageNode"/>: no lookup returns it,
/// the node no longer lists it, and the id is free for a new manager; a stopped one stays attached
/// (docs/lineage.md, "Disposed managers are detached").
/// </summary>
public class DetachTests
{
    [Fact]
    public void Dispose_ManagerAttachedToNode_IsNoLongerListedOrResolved()
    {
        using var scope = Lineage.BeginScope(nameof(Dispose_ManagerAttachedToNode_IsNoLongerListedOrResolved));
        var id = TestIds.New("io");
        var kept = Lineage.GetOrCreateManager(TestIds.New("kept"));
        var manager = Lineage.GetOrCreateManager(id);
        manager.Start(1);

        manager.Dispose();

        Assert.False(scope.Node.Managers.ContainsKey(id));
        Assert.False(scope.Node.TryGetManager(id, out _));
        Assert.False(Lineage.TryGetManager(id, out _));
        Assert.Throws<ManagerNotFoundException>(() => Lineage.GetManager(id));
        Assert.False(Bounded.OnNewThread(() => Lineage.TryGetManager(id, out _)), "a child flow still resolves the disposed manager");
        Assert.Same(kept, scope.Node.Managers[kept.Id]);
        Assert.Same(scope.Node, manager.Owner);
    }

    [Fact]
    public async Task DisposeAsync_ManagerAttachedToNode_IsNoLongerListedOrResolved()
    {
        using var scope = Lineage.BeginScope(nameof(DisposeAsync_ManagerAttachedToNode_IsNoLongerListedOrResolved));
        var id = TestIds.New("io");
        var manager = Lineage.GetOrCreateManager(id);
        manager.Start(1);

        await manager.DisposeAsync();

        Assert.Empty(scope.Node.Managers);
        Assert.False(Lineage.TryGetManager(id, out _));
    }

    [Fact]
    public void GetOrCreateManager_AfterDispose_CreatesFreshManagerOnTheSameNode()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_AfterDispose_CreatesFreshManagerOnTheSameNode));
        var id = TestIds.New("io");
        var disposed = Lineage.GetOrCreateManager(id);
        disposed.Dispose();

        var fresh = Lineage.GetOrCreateManager(id);
        var viaNode = scope.Node.GetOrCreateManager(id);

        Assert.NotSame(disposed, fresh);
        Assert.Same(fresh, viaNode);
        Assert.Same(scope.Node, fresh.Owner);
        fresh.Start(1);
        Assert.Equal(7, Bounded.Result(fresh.Submit(() => 7), "work on the fresh manager"));
    }

    [Fact]
    public void Dispose_ManagerOnRoot_DoesNotPoisonItsIdForTheProcess()
    {
        var id = TestIds.New("process-wide");
        var disposed = Lineage.Root.GetOrCreateManager(id);
        disposed.Start(1);

        disposed.Dispose();
        var (resolvedByUnrelated, fresh) = Bounded.Result(
            TestThreads.StartUnrelated(() => (Lineage.TryGetManager(id, out var seen) ? seen : null, Lineage.Root.GetOrCreateManager(id))),
            "unrelated thread");
        using var cleanup = fresh;

        Assert.Null(resolvedByUnrelated);
        Assert.NotSame(disposed, fresh);
        Assert.Same(Lineage.Root, fresh.Owner);
        Assert.Same(fresh, Lineage.Root.Managers[id]);
        Assert.Same(fresh, Lineage.GetManager(id));
        fresh.Start(1);
        Assert.True(fresh.IsRunning);
    }

    [Fact]
    public void Dispose_AfterDescendantCachedTheResolution_DescendantNoLongerResolvesIt()
    {
        using var scope = Lineage.BeginScope(nameof(Dispose_AfterDescendantCachedTheResolution_DescendantNoLongerResolvesIt));
        var id = TestIds.New("io");
        var manager = Lineage.GetOrCreateManager(id);
        using var middle = Lineage.BeginScope("middle");
        using var inner = Lineage.BeginScope("inner");
        Assert.Same(manager, Lineage.GetManager(id)); // fills the inner node's cache of inherited resolutions

        manager.Dispose();

        Assert.False(Lineage.TryGetManager(id, out _), "the inner node's cache still resolves the disposed manager");
        Assert.Same(inner.Node, Lineage.GetOrCreateManager(id).Owner);
    }

    [Fact]
    public void Dispose_ManagerThatWasReplaced_LeavesItsReplacementAttached()
    {
        using var scope = Lineage.BeginScope(nameof(Dispose_ManagerThatWasReplaced_LeavesItsReplacementAttached));
        var id = TestIds.New("io");
        var replaced = Lineage.CreateManager(id);
        var replacement = Lineage.CreateManager(id);

        replaced.Dispose();

        Assert.Same(replacement, scope.Node.Managers[id]);
        Assert.Same(replacement, Lineage.GetManager(id));
    }

    [Fact]
    public void Dispose_SecondTimeAfterIdWasReused_LeavesTheNewManagerAttached()
    {
        using var scope = Lineage.BeginScope(nameof(Dispose_SecondTimeAfterIdWasReused_LeavesTheNewManagerAttached));
        var id = TestIds.New("io");
        var first = Lineage.GetOrCreateManager(id);
        first.Dispose();
        var second = Lineage.GetOrCreateManager(id);

        first.Dispose();
        Bounded.Wait(first.DisposeAsync().AsTask(), "a second DisposeAsync");

        Assert.NotSame(first, second);
        Assert.Same(second, scope.Node.Managers[id]);
        Assert.Same(second, Lineage.GetManager(id));
    }

    [Fact]
    public void Stop_Manager_StaysAttachedAndCanStartAgain()
    {
        using var scope = Lineage.BeginScope(nameof(Stop_Manager_StaysAttachedAndCanStartAgain));
        var id = TestIds.New("io");
        using var manager = Lineage.GetOrCreateManager(id);
        manager.Start(1);

        manager.Stop();
        var resolvedWhileStopped = Lineage.GetManager(id);
        manager.Start(1);

        Assert.Same(manager, resolvedWhileStopped);
        Assert.Same(manager, scope.Node.Managers[id]);
        Assert.Same(manager, Lineage.GetOrCreateManager(id));
        Assert.Equal(3, Bounded.Result(manager.Submit(() => 3), "work after the restart"));
    }

    [Fact]
    public void Dispose_ManagerInsideScope_ScopeDisposalStillStopsTheOthers()
    {
        using var outer = Lineage.BeginScope(nameof(Dispose_ManagerInsideScope_ScopeDisposalStillStopsTheOthers));
        var scope = Lineage.BeginScope("job");
        var disposed = Lineage.GetOrCreateManager(TestIds.New("disposed"));
        disposed.Start(1);
        using var other = Lineage.GetOrCreateManager(TestIds.New("other"));
        other.Start(1);
        disposed.Dispose();

        scope.Dispose();

        Assert.False(other.IsRunning);
        Assert.Single(scope.Node.Managers);
    }
}
