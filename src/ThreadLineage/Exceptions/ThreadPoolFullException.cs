namespace ThreadLineage;

/// <summary>
/// Thrown synchronously when a pool with a bounded queue refuses work because the queue is full.
/// Nothing is queued.
/// </summary>
public class ThreadPoolFullException : InvalidOperationException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public ThreadPoolFullException()
        : base("The thread pool's queue is full; the work was not queued.")
    {
    }

    /// <summary>Initializes a new instance with the given message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public ThreadPoolFullException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the given message and inner exception.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public ThreadPoolFullException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
