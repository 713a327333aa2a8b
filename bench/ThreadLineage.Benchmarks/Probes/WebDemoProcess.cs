using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// The web demo (<c>samples/ThreadLineage.WebDemo</c>) in a child process, <c>dotnet ThreadLineage.WebDemo.dll</c>, on a
/// free port of 127.0.0.1, with one <c>RequestPools:Mode</c>. Killed, with anything it started, when disposed.
/// </summary>
internal sealed class WebDemoProcess : IDisposable
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromMinutes(1);

    private readonly Process _process;
    private readonly List<string> _errors;

    private WebDemoProcess(string mode, Process process, Uri address, List<string> errors)
    {
        Mode = mode;
        _process = process;
        Address = address;
        _errors = errors;
    }

    public string Mode { get; }

    public Uri Address { get; }

    public int ProcessId => _process.Id;

    /// <summary>Gets what the server wrote to its standard error so far.</summary>
    public string StandardError
    {
        get
        {
            lock (_errors)
            {
                return string.Join(Environment.NewLine, _errors);
            }
        }
    }

    /// <summary>Gets the CPU time the server has used so far (all its threads).</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }

    /// <summary>Gets the server's thread count (Linux: <c>/proc/PID/status</c>), or -1 where that cannot be read.</summary>
    public int Threads
    {
        get
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{_process.Id}/status"))
                {
                    if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    {
                        return int.Parse(line.AsSpan("Threads:".Length).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
            }

            return -1;
        }
    }

    public static async Task<WebDemoProcess> StartAsync(string mode)
    {
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            DemoPath(), "--urls", "http://127.0.0.1:0", $"--RequestPools:Mode={mode}",
            "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
        })
        {
            start.ArgumentList.Add(argument);
        }

        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start };
        var errors = new List<string>();
        process.OutputDataReceived += (_, e) =>
        {
            const string Marker = "Now listening on: ";
            if (e.Data?.IndexOf(Marker, StringComparison.Ordinal) is int at and >= 0)
            {
                listening.TrySetResult(new Uri(e.Data[(at + Marker.Length)..].Trim()));
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (errors)
                {
                    errors.Add(e.Data);
                }
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(s_startTimeout).ConfigureAwait(false);
            return new WebDemoProcess(mode, process, address, errors);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            lock (errors)
            {
                throw new TimeoutException($"The web demo (mode {mode}) did not report its address within {s_startTimeout}: {string.Join(Environment.NewLine, errors)}");
            }
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private static string DemoPath()
    {
        // The benchmark project bakes the demo's path (same configuration and framework) into an assembly attribute.
        var path = typeof(WebDemoProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(static a => a.Key == "ThreadLineage.WebDemo")?.Value;
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"The web demo was not found at '{path}'. It is built with the benchmark project (a ProjectReference with " +
                "ReferenceOutputAssembly=false); build bench/ThreadLineage.Benchmarks first.", path);
        }

        return path;
    }

    private static string DotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            return current;
        }

        var fromCli = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        return fromCli is not null && File.Exists(fromCli) ? fromCli : "dotnet";
    }
}
