using System.Diagnostics;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// Samples the process's threads about every millisecond on a thread of its own (started before anything is measured,
/// so it is in every count): the highest count seen since <see cref="Reset"/>, and (Linux, from
/// <c>/proc/self/task</c>) the names of threads that were not there at <see cref="Reset"/>, however briefly they lived,
/// as long as they lived through a sample. Elsewhere only the count, from <see cref="Process.Threads"/>.
/// </summary>
internal sealed class ThreadCountSampler : IDisposable
{
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _new = [];
    private HashSet<string> _baseline = [];
    private volatile bool _stopping;
    private int _peak;

    public ThreadCountSampler()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "thread-count-sampler" };
        _thread.UnsafeStart();
    }

    /// <summary>Gets the most threads seen since the last <see cref="Reset"/>.</summary>
    public int Peak
    {
        get
        {
            lock (_lock)
            {
                return _peak;
            }
        }
    }

    /// <summary>Gets the names of the threads first seen since the last <see cref="Reset"/>, by count.</summary>
    public string NewThreads
    {
        get
        {
            lock (_lock)
            {
                return string.Join(", ", _new.Values.GroupBy(static name => name).OrderBy(static g => g.Key, StringComparer.Ordinal).Select(static g => $"{g.Key} ×{g.Count()}"));
            }
        }
    }

    public void Reset()
    {
        var tasks = Tasks();
        lock (_lock)
        {
            _baseline = [.. tasks.Keys];
            _new.Clear();
            _peak = tasks.Count == 0 ? CountFromProcess() : tasks.Count;
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join();
    }

    /// <summary>The threads of this process, TID to name (empty where /proc/self/task is absent).</summary>
    private static Dictionary<string, string> Tasks()
    {
        var tasks = new Dictionary<string, string>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return tasks;
        }

        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            try
            {
                tasks[Path.GetFileName(task)] = File.ReadAllText(Path.Combine(task, "comm")).Trim();
            }
            catch (IOException)
            {
                // The thread exited meanwhile.
            }
        }

        return tasks;
    }

    private static int CountFromProcess()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private void Loop()
    {
        while (!_stopping)
        {
            var tasks = Tasks();
            var count = tasks.Count == 0 ? CountFromProcess() : tasks.Count;
            lock (_lock)
            {
                _peak = Math.Max(_peak, count);
                foreach (var (tid, name) in tasks)
                {
                    if (!_baseline.Contains(tid))
                    {
                        _new[tid] = name;
                    }
                }
            }

            Thread.Sleep(1);
        }
    }
}
