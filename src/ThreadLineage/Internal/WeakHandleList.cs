using System.Runtime.InteropServices;

namespace ThreadLineage.Internal;

/// <summary>
/// A thread-safe list that refers to its items weakly, through GC handles it owns: what a <see cref="LineageNode"/>
/// keeps of its children, and <see cref="ThreadPoolManager.AllInstances"/> of every manager. Being listed never keeps an
/// item alive.
/// </summary>
/// <remarks>
/// Unlike a list of <see cref="WeakReference{T}"/>, adding an item allocates no object, so nothing per item waits for
/// the finalizer and survives a collection to get there; that was most of what beginning a scope cost
/// (docs/performance.md, "Scope cost on unrelated async code"), and a per-request pool paid it too. The handles of dead
/// items are freed when the list doubles past its last live count, which keeps it flat however many short-lived items
/// pass through; the others by the finalizer, once the list is garbage (a node's list, with its node; the managers'
/// list lives as long as the process).
/// </remarks>
internal sealed class WeakHandleList<T>
    where T : class
{
    private const int MinPruneThreshold = 16;

    private readonly Lock _lock = new();
    private WeakGCHandle<T>[] _handles = new WeakGCHandle<T>[4];
    private int _count;
    private int _pruneThreshold = MinPruneThreshold;

    ~WeakHandleList()
    {
        // Unreachable: nothing can add or read any more, so no lock. Each handle is freed once (prunes free only the
        // handles they drop from the array).
        for (var i = 0; i < _count; i++)
        {
            _handles[i].Dispose();
        }
    }

    public void Add(T item)
    {
        // A lock, not a lock-free structure: adds happen once per item, far from the hot path.
        lock (_lock)
        {
            if (_count >= _pruneThreshold)
            {
                Prune();
            }

            if (_count == _handles.Length)
            {
                Array.Resize(ref _handles, _count * 2);
            }

            _handles[_count++] = new WeakGCHandle<T>(item);
        }
    }

    /// <summary>Returns the items alive right now, in the order they were added.</summary>
    public List<T> Snapshot()
    {
        // The same lock as Add: a snapshot never reads a handle that a prune is freeing.
        lock (_lock)
        {
            var live = new List<T>(_count);
            for (var i = 0; i < _count; i++)
            {
                if (_handles[i].TryGetTarget(out var target))
                {
                    live.Add(target);
                }
            }

            return live;
        }
    }

    private void Prune()
    {
        var kept = 0;
        for (var i = 0; i < _count; i++)
        {
            if (_handles[i].TryGetTarget(out _))
            {
                _handles[kept++] = _handles[i];
            }
            else
            {
                _handles[i].Dispose();
            }
        }

        Array.Clear(_handles, kept, _count - kept);
        _count = kept;
        // Amortised O(1): the next prune waits until the live count has doubled.
        _pruneThreshold = Math.Max(MinPruneThreshold, kept * 2);
    }
}
