using System.Runtime.CompilerServices;

namespace ThreadLineage.Internal;

/// <summary>
/// Cancels a task that is queued on one of our schedulers but has not started, through the runtime's fast path when
/// the runtime has it.
/// </summary>
/// <remarks>
/// <para>
/// The public API can cancel a task only through the token it was created with. Giving every work item a pool-owned
/// token would cost a token registration (three allocations and a lock) per item on the hot path, only to serve
/// <c>Stop(cancelPending: true)</c>. Instead we ask the runtime for the same cancellation request a token would have
/// made: <c>Task.InternalCancel</c> records it, and the next <see cref="TaskScheduler"/> attempt to execute the task
/// moves it to <see cref="TaskStatus.Canceled"/> without running its delegate.
/// </para>
/// <para>
/// <c>InternalCancel</c> is not a supported member: a runtime may lack it, and then the accessor throws
/// <see cref="MissingMethodException"/>. The first call (a probe, when the canceler is created) catches that once and
/// switches to the supported fallback for good: submissions are then created with a token of their own
/// (<see cref="Pools.OwnedCancellation"/>), which the stop cancels. The test suite checks that every runtime we target
/// has the fast path, and runs the fallback by giving a manager a canceler whose accessor throws.
/// </para>
/// </remarks>
internal sealed class TaskCanceler
{
    private readonly Action<Task> _cancel;

    // Set once, when the accessor throws MissingMethodException; never cleared.
    private volatile bool _unavailable;

    /// <summary>Initializes a canceler that cancels through <paramref name="cancel"/>, and probes it once.</summary>
    /// <param name="cancel">The accessor: records a cancellation request on a task, or throws <see cref="MissingMethodException"/>.</param>
    public TaskCanceler(Action<Task> cancel)
    {
        _cancel = cancel;

        // The probe: a task that never runs. Knowing before the first submission is created lets every submission of
        // a runtime without the fast path carry a token of its own.
        TryRequestCancellation(new Task(static () => { }));
    }

    /// <summary>Gets the canceler of the runtime we run on: <c>Task.InternalCancel</c> through an <see cref="UnsafeAccessorAttribute"/>.</summary>
    public static TaskCanceler Runtime { get; } = new(static task => InternalCancel(task));

    /// <summary>Gets whether the fast path works; <see langword="false"/> for good once it failed.</summary>
    public bool IsAvailable => !_unavailable;

    /// <summary>Records a cancellation request on <paramref name="task"/>, unless the fast path is unavailable.</summary>
    /// <returns><see langword="true"/> if the request was recorded; <see langword="false"/> if the runtime lacks the member.</returns>
    public bool TryRequestCancellation(Task task)
    {
        if (_unavailable)
        {
            return false;
        }

        try
        {
            _cancel(task);
            return true;
        }
        catch (MissingMethodException)
        {
            // The runtime lacks Task.InternalCancel: from now on, submissions carry a token of their own. A volatile
            // write is enough: the flag only ever turns true, and threads racing here each fail and set it alike.
            _unavailable = true;
            return false;
        }
    }

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "InternalCancel")]
    private static extern void InternalCancel(Task task);
}
