using System.Runtime.CompilerServices;

// Not ThreadLineage.Tests.Lineage: a namespace of that name would hide the Lineage type in every test file.
namespace ThreadLineage.Tests.LineageModel;

/// <summary>
/// <see cref="Lineage.Current"/> is always the node of the <see cref="ExecutionContext"/> the thread is in, however the
/// thread got there, although each thread remembers the node it last read for its context; and what a thread remembers
/// keeps nothing alive that the thread no longer sees.
/// </summary>
public class CurrentTests
{
    private static readonly AsyncLocal<object?> s_unrelated = new();

    [Fact]
    public void Current_AfterAnUnrelatedAsyncLocalIsSet_IsStillTheScopesNode() => Bounded.OnNewThread(() =>
    {
        var before = Lineage.Current;
        using (var scope = Lineage.BeginScope("scope"))
        {
            Assert.Same(scope.Node, Lineage.Current); // remembered for this context

            s_unrelated.Value = new object();         // a new context, the same node

            Assert.Same(scope.Node, Lineage.Current);
        }

        Assert.Same(before, Lineage.Current);
        return true;
    });

    [Fact]
    public void Current_InExecutionContextRunOfAnotherFlowsContext_IsThatFlowsNode_AndOwnNodeAfterwards() => Bounded.OnNewThread(() =>
    {
        ExecutionContext captured;
        LineageNode capturedNode;
        using (var other = Lineage.BeginScope("other"))
        {
            capturedNode = other.Node;
            Assert.Same(capturedNode, Lineage.Current);
            captured = ExecutionContext.Capture()!;
        }

        using var mine = Lineage.BeginScope("mine");
        Assert.Same(mine.Node, Lineage.Current);
        LineageNode? inside = null;

        ExecutionContext.Run(captured, _ => inside = Lineage.Current, null);

        Assert.Same(capturedNode, inside);
        Assert.Same(mine.Node, Lineage.Current);
        return true;
    });

    [Fact]
    public void Current_WithFlowSuppressed_IsStillTheScopesNode() => Bounded.OnNewThread(() =>
    {
        using var scope = Lineage.BeginScope("scope");
        Assert.Same(scope.Node, Lineage.Current);

        using (ExecutionContext.SuppressFlow())
        {
            Assert.Same(scope.Node, Lineage.Current);
            Assert.Same(scope.Node, Lineage.Current);
        }

        Assert.Same(scope.Node, Lineage.Current);
        return true;
    });

    [Fact]
    public void Current_ReadByAnotherAsyncLocalsChangeHandlerDuringAContextSwitch_IsTheNewContextsNode()
    {
        var seen = new List<(string Other, LineageNode Current)>();
        var other = new AsyncLocal<string?>(args =>
        {
            if (args.ThreadContextChanged)
            {
                seen.Add((args.CurrentValue ?? "none", Lineage.Current));
            }
        });

        // An unrelated thread (Root, nothing set): other is set first, so on every switch between these contexts its
        // handler runs before the lineage's own, while the thread is already in the new context.
        var (nodeA, nodeB) = Bounded.Result(
            TestThreads.StartUnrelated(() =>
            {
                other.Value = "a";
                using var a = Lineage.BeginScope("a");
                var contextA = ExecutionContext.Capture()!;
                other.Value = "b";
                using var b = Lineage.BeginScope("b");
                Assert.Same(b.Node, Lineage.Current); // remembered for context b

                ExecutionContext.Run(contextA, _ => Assert.Same(a.Node, Lineage.Current), null);

                return (a.Node, b.Node);
            }),
            "the unrelated thread");

        Assert.Equal([("a", nodeA), ("b", nodeB)], seen);
    }

    [Fact]
    public void Current_ReadByPoolWorkSubmittedFromTheOwnersNode_DoesNotKeepTheWorksContextAlive()
    {
        using var scope = Lineage.BeginScope(nameof(Current_ReadByPoolWorkSubmittedFromTheOwnersNode_DoesNotKeepTheWorksContextAlive));
        using var pool = Lineage.CreateManager(TestIds.New("pool"));
        pool.Start(1);

        var payload = SubmitFromAChildFlowCarrying(pool, scope.Node);
        FullGc.Collect();

        // The worker's own context has the same node as the work's, so no notification told it the node changed.
        Assert.False(payload.IsAlive, "an idle worker still keeps the context of the work it ran alive");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference SubmitFromAChildFlowCarrying(ThreadPoolManager pool, LineageNode expected) => Bounded.OnNewThread(() =>
    {
        var payload = new object();
        s_unrelated.Value = payload;
        Assert.Same(expected, Bounded.Result(pool.Submit(() => Lineage.Current), "the work that reads Current"));
        return new WeakReference(payload);
    });
}
