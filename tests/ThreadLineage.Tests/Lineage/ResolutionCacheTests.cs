// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>The per-node cache of inherited resolutions never hides a manager attached later.</summary>
public class ResolutionCacheTests
{
    [Fact]
    public void GetManager_AfterCachedMiss_SeesManagerAttachedAbove() => Bounded.OnNewThread(() =>
    {
        var id = $"cache-{Guid.NewGuid():N}";
        using var outer = Lineage.BeginScope("outer");
        using var middle = Lineage.BeginScope("middle");
        using var inner = Lineage.BeginScope("inner");

        Assert.False(Lineage.TryGetManager(id, out _)); // caches "nothing" for id on the inner node
        var attached = outer.Node.GetOrCreateManager(id);

        Assert.Same(attached, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void GetManager_AfterCachedHit_SeesNearerManagerAttachedLater() => Bounded.OnNewThread(() =>
    {
        var id = $"cache-{Guid.NewGuid():N}";
        using var outer = Lineage.BeginScope("outer");
        var far = outer.Node.GetOrCreateManager(id);
        using var middle = Lineage.BeginScope("middle");
        using var inner = Lineage.BeginScope("inner");
        Assert.Same(far, Lineage.GetManager(id)); // caches "far" on the inner node

        var near = middle.Node.GetOrCreateManager(id);

        Assert.Same(near, Lineage.GetManager(id));
        return true;
    });

    [Fact]
    public void GetManager_FromDeepChain_ResolvesTheRootmostAttachment() => Bounded.OnNewThread(() =>
    {
        var id = $"cache-{Guid.NewGuid():N}";
        var scopes = new Stack<LineageScope>();
        scopes.Push(Lineage.BeginScope("top"));
        var manager = scopes.Peek().Node.GetOrCreateManager(id);
        for (var i = 0; i < 64; i++)
        {
            scopes.Push(Lineage.BeginScope($"level-{i}"));
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Same(manager, Lineage.GetManager(id));
        }

        while (scopes.Count > 0)
        {
            scopes.Pop().Dispose();
        }

        return true;
    });
}
