using System.Diagnostics;
using System.Reflection;
using System.Text;
using Xunit.Abstractions;

namespace ThreadLineage.Tests.Robustness;

/// <summary>
/// Runs <c>tests/ThreadLineage.ExitProbe</c> in a child process (<c>dotnet ThreadLineage.ExitProbe.dll scenario</c>)
/// and collects its output: process exit, and faults that would kill the test host, can only be seen from outside.
/// </summary>
internal static class ExitProbe
{
    /// <summary>How long a probe may run: generous, a probe normally ends in well under a second.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    /// <summary>Runs <paramref name="scenario"/> and writes what the probe printed, and how it ended, to the test's output.</summary>
    public static ProbeResult Run(string scenario, ITestOutputHelper output)
    {
        var result = Run(scenario);
        output.WriteLine(result.ToString());
        return result;
    }

    public static ProbeResult Run(string scenario)
    {
        var probe = ProbePath();
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(probe);
        start.ArgumentList.Add(scenario);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start '{start.FileName} {probe}'.");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var outputRead = ReadAllAsync(process.StandardOutput, stdout);
        var errorRead = ReadAllAsync(process.StandardError, stderr);
        var exited = process.WaitForExit(Timeout);
        if (!exited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }

        // The streams end when the process (or its kill) closes them.
        Task.WaitAll([outputRead, errorRead], Timeout);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return new ProbeResult(scenario, exited, exited ? process.ExitCode : null, lines, stderr.ToString());
    }

    private static async Task ReadAllAsync(StreamReader reader, StringBuilder into)
    {
        var text = await reader.ReadToEndAsync();
        lock (into)
        {
            into.Append(text);
        }
    }

    private static string ProbePath()
    {
        // The test project bakes the probe's path (same configuration and framework) into an assembly attribute.
        var path = typeof(ExitProbe).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(static a => a.Key == "ThreadLineage.ExitProbe")?.Value;
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The exit probe was not found at '{path}'. It is built with the test project (a ProjectReference with " +
                "ReferenceOutputAssembly=false); build the solution or tests/ThreadLineage.Tests first.", path);
        }

        return path;
    }

    private static string DotnetHost()
    {
        // The test host normally runs under the same 'dotnet' muxer; the CLI also tells child processes where it is.
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        var fromCli = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return fromCli is not null && File.Exists(fromCli) ? fromCli : "dotnet";
    }
}
