using System.Runtime.CompilerServices;

namespace ThreadLineage.Internal;

/// <summary>
/// Cancels a task that is queued on one of our schedulers but has not started.
/// </summary>
/// <remarks>
/// The public API can cancel a task only through the token it was created with. Giving every work item
/// a pool-owned token would cost a token registration (three allocations and a lock) per item on the
/// hot path, only to serve <c>Stop(cancelPending: true)</c>. Instead we ask the runtime for the same
/// cancellation request a token would have made: <c>Task.InternalCancel</c> records it, and the next
/// <see cref="TaskScheduler"/> attempt to execute the task moves it to <see cref="TaskStatus.Canceled"/>
/// without running its delegate. The accessor is checked by the test suite on every runtime we target.
/// </remarks>
internal static class TaskCanceler
{
    public static void RequestCancellation(Task task) => InternalCancel(task);

    [UnsafeAccessor(UnsafeAccessorKind.Method, Name = "InternalCancel")]
    private static extern void InternalCancel(Task task);
}
