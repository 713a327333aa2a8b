namespace ThreadLineage.Benchmarks.Support;

/// <summary>
/// A second producer thread, started once per benchmark process: each invocation hands it a share of the
/// items, so a two-producer run pays no thread creation per invocation.
/// </summary>
public sealed class HelperProducer : IDisposable
{
    private readonly Thread _thread;
    private readonly SemaphoreSlim _go = new(0);
    private readonly ManualResetEventSlim _done = new(initialState: false);
    private Action<int>? _produce;
    private int _count;
    private bool _flowValue;
    private volatile bool _stopping;
    private Exception? _failure;

    public HelperProducer()
    {
        _thread = new Thread(Loop) { IsBackground = true, Name = "bench-producer-2" };
        _thread.UnsafeStart();
    }

    /// <summary>Starts producing <paramref name="count"/> items with <paramref name="produce"/> on the helper thread.</summary>
    public void Start(Action<int> produce, int count, bool flowValue)
    {
        _produce = produce;
        _count = count;
        _flowValue = flowValue;
        _failure = null;
        _done.Reset();
        _go.Release();
    }

    /// <summary>Waits until the helper has produced its share.</summary>
    public void Join()
    {
        _done.Wait();
        if (_failure is not null)
        {
            throw new InvalidOperationException("The second producer failed.", _failure);
        }
    }

    public void Dispose()
    {
        _stopping = true;
        _go.Release();
        _thread.Join();
        _go.Dispose();
        _done.Dispose();
    }

    private void Loop()
    {
        while (true)
        {
            _go.Wait();
            if (_stopping)
            {
                return;
            }

            try
            {
                // The helper produces in the same kind of context as the main producer.
                FlowValue.Apply(_flowValue);
                _produce!(_count);
            }
            catch (Exception exception)
            {
                _failure = exception;
            }
            finally
            {
                FlowValue.Apply(false);
                _done.Set();
            }
        }
    }
}
