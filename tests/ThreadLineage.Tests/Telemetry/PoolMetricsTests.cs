using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

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
        var id = TestIds.New("metrics");
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

        AssertCountersAgreeWithStatistics(manager);
        var statistics = manager.GetStatistics();
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
        var id = TestIds.New("metrics");
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
        var id = TestIds.New("metrics");
        using var manager = new ThreadPoolManager(id);
        manager.Start(2);
        using var gate = new Gate();
        _ = gate.HoldWorkers(manager, 2, "both workers to be busy");
        _ = manager.Submit(() => { });

        _listener.RecordObservableInstruments();

        Assert.Equal(1, Values("threadlineage.pool.queue.length", id).Single());
        Assert.Equal(2, Values("threadlineage.pool.thread.count", id).Single());
        Assert.Equal(2, Values("threadlineage.pool.thread.busy", id).Single());
        gate.Open();
    }

    /// <summary>
    /// A stopping pool, or a stopping borrower of a host of two workers, is no longer running, but its queue and its
    /// busy worker (a borrower's: its item running on a host thread, with no thread of its own) are still there and
    /// still reported; once it has drained and its workers are gone, nothing is reported for it, and the host's threads still are.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ObservableInstruments_StoppingPoolOrBorrower_ReportItsQueueAndBusyWorkersUntilItDrains_ThenNothing(bool borrower)
    {
        using var scope = Lineage.BeginScope("metrics-draining");
        var hostId = TestIds.New("metrics-host");
        Lineage.CreateManager(hostId).Start(2);
        var id = TestIds.New(borrower ? "metrics-borrower" : "metrics-draining");
        var manager = Lineage.CreateManager(id);
        manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = borrower ? hostId : null });
        var ownThreads = borrower ? 0 : 1;
        using var gate = new Gate();
        var blocker = gate.HoldWorker(manager);
        var queued = Enumerable.Range(0, 3).Select(_ => manager.Submit(static () => { })).ToArray();

        manager.Stop(wait: false);
        _listener.RecordObservableInstruments();

        Assert.False(manager.IsRunning);
        Assert.Equal(3, Values("threadlineage.pool.queue.length", id).Single());
        Assert.Equal(1, Values("threadlineage.pool.thread.busy", id).Single());
        Assert.Equal(ownThreads, Values("threadlineage.pool.thread.count", id).Single());
        Assert.Equal(2, Values("threadlineage.pool.thread.count", hostId).Single());
        var statistics = manager.GetStatistics();
        Assert.Equal((ownThreads, 1, 3), (statistics.Workers, statistics.BusyWorkers, statistics.QueuedItems));

        gate.Open();
        Bounded.Stop(manager);
        Bounded.Wait(Task.WhenAll(queued.Append(blocker)), "the drained items");
        _measurements.Clear();
        _listener.RecordObservableInstruments();

        Assert.Empty(Values("threadlineage.pool.queue.length", id));
        Assert.Empty(Values("threadlineage.pool.thread.busy", id));
        Assert.Empty(Values("threadlineage.pool.thread.count", id));
        Assert.Equal(2, Values("threadlineage.pool.thread.count", hostId).Single());
        Assert.Equal(4, manager.GetStatistics().Completed);
    }

    [Fact]
    public void Borrower_WorkIsTaggedWithItsOwnId_AndItsCountersAgreeWithItsStatistics()
    {
        using var scope = Lineage.BeginScope("metrics-borrower");
        var hostId = TestIds.New("metrics-host");
        var host = Lineage.CreateManager(hostId);
        host.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, LogExceptions = false });
        var borrowerId = TestIds.New("metrics-borrower");
        var borrower = Lineage.CreateManager(borrowerId);
        borrower.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, WorkersFrom = hostId, TaskType = "report", LogExceptions = false });
        using var gate = new Gate();
        var blocker = borrower.Submit(() => gate.Wait("the gate"), "report");
        using var cancel = new CancellationTokenSource();
        var tasks = new List<Task>
        {
            blocker,
            borrower.Submit(static () => 1, "report"),
            borrower.Submit(static () => throw new InvalidOperationException("planned"), "report"),
            borrower.Submit(static () => { }, "report", cancel.Token),
            host.Submit(static () => { }),
        };
        borrower.Post(static () => { }, "report");
        cancel.Cancel();
        gate.Open();
        Bounded.Stop(borrower);
        foreach (var task in tasks)
        {
            Bounded.WaitFinal(task, "every item");
        }

        Bounded.Stop(host);

        AssertCountersAgreeWithStatistics(borrower);
        AssertCountersAgreeWithStatistics(host);
        Assert.Equal((3L, 1L, 1L), (borrower.GetStatistics().Completed, borrower.GetStatistics().Faulted, borrower.GetStatistics().Canceled));
        Assert.Equal(1, host.GetStatistics().Completed);

        // Everything the borrower's items recorded (outcomes, queue wait, run time) carries the borrower's id and task type.
        var borrowers = _measurements.Where(m => (string?)m.Tags.GetValueOrDefault("threadlineage.pool.id") == borrowerId).ToList();
        Assert.Contains(borrowers, static m => m.Instrument == "threadlineage.pool.work_item.queue_wait");
        Assert.Contains(borrowers, static m => m.Instrument == "threadlineage.pool.work_item.duration");
        Assert.All(borrowers, static m => Assert.Equal("report", m.Tags["threadlineage.pool.task_type"]));
        Assert.Equal(
            2,
            _measurements.Count(m => m.Instrument == "threadlineage.pool.work_item.duration" && (string?)m.Tags.GetValueOrDefault("threadlineage.pool.id") == hostId) +
            _measurements.Count(m => m.Instrument == "threadlineage.pool.work_item.queue_wait" && (string?)m.Tags.GetValueOrDefault("threadlineage.pool.id") == hostId));
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
        using var manager = new ThreadPoolManager(TestIds.New("metrics"));

        Assert.Equal("s", instruments["threadlineage.pool.work_item.queue_wait"]);
        Assert.Equal("s", instruments["threadlineage.pool.work_item.duration"]);
        Assert.Equal("{work_item}", instruments["threadlineage.pool.work_item.count"]);
        Assert.Equal("{work_item}", instruments["threadlineage.pool.queue.length"]);
        Assert.Equal("{thread}", instruments["threadlineage.pool.thread.count"]);
        Assert.Equal("{thread}", instruments["threadlineage.pool.thread.busy"]);
    }

    /// <summary>The work_item.count counter of <paramref name="manager"/>, summed by outcome, equals its statistics' outcome counters.</summary>
    private void AssertCountersAgreeWithStatistics(ThreadPoolManager manager)
    {
        var statistics = manager.GetStatistics();
        var counts = _measurements
            .Where(m => m.Instrument == "threadlineage.pool.work_item.count" && (string?)m.Tags["threadlineage.pool.id"] == manager.Id)
            .GroupBy(m => (string)m.Tags["threadlineage.work_item.outcome"]!)
            .ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.Equal(statistics.Completed, counts.GetValueOrDefault("ok"));
        Assert.Equal(statistics.Faulted, counts.GetValueOrDefault("faulted"));
        Assert.Equal(statistics.Canceled, counts.GetValueOrDefault("canceled"));
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
