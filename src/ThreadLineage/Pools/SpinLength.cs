using System.Diagnostics;

namespace ThreadLineage.Pools;

/// <summary>
/// How long a pool's idle worker spins for work before it parks, adapted to how soon the pool's work arrives.
/// </summary>
/// <remarks>
/// A spin that finds work doubles the length (up to <see cref="MaxTicks"/>, 5 µs); one that times out halves it, down to
/// none below <see cref="MinTicks"/>; a worker woken within <see cref="MaxTicks"/> of parking (a spin would have caught
/// that work) doubles it again. A pool whose items come in quick succession keeps spinning and skips the wake-ups; one
/// whose items come further apart than a spin (many pools sharing few cores, each getting an item now and then) stops
/// burning the cores its producers and the other pools need. Measured in time, not iterations, because the cost of a
/// pause instruction varies tenfold across CPUs.
/// </remarks>
internal struct SpinLength
{
    private long _ticks;

    /// <summary>Initializes the longest spin: a new pool has seen nothing yet.</summary>
    public SpinLength() => _ticks = MaxTicks;

    /// <summary>Gets the longest spin: long enough to catch the next item of a busy producer (a submission takes well under a microsecond), short enough that an idle pool costs nothing.</summary>
    public static long MaxTicks { get; } = Stopwatch.Frequency * 5 / 1_000_000;

    /// <summary>Gets the shortest spin (a quarter of a microsecond); a shorter one is no spin.</summary>
    public static long MinTicks { get; } = Math.Max(1, Stopwatch.Frequency / 4_000_000);

    /// <summary>Gets the length of the next spin, in <see cref="Stopwatch"/> ticks (0: check the queue once and park).</summary>
    public readonly long Ticks => _ticks;

    /// <summary>Work came within the spin, or soon enough that a spin would have caught it: spin longer.</summary>
    public void Lengthen() => _ticks = Math.Min(MaxTicks, Math.Max(MinTicks, _ticks * 2));

    /// <summary>The spin timed out: spin shorter, or not at all.</summary>
    public void Shorten() => _ticks = _ticks / 2 < MinTicks ? 0 : _ticks / 2;

    /// <summary>Gets whether a worker that parked for <paramref name="parkedTicks"/> would have caught its work by spinning.</summary>
    public static bool WouldHaveCaught(long parkedTicks) => parkedTicks < MaxTicks;
}
