using System.Diagnostics;
using System.Collections.ObjectModel;
using System.Diagnostics.CodeAnalysis;
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

    // Bumped after every attach or detach anywhere. A node's cache of what its ancestors resolve to is valid
    // only for the version it was filled at, so a change above a node can never be hidden by the cache.
    private static long s_attachVersion;

    private readonly Lock _lock = new();
    private readonly WeakList<LineageNode> _children = new();

    // Copy-on-write under _lock; readers take the published dictionary without locking, so a
    // lookup never waits for an attach. Null until the first manager is attached.
    private volatile Dictionary<string, ThreadPoolManager>? _managers;

    // What the ancestors resolve each looked-up id to (null: nothing), as of one attach version.
    private volatile InheritedCache? _inherited;

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
        CreatedOnThread = DescribeCurrentThread();
        parent?._children.Add(this);
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
    public IReadOnlyList<LineageNode> Children => _children.Snapshot();

    internal int Depth { get; }

    internal long Number { get; }

    internal string CreatedOnThread { get; }

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
        // Writers serialise on the node's lock; the dictionary they publish is never mutated again.
        lock (_lock)
        {
            var current = _managers;
            if (!replace && current is not null && current.TryGetValue(id, out var winner))
            {
                // Another flow attached the same id between our lookup and the lock: share its manager.
                return winner;
            }

            var manager = new ThreadPoolManager(id, this);
            var next = current is null
                ? new Dictionary<string, ThreadPoolManager>(StringComparer.Ordinal)
                : new Dictionary<string, ThreadPoolManager>(current, StringComparer.Ordinal);
            next[id] = manager;
            _managers = next;
            // Interlocked, and after publishing: a reader that sees the new version also sees the manager,
            // and a reader that walked before it publishes its cache under the old version, which is now stale.
            Interlocked.Increment(ref s_attachVersion);
            return manager;
        }
    }

    /// <summary>
    /// Removes <paramref name="manager"/> from this node, if it is still the manager attached under its id (a
    /// manager that was replaced since leaves its replacement attached). Called when the manager is disposed.
    /// </summary>
    internal void Detach(ThreadPoolManager manager)
    {
        // Same discipline as Attach: writers serialise on the node's lock and publish a new dictionary.
        lock (_lock)
        {
            var current = _managers;
            if (current is null || !current.TryGetValue(manager.Id, out var attached) || !ReferenceEquals(attached, manager))
            {
                return;
            }

            var next = new Dictionary<string, ThreadPoolManager>(current, StringComparer.Ordinal);
            next.Remove(manager.Id);
            _managers = next.Count == 0 ? null : next;
            // Interlocked, and after publishing (as in Attach): every node's cache filled before this point is now
            // stale, so no cached inherited resolution can return the detached manager any more.
            Interlocked.Increment(ref s_attachVersion);
        }
    }

    /// <summary>
    /// Returns the nearest manager registered under <paramref name="id"/> on this node's ancestors. Cached per node, so a
    /// lookup from a deep node costs the same as from a shallow one until something is attached somewhere.
    /// </summary>
    internal ThreadPoolManager? ResolveInherited(string id)
    {
        // Read the version before walking: if an attach lands during the walk, the cache we store is already stale.
        var version = Interlocked.Read(ref s_attachVersion);
        var cache = _inherited;
        if (cache is not null && cache.Version == version && cache.Managers.TryGetValue(id, out var cached))
        {
            return cached;
        }

        ThreadPoolManager? found = null;
        for (var walk = Parent; walk is not null; walk = walk.Parent)
        {
            // Nodes holding managers of other ids do not stop the walk (the seed stopped there).
            if (walk.TryGetManager(id, out found))
            {
                break;
            }
        }

        // Copy-on-write: racing fillers may drop each other's entries, which only costs a later walk.
        var entries = cache is not null && cache.Version == version
            ? new Dictionary<string, ThreadPoolManager?>(cache.Managers, StringComparer.Ordinal)
            : new Dictionary<string, ThreadPoolManager?>(StringComparer.Ordinal);
        entries[id] = found;
        _inherited = new InheritedCache(version, entries);
        return found;
    }

    /// <summary>Adds every manager attached to this node or any live node below it.</summary>
    internal void CollectSubtreeManagers(List<ThreadPoolManager> into)
    {
        var pending = new Stack<LineageNode>();
        pending.Push(this);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            if (node._managers is { } managers)
            {
                into.AddRange(managers.Values);
            }

            foreach (var child in node._children.Snapshot())
            {
                pending.Push(child);
            }
        }
    }

    private static string DescribeCurrentThread()
    {
        var thread = Thread.CurrentThread;
        return thread.Name is { Length: > 0 } name
            ? $"thread '{name}'"
            : $"thread {thread.ManagedThreadId}";
    }

    private sealed record InheritedCache(long Version, Dictionary<string, ThreadPoolManager?> Managers);
}
