using System.Collections.Concurrent;
using CsCheck;
using Xunit.Abstractions;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Property-based tests (CsCheck) of the lineage rules (docs/lineage.md) over random trees of flows: threads,
/// <c>Task.Run</c> and <c>QueueUserWorkItem</c> children, async flows that await, work run by a
/// <see cref="ThreadPoolManager"/> (also inline, on a worker that waits for it), and scopes. Random flows attach
/// managers; every flow checks, at random points, what each id resolves to.
/// </summary>
/// <remarks>
/// Two oracles. A model of the tree that follows docs/lineage.md's rules (own node created on the first attach, a new own
/// node after an await, scopes) predicts every resolution and every <see cref="Lineage.Current"/>. An audit,
/// independent of the model, checks the invariant in its plain words: a manager is seen only by the flow that
/// attached it (after the attach) and by descendants of that flow started after the attach. A failure prints the
/// shrunk tree and the CsCheck seed to replay it.
/// </remarks>
public sealed class LineagePropertyTests(ITestOutputHelper output) : IDisposable
{
    private const int Ids = 3;
    private const int MaxDepth = 3;
    private static int s_sample;

    // Work run by a pool is a flow too; the pool is free-standing, so it adds nothing to anyone's lineage.
    private readonly ThreadPoolManager _pool = StartPool();

    public enum Kind
    {
        Thread,
        TaskRun,
        QueueUserWorkItem,
        AsyncTaskRun,
        PoolItem,
        PoolAsyncItem,
    }

    [Fact]
    public void EveryManager_IsVisibleExactlyToItsFlowAndLaterDescendants_ResolutionIsNearest()
    {
        GenFlow(depth: 0).Sample(
            root => Bounded.OnNewThread(() => RunSample(root), "lineage-property"),
            iter: 60,
            writeLine: output.WriteLine,
            print: static f => f.ToString());
    }

    public void Dispose() => _pool.Dispose();

    private static ThreadPoolManager StartPool()
    {
        var pool = new ThreadPoolManager($"lineage-property-pool-{Guid.NewGuid():N}");
        // Elastic: a worker blocked in a parent's bounded wait never starves a queued child of a worker.
        pool.Start(new ThreadPoolManagerOptions { MaxWorkers = 64, MinWorkers = 2, IdleTimeout = TimeSpan.FromSeconds(1) });
        return pool;
    }

    private static Gen<Flow> GenFlow(int depth) =>
        Gen.Enum<Kind>().SelectMany(kind => GenOps(depth, IsAsync(kind), scopeDepth: 0).Select(ops => new Flow(kind, ops)));

    private static Gen<Op[]> GenOps(int depth, bool isAsync, int scopeDepth) => GenOp(depth, isAsync, scopeDepth).Array[1, 4];

    private static Gen<Op> GenOp(int depth, bool isAsync, int scopeDepth)
    {
        var choices = new List<(int, IGen<Op>)>
        {
            (4, Gen.Select(Gen.Int[0, Ids - 1], Gen.Int[0, 3], static (id, how) => (Op)new Attach(id, Create: how == 0))),
            (3, Gen.Const<Op>(new Check())),
        };
        if (isAsync)
        {
            choices.Add((2, Gen.Const<Op>(new Await())));
        }

        if (depth < MaxDepth)
        {
            choices.Add((3, GenFlow(depth + 1).Array[1, 3].Select(static children => (Op)new Spawn(children))));
        }

        if (scopeDepth < 2)
        {
            choices.Add((1, GenOps(depth, isAsync, scopeDepth + 1).Select(static body => (Op)new Scope(body))));
        }

        return Gen.Frequency([.. choices]);
    }

    private static bool IsAsync(Kind kind) => kind is Kind.AsyncTaskRun or Kind.PoolAsyncItem;

    private bool RunSample(Flow root)
    {
        var sample = Interlocked.Increment(ref s_sample);
        var run = new SampleRun([.. Enumerable.Range(0, Ids).Select(i => $"prop{sample}-{(char)('a' + i)}")], _pool);
        using (var scope = Lineage.BeginScope($"property-{sample}"))
        {
            // The root flow is a child of this thread's scope: it inherits the scope's node and owns nothing yet.
            var top = new ModelNode(null, scope.Node);
            SampleRun.Join(run.Start(root, new FlowState(top, Owned: null), path: []), parentIsPoolWorker: false);
        }

        if (!run.Failures.IsEmpty)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, run.Failures.Take(8)));
        }

        return true;
    }

    /// <summary>One generated tree being run, with what it observed.</summary>
    private sealed class SampleRun(string[] ids, ThreadPoolManager pool)
    {
        // Each attachment: who made it and at which of its steps.
        private readonly ConcurrentDictionary<ThreadPoolManager, (string Flow, int Step)> _attachedBy = new();

        public ConcurrentQueue<string> Failures { get; } = new();

        public Task Start(Flow flow, FlowState inherited, IReadOnlyList<(int Child, int SpawnStep)> path)
        {
            var state = inherited with { Owned = null };
            return flow.Kind switch
            {
                Kind.Thread => OnThread(() => RunSync(flow, state, path, onPoolWorker: false)),
                Kind.TaskRun => Task.Run(() => RunSync(flow, state, path, onPoolWorker: false)),
                Kind.QueueUserWorkItem => OnThreadPool(() => RunSync(flow, state, path, onPoolWorker: false)),
                Kind.AsyncTaskRun => Task.Run(() => RunAsync(flow, state, path)),
                Kind.PoolItem => pool.Submit(() => RunSync(flow, state, path, onPoolWorker: true)),
                _ => pool.Submit(() => RunAsync(flow, state, path)),
            };
        }

        public static void Join(Task child, bool parentIsPoolWorker) => Join([child], [false], parentIsPoolWorker);

        private static void Join(Task[] children, bool[] onPool, bool parentIsPoolWorker)
        {
            // A bounded wait never runs a child inline on this thread; only the pool's own items may be run inline,
            // by a pool worker that waits for them without a timeout (what the nested waits of docs/pools.md rely on).
            var elsewhere = children.Where((_, i) => !(onPool[i] && parentIsPoolWorker)).ToArray();
            if (!Task.WaitAll(elsewhere, Bounded.Timeout))
            {
                throw new TimeoutException("a child flow did not finish");
            }

            var inline = children.Where((_, i) => onPool[i] && parentIsPoolWorker).ToArray();
            Task.WaitAll(inline);
        }

        private void RunSync(Flow flow, FlowState state, IReadOnlyList<(int Child, int SpawnStep)> path, bool onPoolWorker)
        {
            var scopes = new ScopeStack();
            foreach (var (op, step) in Steps(flow))
            {
                if (op is Spawn spawn)
                {
                    var children = new Task[spawn.Children.Length];
                    for (var i = 0; i < children.Length; i++)
                    {
                        children[i] = Start(spawn.Children[i], state, [.. path, (i, step)]);
                    }

                    Join(children, [.. spawn.Children.Select(static c => c.Kind is Kind.PoolItem or Kind.PoolAsyncItem)], onPoolWorker);
                }
                else
                {
                    state = RunScopeOrStep(op, state, scopes, path, step);
                }
            }
        }

        // One method, no nested async calls: an 'await' of a nested async method may complete synchronously (no
        // context switch), which would make the model's "an await drops ownership" depend on timing.
        private async Task RunAsync(Flow flow, FlowState state, IReadOnlyList<(int Child, int SpawnStep)> path)
        {
            var scopes = new ScopeStack();
            foreach (var (op, step) in Steps(flow))
            {
                switch (op)
                {
                    case Await:
                        await Task.Yield();
                        // A real context switch: the flow owns nothing until it attaches again.
                        state = state with { Owned = null };
                        break;
                    case Spawn spawn:
                        var parent = state;
                        var children = spawn.Children.Select((c, i) => Start(c, parent, [.. path, (i, step)])).ToArray();
                        await Task.WhenAll(children).WaitAsync(Bounded.Timeout);
                        // Whether that await switched depends on timing; one more yield always does.
                        await Task.Yield();
                        state = state with { Owned = null };
                        break;
                    default:
                        state = RunScopeOrStep(op, state, scopes, path, step);
                        break;
                }
            }
        }

        /// <summary>The ops of <paramref name="flow"/>, its scopes flattened into begin and end ops, each with its step number (from 1).</summary>
        private static IEnumerable<(Op Op, int Step)> Steps(Flow flow) => Flatten(flow.Ops).Select(static (op, i) => (op, i + 1));

        /// <summary>Runs an op that sync and async flows run alike: a scope's begin or end, or a step (attach, check).</summary>
        private FlowState RunScopeOrStep(Op op, FlowState state, ScopeStack scopes, IReadOnlyList<(int Child, int SpawnStep)> path, int step) =>
            op switch
            {
                BeginScopeOp => BeginScope(state, scopes),
                EndScopeOp => EndScope(state, scopes, path, step),
                _ => Step(op, state, path, step),
            };

        private static IEnumerable<Op> Flatten(Op[] ops)
        {
            foreach (var op in ops)
            {
                if (op is Scope scope)
                {
                    yield return new BeginScopeOp();
                    foreach (var inner in Flatten(scope.Body))
                    {
                        yield return inner;
                    }

                    yield return new EndScopeOp();
                }
                else
                {
                    yield return op;
                }
            }
        }

        private static FlowState BeginScope(FlowState state, ScopeStack scopes)
        {
            var actual = Lineage.BeginScope();
            var node = new ModelNode(state.Current, actual.Node);
            scopes.Push((actual, node, state.Current, state.Owned));
            return new FlowState(node, node);
        }

        private FlowState EndScope(
            FlowState state,
            ScopeStack scopes,
            IReadOnlyList<(int Child, int SpawnStep)> path,
            int step)
        {
            var (actual, node, previous, previousOwned) = scopes.Pop();
            actual.Dispose();
            var after = EndScope(state, node, previous, previousOwned);
            Verify(after, path, step);
            return after;
        }

        private static FlowState EndScope(FlowState state, ModelNode scopeNode, ModelNode previous, ModelNode? previousOwned) =>
            // Disposing restores Current; the flow still owns its earlier node only if it still owned the scope's node.
            new(previous, ReferenceEquals(state.Owned, scopeNode) ? previousOwned : null);

        private FlowState Step(Op op, FlowState state, IReadOnlyList<(int Child, int SpawnStep)> path, int step)
        {
            switch (op)
            {
                case Attach attach:
                    var id = ids[attach.Id];
                    var before = state.Current;
                    var found = attach.Create ? null : before.Resolve(attach.Id);
                    var manager = attach.Create ? Lineage.CreateManager(id) : Lineage.GetOrCreateManager(id);
                    if (found is not null)
                    {
                        Expect(ReferenceEquals(manager, found), path, step, $"GetOrCreateManager('{id}') returned {manager.Owner}'s manager, expected the nearest one on {found.Owner}");
                        Observe(manager, path, step);
                        break;
                    }

                    if (!ReferenceEquals(state.Owned, state.Current))
                    {
                        // The flow gets its own node, a direct child of what it saw.
                        var own = new ModelNode(before, Lineage.Current);
                        Expect(!ReferenceEquals(Lineage.Current, before.Actual), path, step, $"attaching '{id}' from a node the flow does not own did not create an own node");
                        Expect(ReferenceEquals(Lineage.Current.Parent, before.Actual), path, step, "the new own node is not a child of the previous Current");
                        state = new FlowState(own, own);
                    }

                    Expect(ReferenceEquals(manager.Owner, state.Current.Actual), path, step, $"'{id}' was attached to {manager.Owner}, expected {state.Current.Actual}");
                    state.Current.Managers[attach.Id] = manager;
                    _attachedBy[manager] = (Name(path), step);
                    break;
                case Check:
                    Verify(state, path, step);
                    break;
            }

            return state;
        }

        private void Verify(FlowState state, IReadOnlyList<(int Child, int SpawnStep)> path, int step)
        {
            Expect(ReferenceEquals(Lineage.Current, state.Current.Actual), path, step, $"Current is {Lineage.Current}, the model expects {state.Current.Actual}");
            for (var i = 0; i < ids.Length; i++)
            {
                var expected = state.Current.Resolve(i);
                var actual = Lineage.TryGetManager(ids[i], out var m) ? m : null;
                Expect(
                    ReferenceEquals(expected, actual),
                    path,
                    step,
                    $"'{ids[i]}' resolved to {Describe(actual)}, expected {Describe(expected)}");
                if (actual is not null)
                {
                    Observe(actual, path, step);
                }
            }
        }

        /// <summary>The audit: flow <paramref name="path"/> saw <paramref name="manager"/> at its step <paramref name="step"/>.</summary>
        private void Observe(ThreadPoolManager manager, IReadOnlyList<(int Child, int SpawnStep)> path, int step)
        {
            if (!_attachedBy.TryGetValue(manager, out var by))
            {
                return;
            }

            var observer = Name(path);
            var allowed = observer == by.Flow
                ? step > by.Step
                : observer.StartsWith(by.Flow.Length == 0 ? "" : by.Flow + ".", StringComparison.Ordinal)
                    && path[by.Flow.Length == 0 ? 0 : by.Flow.Count(static c => c == '.') + 1].SpawnStep > by.Step;
            Expect(allowed, path, step, $"saw the manager attached by flow [{by.Flow}] at its step {by.Step}, but is neither that flow after the attach nor a descendant started after it");
        }

        private void Expect(bool condition, IReadOnlyList<(int Child, int SpawnStep)> path, int step, string what)
        {
            if (!condition)
            {
                Failures.Enqueue($"flow [{Name(path)}] step {step} on thread '{Thread.CurrentThread.Name ?? Environment.CurrentManagedThreadId.ToString(System.Globalization.CultureInfo.InvariantCulture)}': {what}");
            }
        }

        private static string Name(IReadOnlyList<(int Child, int SpawnStep)> path) => string.Join('.', path.Select(static p => p.Child));

        private static string Describe(ThreadPoolManager? manager) => manager is null ? "nothing" : $"the manager on {manager.Owner}";

        private static Task OnThread(Action body)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            new Thread(() => Complete(body, done)) { IsBackground = true, Name = "flow-thread" }.Start();
            return done.Task;
        }

        private static Task OnThreadPool(Action body)
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            ThreadPool.QueueUserWorkItem(_ => Complete(body, done));
            return done.Task;
        }

        private static void Complete(Action body, TaskCompletionSource done)
        {
            try
            {
                body();
                done.SetResult();
            }
            catch (Exception exception)
            {
                done.SetException(exception);
            }
        }
    }

    /// <summary>The model's node: the managers attached to it, its parent, and the library's node it stands for.</summary>
    private sealed class ModelNode(ModelNode? parent, LineageNode actual)
    {
        public LineageNode Actual { get; } = actual;

        public ConcurrentDictionary<int, ThreadPoolManager> Managers { get; } = new();

        public ThreadPoolManager? Resolve(int id)
        {
            for (var node = this; node is not null; node = node.Parent)
            {
                if (node.Managers.TryGetValue(id, out var manager))
                {
                    return manager;
                }
            }

            return null;
        }

        private ModelNode? Parent { get; } = parent;
    }

    /// <summary>What a flow sees (<see cref="Current"/>) and the node it owns, if any.</summary>
    private sealed record FlowState(ModelNode Current, ModelNode? Owned);

    /// <summary>A flow's open scopes: each with its model node and what the flow saw and owned before it began.</summary>
    private sealed class ScopeStack : Stack<(LineageScope Actual, ModelNode Node, ModelNode Previous, ModelNode? PreviousOwned)>;

    private abstract record Op;

    private sealed record Attach(int Id, bool Create) : Op
    {
        public override string ToString() => $"{(Create ? "Create" : "GetOrCreate")}({(char)('a' + Id)})";
    }

    private sealed record Check : Op
    {
        public override string ToString() => "Check";
    }

    private sealed record Await : Op
    {
        public override string ToString() => "Await";
    }

    private sealed record Spawn(Flow[] Children) : Op
    {
        public override string ToString() => $"Spawn[{string.Join(", ", Children.Select(static c => c.ToString()))}]";
    }

    private sealed record BeginScopeOp : Op;

    private sealed record EndScopeOp : Op;

    private sealed record Scope(Op[] Body) : Op
    {
        public override string ToString() => $"Scope{{{string.Join(", ", Body.Select(static o => o.ToString()))}}}";
    }

    private sealed record Flow(Kind Kind, Op[] Ops)
    {
        public override string ToString() => $"{Kind}({string.Join(", ", Ops.Select(static o => o.ToString()))})";
    }
}
