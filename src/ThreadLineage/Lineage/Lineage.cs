using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text;

namespace ThreadLineage;

/// <summary>
/// Resolves <see cref="ThreadPoolManager"/>s from the lineage of the current flow: the tree of
/// <see cref="LineageNode"/>s that .NET's <see cref="ExecutionContext"/> carries from a flow to
/// every flow it starts (threads, thread-pool items, tasks, <c>await</c> continuations, pool work).
/// </summary>
/// <remarks>
/// <para>
/// A flow sees <see cref="Current"/>. It gets an <em>own</em> node, a new child of <see cref="Current"/>,
/// the first time it attaches a manager (or when it calls <see cref="BeginScope(string?)"/>); flows it
/// starts from then on inherit that node. Lookups walk from <see cref="Current"/> up to <see cref="Root"/>
/// and never change <see cref="Current"/>.
/// </para>
/// <para>
/// Ownership is per flow and thread: a node is the flow's own only while the flow keeps running on the
/// thread that created it with no other flow in between. A flow that runs a child's code inline, in the
/// child's context below its node (a cancellation callback, a continuation run inside <c>SetResult</c>, a
/// task inlined by <see cref="Task.Wait()"/>), still owns its node afterwards. Code that the runtime runs
/// synchronously inside its parent's call while it sees the parent's own node counts as its parent.
/// Every member is thread-safe.
/// </para>
/// </remarks>
public static class Lineage
{
    private static readonly LineageNode s_root = new(parent: null, name: "root");

    // The node the flow sees; null means Root. Carried by ExecutionContext to every flow this one starts.
    private static readonly AsyncLocal<LineageNode?> s_current = new(OnCurrentChanged);

    // The nodes flows on this thread created, newest first; the flow owns Current when it is the newest.
    // A switch to another flow clears (or parks) it, so a child flow that the runtime later runs on this very
    // thread never mistakes its parent's node for its own (see OnCurrentChanged).
    [ThreadStatic]
    private static OwnedNode? t_owned;

    // What this thread owned when it switched down the tree into a descendant's context (a child's callback or
    // continuation run inline), newest first; given back when the thread switches up to exactly that node again.
    [ThreadStatic]
    private static ParkedOwnership? t_parked;

    // The ExecutionContext this thread last read Current in, and the node it saw there. A context never changes its
    // AsyncLocal values (setting one makes a new context), so while the thread is in that very context the node is the
    // same: reading it costs a reference compare instead of an AsyncLocal lookup. Root is never remembered, and any
    // change of the node on this thread forgets the pair (OnCurrentChanged), so the pair keeps nothing alive that the
    // thread does not see: at most an older context of the node it still is in (see CurrentSlow).
    [ThreadStatic]
    private static ExecutionContext? t_seenContext;

    [ThreadStatic]
    private static LineageNode? t_seenNode;

    // Inline runs nest only so deep; past this many parked stacks, a switch down forgets instead of parking, so a
    // thread never holds an unbounded list of nodes (bounded memory should the runtime ever not switch back).
    private const int MaxParked = 32;

    // Describe indents two spaces per level down to this depth, then names the depth instead.
    private const int MaxIndentedDepth = 16;

    /// <summary>Gets the root of the lineage tree, one per process. Managers attached to it are visible to every flow.</summary>
    public static LineageNode Root => s_root;

    /// <summary>Gets the node the current flow sees: its own node, the node it inherited, or <see cref="Root"/>.</summary>
    public static LineageNode Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            // Null when the flow is suppressed: that context is not remembered (a suppressed flow still sees its values).
            var context = ExecutionContext.Capture();
            return context is not null && ReferenceEquals(context, t_seenContext) ? t_seenNode! : CurrentSlow(context);
        }
    }

    /// <summary>
    /// Returns the nearest manager registered under <paramref name="id"/> from <see cref="Current"/> up to
    /// <see cref="Root"/>; if there is none, creates a new (not started) manager and attaches it to the
    /// flow's own node (creating that node first when the flow has none).
    /// </summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <returns>The resolved or newly created manager.</returns>
    public static ThreadPoolManager GetOrCreateManager(string? id = null)
    {
        id ??= ThreadPoolManager.DefaultId;
        return Resolve(Current, id) ?? OwnNode().GetOrCreateManager(id);
    }

    /// <summary>
    /// Always creates a new (not started) manager and attaches it to the flow's own node, replacing one
    /// with the same id there. It shadows ancestors' managers of that id for this flow and its descendants.
    /// </summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <returns>The new manager.</returns>
    /// <remarks>A replaced manager is detached but not stopped.</remarks>
    public static ThreadPoolManager CreateManager(string? id = null) =>
        OwnNode().Attach(id ?? ThreadPoolManager.DefaultId, replace: true);

    /// <summary>Returns the nearest manager registered under <paramref name="id"/> from <see cref="Current"/> up to <see cref="Root"/>.</summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <returns>The resolved manager.</returns>
    /// <exception cref="ManagerNotFoundException">No node in the lineage has a manager under <paramref name="id"/>.</exception>
    public static ThreadPoolManager GetManager(string? id = null)
    {
        id ??= ThreadPoolManager.DefaultId;
        var current = Current;
        return Resolve(current, id) ?? throw new ManagerNotFoundException(id, current);
    }

    /// <summary>Looks up the nearest manager registered under <paramref name="id"/> from <see cref="Current"/> up to <see cref="Root"/>.</summary>
    /// <param name="id">The manager id; <see langword="null"/> means <see cref="ThreadPoolManager.DefaultId"/>.</param>
    /// <param name="manager">The manager, when found.</param>
    /// <returns><see langword="true"/> if a manager was found. Never creates one.</returns>
    public static bool TryGetManager(string? id, [NotNullWhen(true)] out ThreadPoolManager? manager)
    {
        manager = Resolve(Current, id ?? ThreadPoolManager.DefaultId);
        return manager is not null;
    }

    /// <summary>
    /// Creates a new own node, child of <see cref="Current"/>, and makes it current for this flow and the
    /// flows it starts until the returned scope is disposed.
    /// </summary>
    /// <param name="name">A name for the node, shown by <see cref="Describe"/> and in error messages.</param>
    /// <returns>The scope; dispose it to restore the previous <see cref="Current"/> and stop the managers attached inside it.</returns>
    /// <remarks>
    /// When <see cref="Current"/> lies inside a scope that has already ended, the new node is created under the node
    /// that was current when that scope began, never below the ended scope.
    /// </remarks>
    public static LineageScope BeginScope(string? name = null)
    {
        var previous = s_current.Value;
        // Never below an ended scope (see OwnNode); disposing the new scope still restores previous.
        var node = new LineageNode((previous ?? s_root).LiveAncestorOrSelf(), name);
        MakeOwn(node);
        return new LineageScope(node, previous);
    }

    /// <summary>Renders the live lineage tree, with each node's managers and their state, as indented text.</summary>
    /// <returns>A multi-line description of the tree, starting at <see cref="Root"/>.</returns>
    /// <remarks>
    /// Each level is indented by two spaces, down to depth 16; deeper nodes keep that indentation and name their
    /// depth (<c>[depth 17]</c>), so the text stays linear in the size of the tree however deep it is. The node of a
    /// scope that has been disposed is marked <c>(ended)</c>.
    /// </remarks>
    public static string Describe()
    {
        var builder = new StringBuilder();
        // An explicit stack, not recursion: a chain thousands of nodes deep must not overflow the thread's stack.
        var pending = new Stack<LineageNode>();
        pending.Push(s_root);
        while (pending.Count > 0)
        {
            var node = pending.Pop();
            var pad = new string(' ', Math.Min(node.Depth, MaxIndentedDepth) * 2);
            builder.Append(pad).Append("- ");
            if (node.Depth > MaxIndentedDepth)
            {
                builder.Append("[depth ").Append(node.Depth).Append("] ");
            }

            builder.Append(node.Parent is null ? "root" : node.ToString());
            if (node.IsEnded)
            {
                builder.Append(" (ended)");
            }

            builder.AppendLine();
            foreach (var manager in node.Managers.Values.OrderBy(static m => m.Id, StringComparer.Ordinal))
            {
                builder.Append(pad).Append("    * ").AppendLine(manager.Describe());
            }

            var children = node.Children;
            for (var i = children.Count - 1; i >= 0; i--)
            {
                pending.Push(children[i]);
            }
        }

        return builder.ToString();
    }

    /// <summary>Walks from <paramref name="node"/> to the root and returns the first manager under <paramref name="id"/>.</summary>
    internal static ThreadPoolManager? Resolve(LineageNode node, string id) => node.Resolve(id);

    /// <summary>Reads <see cref="Current"/> from the AsyncLocal and remembers it for <paramref name="context"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static LineageNode CurrentSlow(ExecutionContext? context)
    {
        var node = s_current.Value;
        if (node is null)
        {
            // Root is not remembered: a thread going back to a context with no node (a pool thread between items) gets
            // no notification, and the pair would keep the last context's other values alive.
            return s_root;
        }

        if (context is not null)
        {
            // Thread-local, so no ordering to care about: the pair is only ever read by this thread.
            t_seenContext = context;
            t_seenNode = node;
        }

        return node;
    }

    /// <summary>
    /// Ends a scope, once, in the disposing flow: marks its node ended, and if this flow is inside the scope (its
    /// <see cref="Current"/> is the scope's node or below it) restores the current node the scope replaced.
    /// </summary>
    internal static void EndScope(LineageScope scope, LineageNode? previous)
    {
        var node = scope.Node;
        // Marked before anything else, so that from here on no flow attaches inside the scope through Lineage.
        node.MarkEnded();
        var current = s_current.Value;
        if (current is null || !node.IsAncestorOrSelfOf(current))
        {
            // Another flow's scope (a janitor, a timeout handler), or one this flow already left by ending an outer
            // scope first: this flow's Current, and what it owns, stay as they are.
            return;
        }

        s_current.Value = previous;
        // Forget the owned nodes inside the scope (its node, and nested scopes or own nodes below it, newest first).
        // What remains is what the flow owned before the scope began, unless a context switch since made the thread
        // forget it: then nothing remains, and the flow's next attach creates a fresh own node under previous.
        var owned = t_owned;
        while (owned is not null && node.IsAncestorOrSelfOf(owned.Node))
        {
            owned = owned.Below;
        }

        t_owned = owned;
    }

    /// <summary>
    /// Makes the current thread forget which nodes it owns, returning them. Pools call this around each
    /// work item they run, so that work run inline on a thread never owns the node of the flow that waits
    /// on that thread.
    /// </summary>
    internal static SuspendedOwnership SuspendOwnership()
    {
        var owned = t_owned;
        var parked = t_parked;
        t_owned = null;
        // The parked stacks too: the inline work must not switch back up into the waiter's node and take them.
        t_parked = null;
        // No allocation in the common cases (a worker between items owns nothing; an owner with nothing parked).
        return new SuspendedOwnership(parked is null ? owned : new OwnedAndParked(owned, parked));
    }

    /// <summary>Gives back what <see cref="SuspendOwnership"/> took, after the inline work finished.</summary>
    internal static void ResumeOwnership(SuspendedOwnership suspended)
    {
        // The work ran in another context, which may have the same node as this one (no notification then): do not let
        // this thread keep that context alive while it waits for more work.
        ForgetSeenContext();
        if (suspended.State is OwnedAndParked both)
        {
            t_owned = both.Owned;
            t_parked = both.Parked;
        }
        else
        {
            t_owned = (OwnedNode?)suspended.State;
            t_parked = null;
        }
    }

    /// <summary>Sets the lineage a pool worker's own context sees (its manager's owner), without owning it.</summary>
    internal static void SetWorkerLineage(LineageNode? owner) =>
        s_current.Value = owner is null || ReferenceEquals(owner, s_root) ? null : owner;

    private static LineageNode OwnNode()
    {
        var current = s_current.Value;
        // Inside an ended scope (the flow did not dispose it, or went back into it), nothing is attached to the
        // scope's node or below it: the scope's managers were stopped, and nothing would stop new ones. The flow
        // gets a fresh own node under the node that was current when that scope began. Not atomic with the attach:
        // a scope that another flow ends right after this check may still get this manager (docs/lineage.md says so).
        var live = (current ?? s_root).LiveAncestorOrSelf();
        if (current is not null && ReferenceEquals(current, live) && ReferenceEquals(current, t_owned?.Node))
        {
            return current;
        }

        var node = new LineageNode(live, name: null);
        MakeOwn(node);
        return node;
    }

    private static void MakeOwn(LineageNode node)
    {
        // Assigning raises OnCurrentChanged with ThreadContextChanged == false, which keeps ownership;
        // only then record the node as owned, so the pair is consistent when this method returns.
        s_current.Value = node;
        t_owned = new OwnedNode(node, t_owned);
    }

    private static void OnCurrentChanged(AsyncLocalValueChangedArgs<LineageNode?> args)
    {
        // The node changed on this thread: the remembered context is no longer the one the thread is in.
        ForgetSeenContext();
        var owned = t_owned;
        var parked = t_parked;
        if (!args.ThreadContextChanged || (owned is null && parked is null))
        {
            // An assignment by the flow itself, or a thread that owns nothing (every pool thread between items).
            return;
        }

        // The thread switched execution contexts. A move up the tree keeps (or gives back) ownership, a move down
        // from the owned node parks it; anything else (across the tree, to or from the root, as when a thread runs
        // another flow's work) is another flow: it owns nothing.
        var now = args.CurrentValue;
        var previous = args.PreviousValue;
        if (now is null || previous is null)
        {
            t_owned = null;
        }
        else if (now.IsAncestorOrSelfOf(previous))
        {
            // Up the tree. Back to exactly a node the thread parked on its way down: the child's code that the
            // owner ran inline returned, and the owner gets its nodes back. Otherwise a callee returning or yielding
            // to its caller on this thread (an async method that began its own scope awaits): the caller keeps
            // what it owned.
            if (!TryUnpark(now))
            {
                while (owned is not null && !ReferenceEquals(owned.Node, now))
                {
                    owned = owned.Below;
                }

                t_owned = owned;
            }
        }
        else if (owned is not null && ReferenceEquals(owned.Node, previous) && previous.IsAncestorOrSelfOf(now)
            && (parked?.Count ?? 0) < MaxParked)
        {
            // Down the tree from the node the thread owns: the owner runs a child's code inline (a cancellation
            // callback, a continuation run by SetResult, a task inlined by Wait), in the child's context. The child
            // owns nothing; park the owner's nodes until the thread comes back up to this node. A child that the
            // runtime runs later on this thread, after the owner yielded, never gets them: the thread goes to its
            // own base context first (up or across, or to the root), which is not this move.
            t_parked = new ParkedOwnership(owned, parked, (parked?.Count ?? 0) + 1);
            t_owned = null;
        }
        else
        {
            t_owned = null;
        }
    }

    /// <summary>Forgets the context <see cref="Current"/> was last read in on this thread, and its node.</summary>
    private static void ForgetSeenContext()
    {
        t_seenContext = null;
        t_seenNode = null;
    }

    /// <summary>Gives back the stack parked at <paramref name="node"/>, dropping any parked after it.</summary>
    private static bool TryUnpark(LineageNode node)
    {
        for (var walk = t_parked; walk is not null; walk = walk.Below)
        {
            if (ReferenceEquals(walk.Owned.Node, node))
            {
                t_owned = walk.Owned;
                t_parked = walk.Below;
                return true;
            }
        }

        return false;
    }

    /// <summary>One node a flow on this thread created, above the ones created before it (an immutable stack).</summary>
    private sealed record OwnedNode(LineageNode Node, OwnedNode? Below);

    /// <summary>An owned stack set aside on a switch down from its top node, above those parked before it.</summary>
    private sealed record ParkedOwnership(OwnedNode Owned, ParkedOwnership? Below, int Count);

    /// <summary>What <see cref="SuspendOwnership"/> took when the thread had parked stacks as well.</summary>
    private sealed record OwnedAndParked(OwnedNode? Owned, ParkedOwnership Parked);
}
