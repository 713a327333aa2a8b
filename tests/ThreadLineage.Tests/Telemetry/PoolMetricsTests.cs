using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ThreadLineage.Tests.Support;

namespace ThreadLineage.Tests.Telemetry;

/// <summary>The "ThreadLineage" meter, observed with a real <see cref="MeterListener"/>.</summary>
public sealed class PoolMetricsTests : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, Dictionary<string, object?> Tags)> _measurements = new();

    public PoolMetricsTests()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "ThreadLineage")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public void CompletedCounter_AgreesWithStatistics_ByOutcome()
    {
        var id = $"metrics-{Guid.NewGuid():N}";
        using var manager = new ThreadPoolManager(id);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, TaskType = "render", LogExceptions = false });
        using var gate = new ManualResetEventSlim();
        var blocker = manager.Submit(() => gate.Wait(Bounded.Timeout), "render");
        var ok = manager.Submit(() => 1, "render");
        var faulted = manager.Submit(() => throw new InvalidOperationException("boom"), "render");
        using var cts = new CancellationTokenSource();
        var canceled = manager.Submit(() => { }, "render", cts.Token);
        cts.Cancel();
        gate.Set();
        manager.Stop();

        var statistics = manager.GetStatistics();
        var counts = _measurements
            .Where(m => m.Instrument == "threadlineage.pool.work_item.count" && (string?)m.Tags["threadlineage.pool.id"] == id)
            .GroupBy(m => (string)m.Tags["threadlineage.work_item.outcome"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));

        Assert.Equal(statistics.Completed, counts.GetValueOrDefault("ok"));
        Assert.Equal(statistics.Faulted, counts.GetValueOrDefault("faulted"));
        Assert.Equal(statistics.Canceled, counts.GetValueOrDefault("canceled"));
        Assert.Equal(2, statistics.Completed);
        Assert.Equal(1, statistics.Faulted);
        Assert.Equal(1, statistics.Canceled);
        Assert.All(
            _measurements.Where(m => (string?)m.Tags.GetValueOrDefault("threadlineage.pool.id") == id),
            m => Assert.Equal("render", m.Tags["threadlineage.pool.task_type"]));
        _ = (blocker, ok, faulted, canceled);
    }

    [Fact]
    public void Histograms_RecordQueueWaitAndRunTimeInSeconds()
    {
        var id = $"metrics-{Guid.NewGuid():N}";
        using var manager = new ThreadPoolManager(id);
        manager.Start(1);
        Bounded.Wait(manager.Submit(() => Thread.SpinWait(1000)), "work");
        manager.Post(() => { });
        manager.Stop();

        var waits = Values("threadlineage.pool.work_item.queue_wait", id);
        var durations = Values("threadlineage.pool.work_item.duration", id);
        Assert.Equal(2, waits.Count);
        Assert.Equal(2, durations.Count);
        Assert.All(waits.Concat(durations), v => Assert.InRange(v, 0, 60));
    }

    [Fact]
    public void ObservableInstruments_ReportQueueLengthAndWorkers()
    {
        var id = $"metrics-{Guid.NewGuid():N}";
        using var manager = new ThreadPoolManager(id);
        manager.Start(2);
        using var gate = new ManualResetEventSlim();
        using var started = new CountdownEvent(2);
        _ = manager.Submit(() => { started.Signal(); gate.Wait(Bounded.Timeout); });
        _ = manager.Submit(() => { started.Signal(); gate.Wait(Bounded.Timeout); });
        _ = manager.Submit(() => { });
        Assert.True(started.Wait(Bounded.Timeout));

        _listener.RecordObservableInstruments();

        Assert.Equal(1, Values("threadlineage.pool.queue.length", id).Single());
        Assert.Equal(2, Values("threadlineage.pool.thread.count", id).Single());
        Assert.Equal(2, Values("threadlineage.pool.thread.busy", id).Single());
        gate.Set();
    }

    [Fact]
    public void Meter_InstrumentUnitsAndNames_FollowTheRuntimeConventions()
    {
        var instruments = new ConcurrentDictionary<string, string?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument.Meter.Name == "ThreadLineage")
                {
                    instruments[instrument.Name] = instrument.Unit;
                }
            },
        };
        listener.Start();
        using var manager = new ThreadPoolManager($"metrics-{Guid.NewGuid():N}");

        Assert.Equal("s", instruments["threadlineage.pool.work_item.queue_wait"]);
        Assert.Equal("s", instruments["threadlineage.pool.work_item.duration"]);
        Assert.Equal("{work_item}", instruments["threadlineage.pool.work_item.count"]);
        Assert.Equal("{work_item}", instruments["threadlineage.pool.queue.length"]);
        Assert.Equal("{thread}", instruments["threadlineage.pool.thread.count"]);
        Assert.Equal("{thread}", instruments["threadlineage.pool.thread.busy"]);
    }

    private List<double> Values(string instrument, string id) =>
        [.. _measurements.Where(m => m.Instrument == instrument && (string?)m.Tags.GetValueOrDefault("threadlineage.pool.id") == id).Select(m => m.Value)];

    private void Record<T>(Instrument instrument, T value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        where T : struct
    {
        var copy = new Dictionary<string, object?>();
        foreach (var tag in tags)
        {
            copy[tag.Key] = tag.Value;
        }

        _measurements.Enqueue((instrument.Name, Convert.ToDouble(value, System.Globalization.CultureInfo.InvariantCulture), copy));
    }
}
