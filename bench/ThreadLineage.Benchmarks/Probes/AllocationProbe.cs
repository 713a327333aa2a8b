using System.Globalization;
using ThreadLineage.Benchmarks.Competitors;
using ThreadLineage.Benchmarks.Goals;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Probes;

/// <summary>
/// <c>-- alloc [items]</c>: bytes allocated per item by the whole process (all threads: producers and workers),
/// from <see cref="GC.GetTotalAllocatedBytes(bool)"/> deltas around a run of items, after warm-up runs.
/// </summary>
/// <remarks>
/// The caller's delegate is cached, so it is not counted. A run is warmed up twice first so that queues have
/// grown to their steady size and the JIT has finished, then measured three times; the smallest figure is
/// reported, because a run whose backlog happens to outgrow every earlier one allocates a larger queue segment
/// once (a one-off, not a per-item cost).
/// </remarks>
internal static class AllocationProbe
{
    public static void Run(string[] args)
    {
        var items = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 1_000_000;
        ProbeReport.Header($"Allocation per item, whole process, {items} items per measurement");

        using var countdown = new Countdown();
        using var manager = new ThreadPoolManager("alloc");
        manager.Start(2);
        using var channelPool = new ChannelPool(2);
        var workItem = new CountdownWorkItem(countdown);
        var signal = countdown.SignalAction;
        Func<int> signalWithResult = () =>
        {
            countdown.Signal();
            return 1;
        };

        var competitors = new (string Name, Action<int> Produce)[]
        {
            ("Task.Run", n => Repeat(n, () => _ = Task.Run(signal))),
            ("ThreadPool.UnsafeQueueUserWorkItem (reused item)", n => Repeat(n, () => ThreadPool.UnsafeQueueUserWorkItem(workItem, preferLocal: false))),
            ("Channel + 2 threads (task per item)", n => Repeat(n, () => _ = channelPool.Submit(signal))),
            ("ThreadPoolManager.Submit(Action)", n => Repeat(n, () => _ = manager.Submit(signal))),
            ("ThreadPoolManager.Submit<T>(Func<T>)", n => Repeat(n, () => _ = manager.Submit(signalWithResult))),
            ("ThreadPoolManager.Post(Action)", n => Repeat(n, () => manager.Post(signal))),
            ("ThreadPoolManager.Post<TState>(Action<TState>, TState)", n => Repeat(n, () => manager.Post(static c => c.Signal(), countdown))),
        };

        var rows = new List<IReadOnlyList<string>>();
        foreach (var (name, produce) in competitors)
        {
            var plain = Measure(produce, countdown, items, asyncLocalSet: false);
            var withValue = Measure(produce, countdown, items, asyncLocalSet: true);
            Measured.Record($"alloc.{name}", plain);
            Measured.Record($"alloc.{name}.asynclocal", withValue);
            rows.Add([name, Bytes(plain), Bytes(withValue)]);
        }

        ProbeReport.Table(["Operation", "bytes/item", "bytes/item, AsyncLocal set"], rows);
        Console.WriteLine($"Reference: one `new Task(Action)` is {TaskSize():0} bytes on this runtime.");

        // Why a task cannot carry a non-default context for less: created under SuppressFlow it captures nothing, but
        // SuppressFlow itself allocates a flow-suppressed copy of the context, as big as the side object it saves.
        FlowValue.Apply(true);
        try
        {
            var task = PerCall(static () => _ = new Task(static () => { }));
            var suppress = PerCall(static () => ExecutionContext.SuppressFlow().Undo());
            var taskUnderSuppress = PerCall(static () =>
            {
                using (ExecutionContext.SuppressFlow())
                {
                    _ = new Task(static () => { });
                }
            });
            Measured.Record("alloc.reference.task.asynclocal", task);
            Measured.Record("alloc.reference.suppressflow.asynclocal", suppress);
            Console.WriteLine(
                $"With an AsyncLocal set: `new Task(Action)` {task:0} bytes; `ExecutionContext.SuppressFlow()` + `Undo()` " +
                $"{suppress:0} bytes; a `new Task(Action)` under `SuppressFlow` (which captures no context) {taskUnderSuppress:0} bytes in all.");
        }
        finally
        {
            FlowValue.Apply(false);
        }
    }

    private static double PerCall(Action call)
    {
        const int Count = 10_000;
        for (var i = 0; i < Count; i++)
        {
            call();
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Count; i++)
        {
            call();
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)Count;
    }

    private static void Repeat(int count, Action submitOne)
    {
        for (var i = 0; i < count; i++)
        {
            submitOne();
        }
    }

    private static double Measure(Action<int> produce, Countdown countdown, int items, bool asyncLocalSet)
    {
        FlowValue.Apply(asyncLocalSet);
        try
        {
            for (var warmup = 0; warmup < 2; warmup++)
            {
                countdown.Reset(items);
                produce(items);
                countdown.Wait();
            }

            var smallest = double.MaxValue;
            for (var run = 0; run < 3; run++)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                countdown.Reset(items);
                var before = GC.GetTotalAllocatedBytes(precise: true);
                produce(items);
                countdown.Wait();
                var after = GC.GetTotalAllocatedBytes(precise: true);
                smallest = Math.Min(smallest, (after - before) / (double)items);
            }

            return smallest;
        }
        finally
        {
            FlowValue.Apply(false);
        }
    }

    private static double TaskSize()
    {
        const int Count = 10_000;
        Action noop = static () => { };
        var keep = new Task[Count];
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Count; i++)
        {
            keep[i] = new Task(noop);
        }

        var after = GC.GetAllocatedBytesForCurrentThread();
        GC.KeepAlive(keep);
        return (after - before) / (double)Count;
    }

    private static string Bytes(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);
}
