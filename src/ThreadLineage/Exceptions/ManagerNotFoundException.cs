namespace ThreadLineage;

/// <summary>
/// Thrown by <see cref="Lineage.GetManager(string?)"/> when no node from <see cref="Lineage.Current"/>
/// up to <see cref="Lineage.Root"/> has a manager registered under the requested id.
/// </summary>
public class ManagerNotFoundException : InvalidOperationException
{
    /// <summary>Initializes a new instance with a default message.</summary>
    public ManagerNotFoundException()
        : base("No thread pool manager was found in the current lineage.")
    {
    }

    /// <summary>Initializes a new instance with the given message.</summary>
    /// <param name="message">The message that describes the error.</param>
    public ManagerNotFoundException(string? message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with the given message and inner exception.</summary>
    /// <param name="message">The message that describes the error.</param>
    /// <param name="innerException">The exception that caused this one.</param>
    public ManagerNotFoundException(string? message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Initializes the exception for a missing manager <paramref name="id"/> with a message of the caller's.</summary>
    internal ManagerNotFoundException(string id, string message)
        : base(message)
    {
        Id = id;
    }

    /// <summary>Initializes a new instance for a manager id that could not be resolved from a node.</summary>
    /// <param name="id">The manager id that was looked up.</param>
    /// <param name="node">The node the lookup started from.</param>
    public ManagerNotFoundException(string id, LineageNode node)
        : base(
            $"No thread pool manager with id '{id}' is attached to {node} or any of its ancestors. " +
            $"Create one first with Lineage.GetOrCreateManager(\"{id}\") (or Lineage.Root.GetOrCreateManager(\"{id}\") " +
            "for a process-wide pool) in this flow or a flow that started it.")
    {
        Id = id;
    }

    /// <summary>Gets the manager id that could not be resolved, when known.</summary>
    public string? Id { get; }
}
