namespace ThreadLineage.Tests.Support;

/// <summary>
/// Test classes that measure the managed heap (<see cref="GC.GetTotalMemory(bool)"/>) or count thread-id reuse:
/// they run alone, after the parallel collections, so other tests' allocations and threads do not blur the result.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class GcSensitiveTestGroup
{
    public const string Name = "GC-sensitive lineage tests";
}
