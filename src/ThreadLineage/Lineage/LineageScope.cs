namespace ThreadLineage;

/// <summary>
/// A scope created by <see cref="Lineage.BeginScope(string?)"/>: a new own node that is
/// <see cref="Lineage.Current"/> for the flow (and the flows it starts) until the scope is disposed.
/// </summary>
/// <remarks>
/// <para>
/// Disposing ends the scope: it marks <see cref="Node"/> ended, restores the previous <see cref="Lineage.Current"/>
/// in the flow that disposes if that flow is inside the scope (its current node is <see cref="Node"/> or below it;
/// a flow outside the scope keeps its own), then stops every manager attached to <see cref="Node"/> or to any node
/// below it (<see cref="Dispose"/>: <see cref="ThreadPoolManager.Stop(bool, bool)"/> with <c>wait: true</c>;
/// <see cref="DisposeAsync"/>: <see cref="ThreadPoolManager.StopAsync(CancellationToken)"/>). A second dispose
/// does nothing. Scopes may be disposed in any order, and from any flow.
/// </para>
/// <para>
/// After the end, <see cref="Lineage"/> attaches nothing to <see cref="Node"/> or below it: a flow still inside the
/// ended scope that attaches gets a fresh own node under the parent of <see cref="Node"/> (the node that was current
/// when the scope began).
/// Typical use: one scope per request, per job or per test.
/// </para>
/// </remarks>
public sealed class LineageScope : IDisposable, IAsyncDisposable
{
    private readonly LineageNode? _previous;
    private int _disposed;

    internal LineageScope(LineageNode node, LineageNode? previous)
    {
        Node = node;
        _previous = previous;
    }

    /// <summary>Gets the node this scope created.</summary>
    public LineageNode Node { get; }

    /// <summary>Ends the scope (restoring the previous current node if this flow is inside it) and stops, waiting, every manager attached inside it.</summary>
    public void Dispose()
    {
        if (!TryEnd())
        {
            return;
        }

        if (Node.CollectSubtreeManagers() is not { } managers)
        {
            return;
        }

        // Begin every stop first so the pools drain in parallel, then wait for each.
        foreach (var manager in managers)
        {
            manager.Stop(wait: false);
        }

        foreach (var manager in managers)
        {
            manager.Stop(wait: true);
        }
    }

    /// <summary>Ends the scope (restoring the previous current node if this flow is inside it) and stops every manager attached inside it without blocking.</summary>
    /// <returns>A task that completes when every such manager has drained and its workers have exited.</returns>
    /// <remarks>
    /// Not an <see langword="async"/> method on purpose: the current node is restored synchronously, in the caller's own
    /// context. Inside an async method the assignment would be undone when the method returned.
    /// </remarks>
    public ValueTask DisposeAsync()
    {
        if (!TryEnd())
        {
            return default;
        }

        if (Node.CollectSubtreeManagers() is not { } managers)
        {
            return default;
        }

        var stops = new Task[managers.Count];
        for (var i = 0; i < stops.Length; i++)
        {
            stops[i] = managers[i].StopAsync();
        }

        return new ValueTask(Task.WhenAll(stops));
    }

    private bool TryEnd()
    {
        // Interlocked: concurrent or repeated disposals restore and stop exactly once.
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return false;
        }

        Lineage.EndScope(this, _previous);
        return true;
    }
}
