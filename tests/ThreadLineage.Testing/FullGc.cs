namespace ThreadLineage.Testing;

/// <summary>Full, blocking garbage collections for leak tests.</summary>
public static class FullGc
{
    public static void Collect()
    {
        // Twice around the finalizers: objects that finalizers released become garbage for the second pass.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
