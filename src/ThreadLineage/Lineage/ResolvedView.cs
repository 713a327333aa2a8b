using System.Runtime.CompilerServices;

namespace ThreadLineage;

/// <summary>
/// What lookups from one <see cref="LineageNode"/> resolved ids to (a manager, or <see langword="null"/> for none),
/// remembered for one <see cref="Generation"/> of that node. Immutable: a node publishes a new view to remember one
/// more id, and a new, empty view of the next generation whenever something is attached to or detached from it or
/// one of its ancestors (<see cref="LineageNode"/> remarks).
/// </summary>
/// <remarks>
/// Up to <see cref="MaxScanned"/> ids are kept in an array and found by a linear scan, which for an id passed as the
/// same string instance every time (a literal or a constant) is one reference compare per entry and no hashing;
/// beyond that, in a dictionary. A view never grows past <see cref="MaxEntries"/> ids, so a node looked up under
/// ever new ids keeps bounded memory (ids past the limit are resolved by walking, and not remembered).
/// </remarks>
internal sealed class ResolvedView
{
    private const int MaxScanned = 8;
    private const int MaxEntries = 256;

    private readonly Entry[] _scanned;
    private readonly Dictionary<string, ThreadPoolManager?>? _hashed;

    private ResolvedView(long generation, Entry[] scanned, Dictionary<string, ThreadPoolManager?>? hashed)
    {
        Generation = generation;
        _scanned = scanned;
        _hashed = hashed;
    }

    /// <summary>Gets the empty view of generation 0 that every node starts with.</summary>
    public static ResolvedView Initial { get; } = new(0, [], null);

    /// <summary>Gets the generation of the node this view was built for: the number of invalidations before it.</summary>
    public long Generation { get; }

    /// <summary>Returns an empty view of the next generation.</summary>
    public ResolvedView Next() => new(Generation + 1, [], null);

    /// <summary>Looks up what <paramref name="id"/> was resolved to.</summary>
    /// <returns><see langword="true"/> if the view remembers <paramref name="id"/> (<paramref name="manager"/> may then be <see langword="null"/>: nothing).</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryGet(string id, out ThreadPoolManager? manager)
    {
        if (_hashed is null)
        {
            var scanned = _scanned;
            for (var i = 0; i < scanned.Length; i++)
            {
                // References first: a literal id matches without reading its characters.
                var known = scanned[i].Id;
                if (ReferenceEquals(known, id) || string.Equals(known, id, StringComparison.Ordinal))
                {
                    manager = scanned[i].Manager;
                    return true;
                }
            }

            manager = null;
            return false;
        }

        return _hashed.TryGetValue(id, out manager);
    }

    /// <summary>Returns a view of the same generation that also remembers <paramref name="id"/>; <see langword="null"/> when this one is full.</summary>
    public ResolvedView? With(string id, ThreadPoolManager? manager)
    {
        if (_hashed is not null)
        {
            if (_hashed.Count >= MaxEntries)
            {
                return null;
            }

            return new ResolvedView(Generation, [], new Dictionary<string, ThreadPoolManager?>(_hashed, StringComparer.Ordinal) { [id] = manager });
        }

        if (_scanned.Length < MaxScanned)
        {
            var scanned = new Entry[_scanned.Length + 1];
            _scanned.CopyTo(scanned, 0);
            scanned[^1] = new Entry(id, manager);
            return new ResolvedView(Generation, scanned, null);
        }

        var hashed = new Dictionary<string, ThreadPoolManager?>(MaxScanned * 2, StringComparer.Ordinal);
        foreach (var entry in _scanned)
        {
            hashed[entry.Id] = entry.Manager;
        }

        hashed[id] = manager;
        return new ResolvedView(Generation, [], hashed);
    }

    private readonly record struct Entry(string Id, ThreadPoolManager? Manager);
}
