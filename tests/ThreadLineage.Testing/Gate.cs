namespace ThreadLineage.Testing;

/// <summary>
/// A one-shot gate for coordinating test threads with pool workers: work waits on it (bounded), the test
/// opens it. Also serves as a "this happened" signal.
/// </summary>
/// <remarks>
/// Disposing opens the gate instead of destroying it, so that a test that fails early never leaves a
/// worker blocked (declare the gate after the manager: <c>using</c> disposes it first, then the manager drains).
/// </remarks>
public sealed class Gate : IDisposable
{
    private readonly ManualResetEventSlim _event = new();

    public bool IsOpen => _event.IsSet;

    public void Open() => _event.Set();

    /// <summary>Blocks until the gate opens; throws <see cref="TimeoutException"/> after <see cref="Bounded.Timeout"/>.</summary>
    public void Wait(string what) => Bounded.Wait(_event, what);

    // The event never allocates a wait handle, and a late waiter must never meet a disposed object.
    public void Dispose() => _event.Set();
}
