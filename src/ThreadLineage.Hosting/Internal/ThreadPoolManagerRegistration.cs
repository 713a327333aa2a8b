namespace ThreadLineage.Hosting.Internal;

/// <summary>One manager registered with <c>AddThreadPoolManager</c>: its name (key and id) and the manager itself.</summary>
internal sealed class ThreadPoolManagerRegistration
{
    public ThreadPoolManagerRegistration(string name, ThreadPoolManager manager)
    {
        Name = name;
        Manager = manager;
    }

    /// <summary>Gets the name: the keyed-service key, the manager id and the name of its options.</summary>
    public string Name { get; }

    /// <summary>Gets the manager, attached to <see cref="Lineage.Root"/> under <see cref="Name"/>.</summary>
    public ThreadPoolManager Manager { get; }
}
