namespace ThreadLineage;

/// <summary>
/// Thrown synchronously by <see cref="ThreadPoolManager.Submit(Action, string?, CancellationToken)"/> (and the
/// other submission methods) when a pool protected by a task type receives work of another type.
/// Nothing is queued.
/// </summary>
public class UnknownTaskTypeException : InvalidOperationException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public UnknownTaskTypeException()
        : base("The task type of the submitted work is not permitted in this thread pool.")
    {
    }

    /// <summary>Initializes a new instance with the given message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public UnknownTaskTypeException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the given message and inner exception.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public UnknownTaskTypeException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    private UnknownTaskTypeException(string message, string? taskType, string poolTaskType, Exception? innerException)
        : base(message, innerException)
    {
        TaskType = taskType;
        PoolTaskType = poolTaskType;
    }

    /// <summary>Initializes a new instance for a refused submission.</summary>
    /// <param name="managerId">The id of the manager that refused the work.</param>
    /// <param name="taskType">The task type the work was submitted with.</param>
    /// <param name="poolTaskType">The only task type the pool accepts.</param>
    public UnknownTaskTypeException(string managerId, string? taskType, string poolTaskType)
        : base(
            $"Thread pool manager '{managerId}' only accepts work of task type '{poolTaskType}', but the work was submitted " +
            $"with {(taskType is null ? "no task type" : $"task type '{taskType}'")}. Pass taskType: \"{poolTaskType}\" " +
            "to submit it here, or submit it to a pool meant for that kind of work.")
    {
        TaskType = taskType;
        PoolTaskType = poolTaskType;
    }

    /// <summary>Gets the task type the refused work was submitted with (<see langword="null"/> for none).</summary>
    public string? TaskType { get; }

    /// <summary>Gets the task type the pool accepts.</summary>
    public string? PoolTaskType { get; }

    /// <summary>Creates the exception with a message of the caller's and the two task types.</summary>
    internal static UnknownTaskTypeException WithMessage(string message, string? taskType, string poolTaskType) =>
        new(message, taskType, poolTaskType, innerException: null);
}
