using System.Diagnostics;
using System.Globalization;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// Samples the process's thread count about every millisecond on a thread of its own (started before anything is
/// measured, so it is in every count) and keeps the highest seen since <see cref="Reset"/>. On Linux it reads the
/// <c>Threads:</c> line of <c>/proc/self/status</c>, which is cheap; elsewhere <see cref="Process.Threads"/>.
/// </summary>
internal sealed class ThreadCountSampler : IDisposable
{
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _peak;

    public ThreadCountSampler()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "thread-count-sampler" };
        _thread.UnsafeStart();
    }

    /// <summary>Gets the most threads seen since the last <see cref="Reset"/>.</summary>
    public int Peak => Volatile.Read(ref _peak);

    public void Reset() => Volatile.Write(ref _peak, Count());

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
    }

    private static int Count()
    {
        if (File.Exists("/proc/self/status"))
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    return int.Parse(line.AsSpan("Threads:".Length).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }

        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private void Loop()
    {
        while (!_stopping)
        {
            var count = Count();
            var peak = Volatile.Read(ref _peak);
            while (count > peak)
            {
                // Compare-exchange: Reset may run concurrently.
                var seen = Interlocked.CompareExchange(ref _peak, count, peak);
                if (seen == peak)
                {
                    break;
                }

                peak = seen;
            }

            Thread.Sleep(1);
        }
    }
}
