namespace ThreadLineage.Testing;

/// <summary>
/// Unique manager ids. <see cref="global::ThreadLineage.Lineage.Root"/> is process-wide and test classes run in
/// parallel, so a test never uses a common id that a lookup could find on the root or in another test's tree.
/// </summary>
public static class TestIds
{
    public static string New(string prefix) => $"{prefix}-{Guid.NewGuid():N}";
}
