using System.Runtime.CompilerServices;
using ThreadLineage.Tests.Support;

// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// One test per defect of the Python seed's <c>get_or_create_thread_manager</c> (seed/threadpool-seed.txt), each
/// written as the scenario that exposed it.
/// </summary>
/// <remarks>In the GC-sensitive group (run alone): the reused-thread-id scenario needs dead threads' ids recycled.</remarks>
[Collection(GcSensitiveTestGroup.Name)]
public class SeedDefectRegressionTests
{
    /// <summary>
    /// Seed: <c>resolve</c> stopped at the nearest thread with <em>any</em> manager and, not finding the id there,
    /// created the new manager in <em>that</em> thread's registry — so a child's new id landed in its parent,
    /// visible to the parent and every sibling.
    /// </summary>
    [Fact]
    public void GetOrCreateManager_NewIdInChildOfFlowWithOtherManagers_NotVisibleToParentOrSiblings()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_NewIdInChildOfFlowWithOtherManagers_NotVisibleToParentOrSiblings));
        var parentId = TestIds.New("request");
        var childId = TestIds.New("render");
        Lineage.GetOrCreateManager(parentId);
        using var attached = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var child = TestThreads.StartChild(() =>
        {
            var manager = Lineage.GetOrCreateManager(childId);
            attached.Set();
            Bounded.Wait(release, "the parent's and sibling's checks");
            return manager;
        });

        bool parentSaw, siblingSaw;
        ThreadPoolManager siblingsOwn;
        try
        {
            Bounded.Wait(attached, "the child's attach");
            parentSaw = Lineage.TryGetManager(childId, out _);
            (siblingSaw, siblingsOwn) = Bounded.OnNewThread(() => (Lineage.TryGetManager(childId, out _), Lineage.GetOrCreateManager(childId)), "sibling");
        }
        finally
        {
            release.Set();
        }

        var childManager = Bounded.Result(child, "child");
        Assert.False(parentSaw, "the child's new id is visible to its parent (the seed put it into the parent's registry)");
        Assert.False(siblingSaw, "the child's new id is visible to its sibling");
        Assert.False(scope.Node.TryGetManager(childId, out _));
        Assert.NotSame(scope.Node, childManager.Owner);
        Assert.Same(scope.Node, childManager.Owner!.Parent);
        Assert.NotSame(childManager, siblingsOwn);
    }

    /// <summary>
    /// Seed: with <c>strictly_get=True</c>, a thread whose registry held other ids returned <c>None</c> from that
    /// registry instead of asking its parent, so a strict get failed although an ancestor had the manager.
    /// </summary>
    [Fact]
    public void GetManager_NearestNodeWithManagersLacksId_ReturnsAncestorsManager()
    {
        using var scope = Lineage.BeginScope(nameof(GetManager_NearestNodeWithManagersLacksId_ReturnsAncestorsManager));
        var id = TestIds.New("io");
        var ancestors = Lineage.GetOrCreateManager(id);

        var (resolved, tried, found) = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("cpu"));
            var resolved = Lineage.GetManager(id);
            return (resolved, Lineage.TryGetManager(id, out var found), found);
        });

        Assert.Same(ancestors, resolved);
        Assert.True(tried);
        Assert.Same(ancestors, found);
    }

    /// <summary>
    /// Seed: without <c>strictly_get</c>, the same stop made get-or-create build a duplicate manager for an id an
    /// ancestor already had, in the nearest registry with other ids.
    /// </summary>
    [Fact]
    public void GetOrCreateManager_NearestNodeWithManagersLacksId_ReturnsAncestorsManagerInsteadOfDuplicate()
    {
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_NearestNodeWithManagersLacksId_ReturnsAncestorsManagerInsteadOfDuplicate));
        var id = TestIds.New("io");
        var ancestors = Lineage.GetOrCreateManager(id);

        var (resolved, nearest) = Bounded.OnNewThread(() =>
        {
            Lineage.GetOrCreateManager(TestIds.New("cpu"));
            return (Lineage.GetOrCreateManager(id), Lineage.Current);
        });

        Assert.Same(ancestors, resolved);
        Assert.False(nearest.TryGetManager(id, out _), "get-or-create made a duplicate in the nearest node that had other ids");
        Assert.Single(nearest.Managers);
    }

    /// <summary>
    /// Seed: <c>REGISTRY</c> was keyed by <c>thread.ident</c> and never cleaned, so a new thread that got a dead
    /// thread's ident inherited its managers (about half of 200 short-lived threads did).
    /// </summary>
    [Fact]
    public void GetOrCreateManager_ShortLivedThreadsReusingDeadThreadsIds_EachGetTheirOwnManager()
    {
        const int Threads = 200;
        using var scope = Lineage.BeginScope(nameof(GetOrCreateManager_ShortLivedThreadsReusingDeadThreadsIds_EachGetTheirOwnManager));
        var id = TestIds.New("worker");
        var managers = new List<ThreadPoolManager>(Threads);
        var seenThreadIds = new HashSet<int>();
        var reusedThreadIds = 0;

        for (var i = 0; i < Threads; i++)
        {
            if (i % 10 == 9)
            {
                // Managed thread ids are recycled once dead threads' Thread objects are finalized.
                FullGc.Collect();
            }

            var (threadId, manager) = AttachOnShortLivedThread(id);
            if (!seenThreadIds.Add(threadId))
            {
                reusedThreadIds++;
            }

            managers.Add(manager);
        }

        Assert.True(reusedThreadIds > 0, "Precondition: no short-lived thread reused a dead thread's managed id, so the seed's scenario did not happen.");
        Assert.Equal(Threads, managers.Distinct().Count());
        Assert.Equal(Threads, managers.Select(m => m.Owner).Distinct().Count());
        Assert.All(managers, m => Assert.Same(scope.Node, m.Owner!.Parent));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static (int ThreadId, ThreadPoolManager Manager) AttachOnShortLivedThread(string id) =>
        Bounded.OnNewThread(() => (Environment.CurrentManagedThreadId, Lineage.GetOrCreateManager(id)), "short-lived");
}
