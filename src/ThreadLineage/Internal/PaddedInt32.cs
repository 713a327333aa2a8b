using System.Runtime.InteropServices;

namespace ThreadLineage.Internal;

/// <summary>
/// An <see cref="int"/> alone on its cache line (128 bytes covers adjacent-line prefetching), for a counter
/// that one group of threads updates on every operation while others read their own fields nearby.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PaddedInt32
{
    [FieldOffset(64)]
    public int Value;
}
