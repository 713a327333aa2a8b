using System.Diagnostics;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using ThreadLineage.Internal;

namespace ThreadLineage;

/// <summary>
/// One node of the lineage tree: the managers attached by one flow (or one scope), and a link to the
/// node of the flow that started it.
/// </summary>
/// <remarks>
/// Nodes are plain objects, never keyed by thread id: a node lives as long as a flow, a child node or
/// a running manager refers to it. A node refers to its parent strongly and to its children weakly.
/// All members are thread-safe.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed class LineageNode
{
    private static readonly IReadOnlyDictionary<string, ThreadPoolManager> s_noManagers =
        ReadOnlyDictionary<string, ThreadPoolManager>.Empty;

    private static long s_lastNodeNumber;

    // The thread that created the node, for diagnostics; its description is formatted only when asked for.
    private readonly string? _createdOnThreadName;
    private readonly int _createdOnThreadId;

    // Created on first use (Gate, AddChild): most nodes (an own node per flow, a scope per request) get at most a
    // manager or two and no child, and creating a node is part of what a scope costs the code that begins it.
    private Lock? _lock;
    private volatile WeakHandleList<LineageNode>? _children;

    // Copy-on-write under _lock; readers take the published dictionary without locking, so a
    // lookup never waits for an attach. Null until the first manager is attached.
    private volatile Dictionary<string, ThreadPoolManager>? _managers;

    // What lookups from this node resolved each id to, own managers and inherited ones alike. Replaced by a filled
    // copy (compare-and-swap) to remember one more id, and by an empty view of the next generation whenever this node
    // or an ancestor attaches or detaches (InvalidateSubtree). Volatile: published without a lock.
    private volatile ResolvedView _resolved = ResolvedView.Initial;

    // Set once, on a scope's node, when the scope is disposed; never cleared. Volatile: read without a lock by
    // flows deciding where to attach, which must see the end as soon as the disposing flow has marked it.
    private volatile bool _ended;

    internal LineageNode(LineageNode? parent, string? name)
    {
        Parent = parent;
        Name = name;
        Depth = parent is null ? 0 : parent.Depth + 1;
        // Interlocked: numbers only label nodes in diagnostics, but two nodes must never share one.
        Number = Interlocked.Increment(ref s_lastNodeNumber);
        var thread = Thread.CurrentThread;
        _createdOnThreadName = thread.Name;
        _createdOnThreadId = thread.ManagedThreadId;
        parent?.AddChild(this);
    }

    /// <summary>Gets the node of the flow that started this node's flow; <see langword="null"/> for <see cref="Lineage.Root"/>.</summary>
    public LineageNode? Parent { get; }

    /// <summary>Gets the name given to the node (by <see cref="Lineage.BeginScope(string?)"/>), or <see langword="null"/>.</summary>
    public string? Name { get; }

    /// <summary>Gets a snapshot of the managers attached to this node only (not its ancestors), keyed by id.</summary>
    /// <remarks>A disposed manager is detached from its node: it is not listed, and no lookup returns it.</remarks>
    public IReadOnlyDictionary<string, ThreadPoolManager> Managers
    {
        get
        {
            var managers = _managers;
            // A published dictionary is never mutated again, so wrapping it is already a snapshot.
            return managers is null ? s_noManagers : new ReadOnlyDictionary<string, ThreadPoolManager>(managers);
        }
    }

    /// <summary>Gets a snapshot of the child nodes that are still alive.</summary>
    public IReadOnlyList<LineageNode> Children => LiveChildren();

    internal int Depth { get; }

    internal long Number { get; }

    internal string CreatedOnThread => _createdOnThreadName is { Length: > 0 } name
        ? $"thread '{name}'"
        : $"thread {_createdOnThreadId}";

    /// <summary>Gets whether this node is the node of a scope that has been disposed.</summary>
    internal bool IsEnded => _ended;

    /// <summary>
    /// Returns the manager attached to this node under <paramref name="id"/>, creating and attaching a
    /// new (not started) one if there is none. Ancestors are not searched.
    /// </summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <returns>The manager attached to this node under <paramref name="id"/>.</returns>
    /// <remarks>Concurrent callers on the same node and id all receive the same manager.</remarks>
    public ThreadPoolManager GetOrCreateManager(string? id = null)
    {
        id ??= ThreadPoolManager.DefaultId;
        return TryGetManager(id, out var existing) ? existing : Attach(id, replace: false);
    }

    /// <summary>Looks up the manager attached to this node under <paramref name="id"/>; ancestors are not searched.</summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <param name="manager">The manager, when found.</param>
    /// <returns><see langword="true"/> if this node has a manager under <paramref name="id"/>.</returns>
    public bool TryGetManager(string? id, [NotNullWhen(true)] out ThreadPoolManager? manager)
    {
        var managers = _managers;
        if (managers is not null)
        {
            return managers.TryGetValue(id ?? ThreadPoolManager.DefaultId, out manager);
        }

        manager = null;
        return false;
    }

    /// <summary>Returns a short description: number, name and the thread the node was created on.</summary>
    /// <returns>A description such as <c>node #4 'request-17' (created on thread 'worker-1')</c>.</returns>
    public override string ToString()
    {
        if (Parent is null)
        {
            return "the lineage root";
        }

        return Name is null
            ? $"lineage node #{Number} (created on {CreatedOnThread})"
            : $"lineage node #{Number} '{Name}' (created on {CreatedOnThread})";
    }

    /// <summary>Marks this (scope) node as ended; called once, by the scope's disposal, before it stops its managers.</summary>
    internal void MarkEnded() => _ended = true;

    /// <summary>
    /// Returns this node if neither it nor any ancestor has ended; otherwise the parent of the outermost ended node
    /// above it (the node that was current when that scope began), the nearest node a flow may still attach under.
    /// </summary>
    internal LineageNode LiveAncestorOrSelf()
    {
        LineageNode? outermostEnded = null;
        for (LineageNode? walk = this; walk is not null; walk = walk.Parent)
        {
            if (walk._ended)
            {
                outermostEnded = walk;
            }
        }

        // An ended node is a scope's node, never the root, so it has a parent.
        return outermostEnded?.Parent ?? this;
    }

    /// <summary>Returns whether this node is <paramref name="node"/> or one of its ancestors; walks only the depth difference.</summary>
    internal bool IsAncestorOrSelfOf(LineageNode node)
    {
        var walk = node;
        for (var steps = node.Depth - Depth; steps > 0; steps--)
        {
            walk = walk.Parent!;
        }

        return ReferenceEquals(walk, this);
    }

    /// <summary>Creates a manager and attaches it under <paramref name="id"/>; with <paramref name="replace"/>, an existing one is replaced.</summary>
    internal ThreadPoolManager Attach(string id, bool replace)
    {
        ThreadPoolManager manager;
        // Writers serialise on the node's lock; the dictionary they publish is never mutated again.
        lock (Gate())
        {
            var current = _managers;
            if (!replace && current is not null && current.TryGetValue(id, out var winner))
            {
                // Another flow attached the same id between our lookup and the lock: share its manager.
                return winner;
            }

            manager = new ThreadPoolManager(id, this);
            var next = current is null
                ? new Dictionary<string, ThreadPoolManager>(StringComparer.Ordinal)
                : new Dictionary<string, ThreadPoolManager>(current, StringComparer.Ordinal);
            next[id] = manager;
            _managers = next;
        }

        // After publishing, and before returning: once Attach returns, no view below this node remembers the old answer.
        InvalidateSubtree();
        return manager;
    }

    /// <summary>
    /// Removes <paramref name="manager"/> from this node, if it is still the manager attached under its id (a
    /// manager that was replaced since leaves its replacement attached). Called when the manager is disposed.
    /// </summary>
    internal void Detach(ThreadPoolManager manager)
    {
        // Same discipline as Attach: writers serialise on the node's lock and publish a new dictionary.
        lock (Gate())
        {
            var current = _managers;
            if (current is null || !current.TryGetValue(manager.Id, out var attached) || !ReferenceEquals(attached, manager))
            {
                return;
            }

            var next = new Dictionary<string, ThreadPoolManager>(current, StringComparer.Ordinal);
            next.Remove(manager.Id);
            _managers = next.Count == 0 ? null : next;
        }

        // As in Attach: once Detach returns, no view on this node or below it can return the detached manager.
        InvalidateSubtree();
    }

    /// <summary>
    /// Returns the nearest manager registered under <paramref name="id"/> on this node or its ancestors: one probe of
    /// this node's view once the id has been looked up here, whatever the depth.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal ThreadPoolManager? Resolve(string id)
    {
        // Volatile read: a view is seen with everything its builder read before publishing it.
        var view = _resolved;
        return view.TryGet(id, out var manager) ? manager : ResolveAndRemember(id, view);
    }

    /// <summary>Returns every manager attached to this node or any live node below it; <see langword="null"/> for a node that never had a manager or a child.</summary>
    internal List<ThreadPoolManager>? CollectSubtreeManagers()
    {
        // Volatile reads: a manager attached or a node begun below before this call is seen (racing ones may not be).
        if (_managers is null && _children is null)
        {
            // The common scope: nothing attached inside, nothing begun below. Nothing to allocate either.
            return null;
        }

        var into = new List<ThreadPoolManager>();
        var pending = new Stack<LineageNode>();
        pending.Push(this);
        while (pending.TryPop(out var node))
        {
            if (node._managers is { } managers)
            {
                into.AddRange(managers.Values);
            }

            foreach (var child in node.LiveChildren())
            {
                pending.Push(child);
            }
        }

        return into;
    }

    /// <summary>
    /// Walks from this node up to the root for <paramref name="id"/> and remembers the answer in this node's view, unless
    /// the view was invalidated since <paramref name="seen"/> was read (the answer may then be stale).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private ThreadPoolManager? ResolveAndRemember(string id, ResolvedView seen)
    {
        // Every read below comes after the volatile read of seen, so if seen is current, they see what invalidated its
        // predecessor; if it is not, the compare-and-swap below fails.
        TryGetManager(id, out var found);
        for (var walk = Parent; found is null && walk is not null; walk = walk.Parent)
        {
            // An ancestor's view is its whole resolution (volatile read: current for every change whose invalidation
            // already reached this node, parents being invalidated first); nodes holding other ids do not stop the walk.
            if (walk._resolved.TryGet(id, out found) || walk.TryGetManager(id, out found))
            {
                break;
            }
        }

        var expected = seen;
        while (expected.With(id, found) is { } filled)
        {
            // Interlocked: publishes only over the view the walk started from or a fill of it, never over an invalidation.
            var actual = Interlocked.CompareExchange(ref _resolved, filled, expected);
            if (ReferenceEquals(actual, expected) || actual.Generation != seen.Generation || actual.TryGet(id, out _))
            {
                // Remembered; or invalidated since (the answer may be stale: drop it); or a racing lookup remembered the id.
                break;
            }

            // A racing lookup remembered another id, and the generation is the same (no invalidation since): add ours.
            expected = actual;
        }

        return found;
    }

    /// <summary>Replaces the view of this node and of every live node below it with an empty one of the next generation.</summary>
    /// <remarks>
    /// Parents before children. A lookup that walks past an ancestor's view relies on it: once a child's view has been
    /// replaced, every view between it and the changed node already has been, so what the walk reads there is current.
    /// </remarks>
    private void InvalidateSubtree()
    {
        var pending = new Stack<LineageNode>();
        pending.Push(this);
        while (pending.TryPop(out var node))
        {
            // Volatile read; the compare-and-swap below retries until it has replaced the latest view.
            var view = node._resolved;
            // Interlocked: a lookup that read the old view and is still walking must fail its compare-and-swap.
            while (Interlocked.CompareExchange(ref node._resolved, view.Next(), view) is var now && !ReferenceEquals(now, view))
            {
                view = now;
            }

            foreach (var child in node.LiveChildren())
            {
                pending.Push(child);
            }
        }
    }

    /// <summary>Returns the node's lock, creating it on the first attach.</summary>
    private Lock Gate()
    {
        // Volatile read: a lock published by another thread's compare-and-swap is seen fully constructed.
        if (Volatile.Read(ref _lock) is { } existing)
        {
            return existing;
        }

        var created = new Lock();
        // Interlocked: racing first writers agree on one lock (the loser's is garbage).
        return Interlocked.CompareExchange(ref _lock, created, null) ?? created;
    }

    private void AddChild(LineageNode child)
    {
        // Volatile read: a list published by another child's compare-and-swap is seen fully constructed.
        var children = _children;
        if (children is null)
        {
            var created = new WeakHandleList<LineageNode>();
            // Interlocked: racing first children agree on one list (the loser adds to the winner's). A full fence, so an
            // invalidation that replaced this node's view and then found no list is seen by every lookup from the child.
            children = Interlocked.CompareExchange(ref _children, created, null) ?? created;
        }

        children.Add(child);
    }

    /// <summary>Returns the children alive right now (an empty list for a node that never had one).</summary>
    /// <remarks>A volatile read of the list, published complete by AddChild; the snapshot itself is taken under the list's lock.</remarks>
    private List<LineageNode> LiveChildren() => _children?.Snapshot() ?? [];
}
