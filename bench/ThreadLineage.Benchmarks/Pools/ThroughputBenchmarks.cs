using System.Threading.Tasks.Dataflow;
using BenchmarkDotNet.Attributes;
using ThreadLineage.Benchmarks.Competitors;
using ThreadLineage.Benchmarks.Support;

namespace ThreadLineage.Benchmarks.Pools;

/// <summary>
/// One million no-op items through two workers, from one or two producers, waiting for all of them:
/// <c>ThreadPoolManager.Submit</c> and <c>Post</c> against the shared thread pool, dataflow, a concurrent
/// scheduler and two hand-rolled dedicated pools. Times are per item (OperationsPerInvoke).
/// </summary>
/// <remarks>
/// Every competitor runs the same work, <see cref="Countdown.Signal"/> (one interlocked decrement), and the
/// producer waits on the countdown, so the run ends when the last item has run. Task-returning competitors
/// drop their tasks: what is measured is the dispatch, not the cost of keeping a million tasks alive.
/// With <see cref="AsyncLocalSet"/> the producers run with an <see cref="AsyncLocal{T}"/> value, so every
/// competitor that flows <see cref="ExecutionContext"/> captures and restores a non-default context.
/// </remarks>
[MemoryDiagnoser]
public class ThroughputBenchmarks
{
    public const int Items = 1_000_000;
    private const int Workers = 2;

    private readonly Countdown _countdown = new();
    private HelperProducer? _helper;
    private ThreadPoolManager? _manager;
    private ActionBlock<int>? _block;
    private ConcurrentExclusiveSchedulerPair? _pair;
    private TaskFactory? _concurrentFactory;
    private ChannelPool? _channelPool;
    private BlockingCollectionPool? _blockingPool;
    private CountdownWorkItem? _workItem;

    private Action<int>? _taskRun;
    private Action<int>? _unsafeQueue;
    private Action<int>? _actionBlock;
    private Action<int>? _concurrentScheduler;
    private Action<int>? _channel;
    private Action<int>? _blockingCollection;
    private Action<int>? _submit;
    private Action<int>? _post;

    [Params(1, 2)]
    public int Producers { get; set; }

    [Params(false, true)]
    public bool AsyncLocalSet { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var signal = _countdown.SignalAction;
        _helper = new HelperProducer();

        _manager = new ThreadPoolManager("bench-throughput");
        _manager.Start(Workers);
        _block = new ActionBlock<int>(
            _ => _countdown.Signal(),
            new ExecutionDataflowBlockOptions { MaxDegreeOfParallelism = Workers });
        _pair = new ConcurrentExclusiveSchedulerPair(TaskScheduler.Default, maxConcurrencyLevel: Workers);
        _concurrentFactory = new TaskFactory(
            CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskContinuationOptions.None, _pair.ConcurrentScheduler);
        _channelPool = new ChannelPool(Workers);
        _blockingPool = new BlockingCollectionPool(Workers);
        _workItem = new CountdownWorkItem(_countdown);

        var manager = _manager;
        var block = _block;
        var factory = _concurrentFactory;
        var channelPool = _channelPool;
        var blockingPool = _blockingPool;
        var workItem = _workItem;

        _taskRun = n =>
        {
            for (var i = 0; i < n; i++)
            {
                _ = Task.Run(signal);
            }
        };
        _unsafeQueue = n =>
        {
            for (var i = 0; i < n; i++)
            {
                ThreadPool.UnsafeQueueUserWorkItem(workItem, preferLocal: false);
            }
        };
        _actionBlock = n =>
        {
            for (var i = 0; i < n; i++)
            {
                block.Post(0);
            }
        };
        _concurrentScheduler = n =>
        {
            for (var i = 0; i < n; i++)
            {
                _ = factory.StartNew(signal);
            }
        };
        _channel = n =>
        {
            for (var i = 0; i < n; i++)
            {
                _ = channelPool.Submit(signal);
            }
        };
        _blockingCollection = n =>
        {
            for (var i = 0; i < n; i++)
            {
                _ = blockingPool.Submit(signal);
            }
        };
        _submit = n =>
        {
            for (var i = 0; i < n; i++)
            {
                _ = manager.Submit(signal);
            }
        };
        _post = n =>
        {
            for (var i = 0; i < n; i++)
            {
                manager.Post(signal);
            }
        };
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _manager?.Stop();
        _block?.Complete();
        _block?.Completion.Wait();
        _pair?.Complete();
        _channelPool?.Dispose();
        _blockingPool?.Dispose();
        _helper?.Dispose();
        _countdown.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Items, Description = "Task.Run")]
    public void TaskRun() => Run(_taskRun!);

    [Benchmark(OperationsPerInvoke = Items, Description = "ThreadPool.UnsafeQueueUserWorkItem")]
    public void UnsafeQueueUserWorkItem() => Run(_unsafeQueue!);

    [Benchmark(OperationsPerInvoke = Items, Description = "ActionBlock (DOP 2)")]
    public void ActionBlock() => Run(_actionBlock!);

    [Benchmark(OperationsPerInvoke = Items, Description = "ConcurrentExclusiveSchedulerPair (2)")]
    public void ConcurrentScheduler() => Run(_concurrentScheduler!);

    [Benchmark(OperationsPerInvoke = Items, Description = "Channel + 2 threads")]
    public void ChannelPool() => Run(_channel!);

    [Benchmark(OperationsPerInvoke = Items, Description = "BlockingCollection + 2 threads")]
    public void BlockingCollectionPool() => Run(_blockingCollection!);

    [Benchmark(OperationsPerInvoke = Items, Description = "ThreadPoolManager.Submit")]
    public void Submit() => Run(_submit!);

    [Benchmark(OperationsPerInvoke = Items, Description = "ThreadPoolManager.Post")]
    public void Post() => Run(_post!);

    private void Run(Action<int> produce)
    {
        _countdown.Reset(Items);
        FlowValue.Apply(AsyncLocalSet);
        try
        {
            if (Producers == 1)
            {
                produce(Items);
            }
            else
            {
                _helper!.Start(produce, Items / 2, AsyncLocalSet);
                produce(Items - (Items / 2));
                _helper.Join();
            }
        }
        finally
        {
            FlowValue.Apply(false);
        }

        _countdown.Wait();
    }
}
