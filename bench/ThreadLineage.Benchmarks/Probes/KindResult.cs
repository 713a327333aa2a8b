namespace ThreadLineage.Benchmarks.Probes;

/// <summary>What <see cref="PerRequestProbe"/> measured for one kind of per-request pool, over all rounds.</summary>
internal sealed class KindResult
{
    public List<double> MicrosecondsPerRequest { get; } = [];

    public List<int> ThreadsBefore { get; } = [];

    public List<int> ThreadsAfter { get; } = [];

    public List<int> PeakThreads { get; } = [];

    public List<int> HostWorkersBefore { get; } = [];

    public List<int> HostWorkersAfter { get; } = [];

    public List<double> HostCpuMicrosecondsPerRequest { get; } = [];

    public List<double> HostBlocksPerRequest { get; } = [];

    public List<double> CallerCpuMicrosecondsPerRequest { get; } = [];

    public List<double> CallerBlocksPerRequest { get; } = [];

    public List<string> NewThreads { get; } = [];

    public int DedicatedThreadsStarted { get; set; }

    public int OnHost { get; set; }

    public int Elsewhere { get; set; }
}
