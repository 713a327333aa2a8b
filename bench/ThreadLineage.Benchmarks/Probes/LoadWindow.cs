namespace ThreadLineage.Benchmarks.Probes;

/// <summary>One mode's load window of the <c>web-load</c> probe.</summary>
/// <param name="Mode">The web demo's <c>RequestPools:Mode</c>.</param>
/// <param name="Round">The round (1-based).</param>
/// <param name="Succeeded">Requests answered with a success status.</param>
/// <param name="Failed">Requests that failed (an error status or an exception).</param>
/// <param name="LatenciesMicroseconds">The latency of each successful request, send to last byte read.</param>
/// <param name="Elapsed">From the first request sent to the last one answered.</param>
/// <param name="ServerCpu">The server process's CPU time during the window.</param>
/// <param name="ServerThreadsMax">The most threads the server had (sampled every 50 ms).</param>
/// <param name="HostCpuNanoseconds">The CPU time of the server's <c>request-workers-N</c> threads during the window (Linux).</param>
/// <param name="HostBlocks">The voluntary context switches (parks) of those threads during the window (Linux).</param>
/// <param name="CpuByThreads">CPU nanoseconds during the window per group of the server's threads (names alike but for numbers), of the threads alive at its end (Linux).</param>
internal sealed record LoadWindow(string Mode, int Round, int Succeeded, int Failed, double[] LatenciesMicroseconds, TimeSpan Elapsed, TimeSpan ServerCpu, int ServerThreadsMax, long HostCpuNanoseconds, long HostBlocks, IReadOnlyDictionary<string, long> CpuByThreads)
{
    public double HostCpuMicrosecondsPerRequest => Succeeded == 0 ? double.NaN : HostCpuNanoseconds / 1000.0 / Succeeded;

    public double HostBlocksPerRequest => Succeeded == 0 ? double.NaN : HostBlocks / (double)Succeeded;

    public double RequestsPerSecond => Succeeded / Elapsed.TotalSeconds;

    public double ServerCpuMicrosecondsPerRequest => Succeeded == 0 ? double.NaN : ServerCpu.TotalMicroseconds / Succeeded;
}
