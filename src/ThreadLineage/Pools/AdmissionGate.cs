using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ThreadLineage.Pools;

/// <summary>
/// A run's admission gate: the number of enqueuers inside it and two flags, packed in one <see cref="int"/> so that
/// they change together atomically. <c>StopRequested</c> refuses new submissions (continuations and borrowers' turns
/// still get in); <c>Closed</c> refuses every enqueue. Alone on its cache line (128 bytes covers adjacent-line
/// prefetching): every submission updates it twice, while the workers update their own fields nearby.
/// </summary>
/// <remarks>
/// The run closes the gate only when no enqueuer is inside (<see cref="TryCloseWhenEmpty"/>), or closes it and then waits
/// until those inside have left (<see cref="Close"/>), so an item that got through the gate is always enqueued before the
/// run stops reading its queue. A mutable struct: use it only as a field, never a copy.
/// </remarks>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct AdmissionGate
{
    private const int StopRequestedFlag = 1 << 30;
    private const int ClosedFlag = 1 << 29;
    private const int EnqueuersMask = ClosedFlag - 1;

    [FieldOffset(64)]
    private int _state;

    /// <summary>Reads the gate (a volatile read).</summary>
    public State Read() => new(Volatile.Read(ref _state));

    /// <summary>Enters the gate and returns the state as it was entered; the caller must <see cref="Leave"/> either way.</summary>
    /// <remarks>Interlocked: the increment publishes the enqueuer to a closing run, which waits until the count drops.</remarks>
    public State Enter() => new(Interlocked.Increment(ref _state));

    /// <summary>Leaves the gate.</summary>
    public void Leave()
    {
        // Interlocked: the decrement tells a closing run that this enqueuer is gone.
        var left = new State(Interlocked.Decrement(ref _state));
        Debug.Assert(left.Enqueuers != EnqueuersMask, "the gate's enqueuer count went below zero");
    }

    /// <summary>Refuses new submissions from now on.</summary>
    /// <remarks>Interlocked: the flag is published atomically with the enqueuer count other threads update.</remarks>
    public void RequestStop() => Interlocked.Or(ref _state, StopRequestedFlag);

    /// <summary>Refuses every enqueue from now on, whoever is inside (the caller then waits for them to leave).</summary>
    public void Close() => Interlocked.Or(ref _state, ClosedFlag);

    /// <summary>Closes the gate if nobody is inside; returns whether it is closed (by this call or before).</summary>
    public bool TryCloseWhenEmpty()
    {
        var state = Volatile.Read(ref _state);
        while ((state & ClosedFlag) == 0)
        {
            if ((state & EnqueuersMask) != 0)
            {
                // An enqueuer is inside: it is the one to try again as it leaves.
                return false;
            }

            // Compare-exchange: close only while the enqueuer count is zero.
            var seen = Interlocked.CompareExchange(ref _state, state | ClosedFlag, state);
            if (seen == state)
            {
                return true;
            }

            state = seen;
        }

        return true;
    }

    /// <summary>One reading of the gate, with named accessors for its packed parts.</summary>
    public readonly struct State(int value)
    {
        /// <summary>Gets whether a stop was requested (new submissions are refused).</summary>
        public bool IsStopRequested => (value & StopRequestedFlag) != 0;

        /// <summary>Gets whether the gate is closed (every enqueue is refused).</summary>
        public bool IsClosed => (value & ClosedFlag) != 0;

        /// <summary>Gets whether a submission may pass: neither a stop was requested nor the gate closed.</summary>
        public bool AdmitsSubmissions => (value & (StopRequestedFlag | ClosedFlag)) == 0;

        /// <summary>Gets the number of enqueuers inside the gate.</summary>
        public int Enqueuers => value & EnqueuersMask;
    }
}
