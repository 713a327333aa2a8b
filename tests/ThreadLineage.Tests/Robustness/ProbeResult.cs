namespace ThreadLineage.Tests.Robustness;

/// <summary>What a probe printed and how it ended.</summary>
internal sealed record ProbeResult(string Scenario, bool Exited, int? ExitCode, IReadOnlyList<string> Lines, string StandardError)
{
    public int Count(string prefix) => Lines.Count(l => l.StartsWith(prefix, StringComparison.Ordinal));

    public override string ToString() =>
        $"probe '{Scenario}': {(Exited ? $"exit code {ExitCode}" : $"still running after {ExitProbe.Timeout.TotalSeconds}s (killed)")}" +
        $"{Environment.NewLine}stdout:{Environment.NewLine}  {string.Join(Environment.NewLine + "  ", Lines)}" +
        (StandardError.Length > 0 ? $"{Environment.NewLine}stderr:{Environment.NewLine}{StandardError[..Math.Min(StandardError.Length, 2000)]}" : "");
}
