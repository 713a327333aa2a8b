using System.Diagnostics.CodeAnalysis;
using ThreadLineage.Internal;

namespace ThreadLineage.Pools;

/// <summary>
/// How a queued submission is canceled where the runtime lacks the fast path (<see cref="TaskCanceler"/>): its task is
/// created with this object's token instead of the caller's, so that <c>Stop(cancelPending: true)</c> cancels it through
/// the public API. The caller's token keeps its meaning: fired before the work starts, the work never runs and the task
/// ends <see cref="TaskStatus.Canceled"/>; thrown by the work as an <see cref="OperationCanceledException"/> for that
/// token, the task ends <see cref="TaskStatus.Canceled"/> rather than <see cref="TaskStatus.Faulted"/>.
/// </summary>
/// <remarks>
/// <para>
/// The runtime ends a task <see cref="TaskStatus.Canceled"/> only when a cancellation request was recorded on it, which a
/// supported caller can do only through the token the task was created with, and then either before its delegate runs
/// or when the delegate throws an <see cref="OperationCanceledException"/> for that very token. A per-run token would
/// cancel items of the caller's token too, and the caller's token cannot be canceled by us: hence one token source per
/// submission, created only when the fast path is missing (never on the runtimes we target).
/// </para>
/// <para>
/// The difference a caller can see: the <see cref="OperationCanceledException"/> of such a canceled task carries this
/// token, not the caller's (the caller's exception, if the work threw one, is its inner exception).
/// </para>
/// </remarks>
[SuppressMessage("Reliability", "CA1001", Justification = "The token source has no timer and its wait handle is never created; a task deregisters from it when it completes, so there is nothing to dispose.")]
internal sealed class OwnedCancellation
{
    private const int NotCanceled = 0;
    private const int Canceling = 1;
    private const int Canceled = 2;

    private readonly CancellationTokenSource _source = new();
    private readonly CancellationToken _callerToken;
    private int _state;

    private OwnedCancellation(CancellationToken callerToken)
    {
        _callerToken = callerToken;
        Token = _source.Token;
    }

    /// <summary>Gets the token the submission's task is created with.</summary>
    public CancellationToken Token { get; }

    /// <summary>
    /// Returns the cancellation a new submission of <paramref name="run"/> needs: none while the runtime's fast path works
    /// (the common case: one field read), and none for a caller's token that has already fired (the task is born canceled).
    /// </summary>
    public static OwnedCancellation? For(PoolRun run, CancellationToken callerToken) =>
        run.CancelsThroughRuntime || callerToken.IsCancellationRequested ? null : new OwnedCancellation(callerToken);

    /// <summary>
    /// Records the cancellation request on the task (through its registration on our token). When this returns, the
    /// request is recorded, whichever thread made it.
    /// </summary>
    public void Cancel()
    {
        // Compare-exchange: exactly one caller runs the registrations (the task's own among them). A second caller (a
        // stop sweeping the queue while the work acknowledges its caller's token) waits until they have run, so that
        // neither goes on before the task has recorded the request.
        if (Interlocked.CompareExchange(ref _state, Canceling, NotCanceled) == NotCanceled)
        {
            _source.Cancel();

            // Volatile: published after the registrations have run, for the waiting caller below.
            Volatile.Write(ref _state, Canceled);
            return;
        }

        var spinner = new SpinWait();
        while (Volatile.Read(ref _state) != Canceled)
        {
            spinner.SpinOnce();
        }
    }

    /// <summary>Wraps synchronous work so that the caller's token keeps its meaning (see the class remarks).</summary>
    public Action Wrap(Action work) =>
        !_callerToken.CanBeCanceled
            ? work
            : () =>
            {
                ThrowIfCallerCanceled();
                try
                {
                    work();
                }
                catch (OperationCanceledException exception) when (IsCallers(exception))
                {
                    throw Acknowledge(exception);
                }
            };

    /// <summary>Wraps work with a result (or the start of async work) so that the caller's token keeps its meaning.</summary>
    public Func<TResult> Wrap<TResult>(Func<TResult> work) =>
        !_callerToken.CanBeCanceled
            ? work
            : () =>
            {
                ThrowIfCallerCanceled();
                try
                {
                    return work();
                }
                catch (OperationCanceledException exception) when (IsCallers(exception))
                {
                    throw Acknowledge(exception);
                }
            };

    private void ThrowIfCallerCanceled()
    {
        // The caller's token fired while the item was queued: the work must not run.
        if (_callerToken.IsCancellationRequested)
        {
            throw Acknowledge(callers: null);
        }
    }

    private bool IsCallers(OperationCanceledException exception) =>
        exception.CancellationToken == _callerToken && _callerToken.IsCancellationRequested;

    private OperationCanceledException Acknowledge(OperationCanceledException? callers)
    {
        // First the request, recorded on the task through our token; then an exception for that same token, which
        // the runtime takes as the work acknowledging it: the task ends Canceled.
        Cancel();
        return callers is null
            ? new OperationCanceledException(Token)
            : new OperationCanceledException(callers.Message, callers, Token);
    }
}
