using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace ThreadLineage.Tests.Telemetry;

/// <summary>OpenTelemetry sees the pools' metrics with nothing but AddMeter("ThreadLineage") (the docs/telemetry.md example).</summary>
public class OpenTelemetryTests
{
    [Fact]
    public void MeterProvider_WithAddMeterThreadLineage_ExportsThePoolInstruments()
    {
        var exported = new List<Metric>();
        // docs/telemetry.md, "OpenTelemetry": the whole setup is one AddMeter call.
        #region doc: docs/telemetry.md › OpenTelemetry
        using var meterProvider = Sdk.CreateMeterProviderBuilder()
            .AddMeter("ThreadLineage")
            .AddInMemoryExporter(exported)
            .Build();
        #endregion

        var id = $"otel-{Guid.NewGuid():N}";
        using (var manager = new ThreadPoolManager(id))
        {
            manager.Start(1);
            Bounded.Wait(manager.Submit(() => { }), "work");
            // Counters are updated just after the task completes; idle means the worker is done with it.
            Bounded.Wait(manager.WaitForIdleAsync(), "the worker to finish accounting");
            meterProvider.ForceFlush();
        }

        var names = exported.Select(m => m.Name).ToHashSet();
        Assert.Contains("threadlineage.pool.work_item.count", names);
        Assert.Contains("threadlineage.pool.work_item.duration", names);
        Assert.Contains("threadlineage.pool.work_item.queue_wait", names);
        Assert.Contains("threadlineage.pool.thread.count", names);
        Assert.Contains("threadlineage.pool.queue.length", names);
    }
}
