using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ThreadLineage.Telemetry;

/// <summary>
/// The <c>ThreadLineage</c> <see cref="Meter"/>: the pools' queue length, workers, completed work by outcome,
/// queue-wait and run-time histograms, named after the runtime's own <c>dotnet.thread_pool.*</c> instruments
/// and tagged with the manager id and task type.
/// </summary>
/// <remarks>
/// Observable instruments cost nothing until a listener collects them. The recorded ones are guarded by
/// <see cref="Instrument.Enabled"/>, so with no listener a work item pays one field read per instrument
/// and no timestamp.
/// </remarks>
internal static class PoolMetrics
{
    public const string MeterName = "ThreadLineage";

    public const string IdTag = "threadlineage.pool.id";
    public const string TaskTypeTag = "threadlineage.pool.task_type";
    public const string OutcomeTag = "threadlineage.work_item.outcome";

    /// <summary>
    /// The AppContext switch <c>ThreadLineage.Metrics.IsSupported</c> (default on). Off, the pools never look at an
    /// instrument: the JIT folds this read-only field, so recording code disappears. It exists so that the benchmark can
    /// measure "metrics absent" against "metrics present, nobody listening"; apps can use it to trim telemetry.
    /// </summary>
    private static readonly bool s_isSupported = !AppContext.TryGetSwitch("ThreadLineage.Metrics.IsSupported", out var supported) || supported;

    private static readonly Meter s_meter = new(MeterName, typeof(PoolMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> s_completed = s_meter.CreateCounter<long>(
        "threadlineage.pool.work_item.count", unit: "{work_item}",
        description: "Work items that reached a final state, by outcome (ok, faulted, canceled).");

    private static readonly Histogram<double> s_queueWait = s_meter.CreateHistogram<double>(
        "threadlineage.pool.work_item.queue_wait", unit: "s",
        description: "Time a work item waited in the queue before a worker took it.");

    private static readonly Histogram<double> s_runTime = s_meter.CreateHistogram<double>(
        "threadlineage.pool.work_item.duration", unit: "s",
        description: "Time a worker spent running a work item (each synchronous segment of async work).");

    static PoolMetrics()
    {
        s_meter.CreateObservableUpDownCounter(
            "threadlineage.pool.queue.length", static () => Observe(static s => s.QueuedItems), unit: "{work_item}",
            description: "Work items waiting in the queue.");
        s_meter.CreateObservableUpDownCounter(
            "threadlineage.pool.thread.count", static () => Observe(static s => s.Workers), unit: "{thread}",
            description: "Worker threads alive (0 for a pool that borrows its threads).");
        s_meter.CreateObservableUpDownCounter(
            "threadlineage.pool.thread.busy", static () => Observe(static s => s.BusyWorkers), unit: "{thread}",
            description: "Worker threads running a work item (for a pool that borrows its threads: its items running now).");
    }

    /// <summary>Returns a timestamp for the queue-wait histogram, or 0 when nobody listens.</summary>
    public static long QueueWaitTimestamp() => s_isSupported && s_queueWait.Enabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Returns a timestamp for the run-time histogram, or 0 when nobody listens.</summary>
    public static long RunStartTimestamp() => s_isSupported && s_runTime.Enabled ? Stopwatch.GetTimestamp() : 0;

    public static void RecordQueueWait(ThreadPoolManager manager, long enqueuedAt)
    {
        if (enqueuedAt != 0 && s_queueWait.Enabled)
        {
            s_queueWait.Record(Stopwatch.GetElapsedTime(enqueuedAt).TotalSeconds, Tags(manager, manager.TaskType));
        }
    }

    public static void RecordRunTime(ThreadPoolManager manager, long startedAt)
    {
        if (startedAt != 0 && s_runTime.Enabled)
        {
            s_runTime.Record(Stopwatch.GetElapsedTime(startedAt).TotalSeconds, Tags(manager, manager.TaskType));
        }
    }

    public static void RecordOutcome(ThreadPoolManager manager, string? taskType, string outcome)
    {
        if (s_isSupported && s_completed.Enabled)
        {
            var tags = Tags(manager, taskType);
            tags.Add(OutcomeTag, outcome);
            s_completed.Add(1, tags);
        }
    }

    private static TagList Tags(ThreadPoolManager manager, string? taskType)
    {
        var tags = new TagList { { IdTag, manager.Id } };
        if (taskType is not null)
        {
            tags.Add(TaskTypeTag, taskType);
        }

        return tags;
    }

    private static IEnumerable<Measurement<long>> Observe(Func<ThreadPoolStatistics, long> select)
    {
        foreach (var manager in ThreadPoolManager.AllInstances)
        {
            // A stopping manager is reported until it has drained and its workers have exited: a draining queue must
            // not vanish from a dashboard the moment the stop begins.
            if (manager.IsRunningOrDraining)
            {
                yield return new Measurement<long>(select(manager.GetStatistics()), Tags(manager, manager.TaskType));
            }
        }
    }
}
