using System.Diagnostics;

namespace ThreadLineage.Internal;

/// <summary>
/// A thread-safe list that refers to its items weakly, so that being listed never keeps an item
/// alive. Dead entries are pruned when the list doubles past its last live count, which keeps
/// memory flat however many short-lived items pass through it.
/// </summary>
internal sealed class WeakList<T>
    where T : class
{
    private readonly List<WeakReference<T>> _items = [];
    private readonly Lock _lock = new();
    private int _pruneThreshold = 16;

    public void Add(T item)
    {
        // A lock, not a lock-free structure: adds happen once per node or manager, far from the hot path.
        lock (_lock)
        {
            if (_items.Count >= _pruneThreshold)
            {
                _items.RemoveAll(static reference => !reference.TryGetTarget(out _));
                // Amortised O(1): the next prune waits until the live count has doubled.
                _pruneThreshold = Math.Max(16, _items.Count * 2);
            }

            _items.Add(new WeakReference<T>(item));
        }
    }

    /// <summary>Returns the items alive right now, in the order they were added.</summary>
    public List<T> Snapshot()
    {
        lock (_lock)
        {
            var live = new List<T>(_items.Count);
            foreach (var reference in _items)
            {
                if (reference.TryGetTarget(out var target))
                {
                    live.Add(target);
                }
            }

            Debug.Assert(live.Count <= _items.Count);
            return live;
        }
    }
}
