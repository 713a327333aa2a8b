namespace ThreadLineage.Demo.DocExamples;

/// <summary>Runs the examples of README.md and docs/ (<c>dotnet run --project samples/ThreadLineage.Demo -- --doc-examples</c>).</summary>
internal static class DocExampleRunner
{
    public static Task RunAllAsync() => Task.CompletedTask;
}
