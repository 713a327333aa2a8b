using System.Diagnostics;
using System.Runtime.CompilerServices;
using ThreadLineage.Tests.Support;
using Xunit.Abstractions;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// docs/lineage.md invariant 5 ("No leaks"): nodes and managers that are not running are collectable; a million
/// short-lived flows creating managers leave memory flat; <see cref="ThreadPoolManager.AllInstances"/> does not grow
/// without bound. The measured figures are printed (docs/reliability.md records them). Heap measurements mean
/// something only while nothing else allocates, so the class runs alone (<see cref="GcSensitiveTestGroup"/>).
/// </summary>
[Collection(GcSensitiveTestGroup.Name)]
public sealed class MemoryTests(ITestOutputHelper output)
{
    private const int Flows = 1_000_000;
    private const long AllowedGrowth = 5 * 1024 * 1024;

    [Fact]
    public void MillionShortLivedFlows_CreatingManagers_LeaveTheManagedHeapFlat() => Bounded.OnNewThread(
        () =>
        {
            var id = $"memory-{Guid.NewGuid():N}";
            using var scope = Lineage.BeginScope("memory");
            var result = Bounded.OnNewThread(() => MeasureFlows(id, scope.Node), "memory-flows");
            output.WriteLine(result.Report);
            Assert.True(result.Managers == Flows, $"expected {Flows:N0} flows to create {Flows:N0} managers, they created {result.Managers:N0}");
            Assert.True(result.Growth < AllowedGrowth, $"the heap grew by {result.Growth / 1024.0 / 1024:F2} MB over {Flows:N0} flows");
            Assert.True(result.InstancesGrowth < 1000, $"AllInstances grew by {result.InstancesGrowth}");
            Assert.True(result.LiveChildren < 1000, $"{result.LiveChildren} child nodes of dead flows are still alive");
            return true;
        },
        "memory-scope");

    private static (long Managers, long Growth, int InstancesGrowth, int LiveChildren, string Report) MeasureFlows(string id, LineageNode scope)
    {
        // This thread inherits the scope without owning it. Each ExecutionContext.Run of the captured context is a
        // new flow of its own: its GetOrCreateManager creates an own node (a child of the scope) and a manager, and
        // both are garbage as soon as the flow ends.
        var context = ExecutionContext.Capture()!;
        var created = new StrongBox<long>();
        ContextCallback flow = state =>
        {
            var manager = Lineage.GetOrCreateManager((string)state!);
            if (!ReferenceEquals(manager.Owner, scope))
            {
                created.Value++;
            }
        };

        RunFlows(context, flow, id, 20_000);
        created.Value = 0;
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var instancesBefore = ThreadPoolManager.AllInstances.Count;
        var clock = Stopwatch.StartNew();

        RunFlows(context, flow, id, Flows - 50_000);
        // Real thread-pool flows too, in batches.
        long pooled = 0;
        for (var batch = 0; batch < 50; batch++)
        {
            var tasks = new Task<bool>[1000];
            for (var i = 0; i < tasks.Length; i++)
            {
                tasks[i] = Task.Run(() => Lineage.GetOrCreateManager(id).Owner != scope);
            }

            Bounded.Wait(Task.WhenAll(tasks), "a batch of thread-pool flows");
            pooled += tasks.Count(static t => t.Result);
        }

        var elapsed = clock.Elapsed;
        var after = GC.GetTotalMemory(forceFullCollection: true);
        var instancesAfter = ThreadPoolManager.AllInstances.Count;
        var liveChildren = scope.Children.Count;
        var managers = created.Value + pooled;
        var report =
            $"{managers:N0} flows each creating an own node and a manager in {elapsed.TotalSeconds:F1}s: managed heap " +
            $"{before / 1024.0 / 1024:F2} MB before, {after / 1024.0 / 1024:F2} MB after a full GC (growth {(after - before) / 1024.0:F0} KB); " +
            $"AllInstances {instancesBefore} before, {instancesAfter} after; live child nodes of the scope: {liveChildren}.";
        return (managers, after - before, instancesAfter - instancesBefore, liveChildren, report);
    }

    [Fact]
    public void StartedThenStoppedManagers_AndTheirNodes_AreCollectable()
    {
        var references = CreateStartAndStopManagers();

        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        var alive = references.Where(static r => r.Reference.IsAlive).Select(static r => r.What).ToList();
        output.WriteLine($"{references.Count} weak references to stopped managers and their nodes; {alive.Count} still alive after a full GC.");
        Assert.True(alive.Count == 0, $"still reachable after a full GC: {string.Join(", ", alive)}");
    }

    [Fact]
    public void AllInstances_DoesNotGrowWithoutBound()
    {
        var before = ThreadPoolManager.AllInstances.Count;
        CreateManyManagers(100_000);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        CreateManyManagers(10);

        var after = ThreadPoolManager.AllInstances.Count;
        output.WriteLine($"AllInstances: {before} before, {after} after 100,000 unreferenced managers and a full GC.");
        Assert.True(after - before < 1000, $"AllInstances grew from {before} to {after}");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void RunFlows(ExecutionContext context, ContextCallback flow, string id, int count)
    {
        for (var i = 0; i < count; i++)
        {
            ExecutionContext.Run(context, flow, id);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void CreateManyManagers(int count)
    {
        for (var i = 0; i < count; i++)
        {
            _ = new ThreadPoolManager($"memory-instances-{i}");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static List<(string What, WeakReference Reference)> CreateStartAndStopManagers()
    {
        var references = new List<(string, WeakReference)>();
        Bounded.OnNewThread(
            () =>
            {
                // Attached to a flow's own node, started, used and stopped in every way.
                for (var way = 0; way < 5; way++)
                {
                    var manager = Lineage.CreateManager($"memory-stopped-{way}");
                    manager.Start(2);
                    Bounded.Wait(manager.Submit(static () => { }), "work");
                    Bounded.Wait(manager.Submit(static async () => await Task.Yield()), "async work");
                    manager.Post(static () => { });
                    switch (way)
                    {
                        case 0:
                            manager.Stop(wait: true);
                            break;
                        case 1:
                            Bounded.Wait(manager.StopAsync(), "StopAsync");
                            break;
                        case 2:
                            manager.Dispose();
                            break;
                        case 3:
                            manager.Stop(wait: true, cancelPending: true);
                            manager.Start(1);
                            manager.Stop(wait: true);
                            break;
                        default:
                            Bounded.Wait(manager.DisposeAsync().AsTask(), "DisposeAsync");
                            break;
                    }

                    references.Add(($"manager {way}", new WeakReference(manager)));
                    references.Add(($"node of manager {way}", new WeakReference(manager.Owner)));
                }

                // A scope whose managers were started and stopped by its disposal.
                using (var scope = Lineage.BeginScope("memory-scope"))
                {
                    var inScope = Lineage.GetOrCreateManager("memory-in-scope");
                    inScope.Start(1);
                    Bounded.Wait(inScope.Submit(static () => { }), "work in the scope");
                    references.Add(("manager of a scope", new WeakReference(inScope)));
                    references.Add(("scope node", new WeakReference(scope.Node)));
                }

                var free = new ThreadPoolManager("memory-free-standing");
                free.Start(1);
                Bounded.Wait(free.Submit(static () => { }), "work");
                free.Stop();
                references.Add(("free-standing manager", new WeakReference(free)));
                return true;
            },
            "memory-stopped");
        return references;
    }
}
