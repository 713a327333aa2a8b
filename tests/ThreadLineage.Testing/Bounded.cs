namespace ThreadLineage.Testing;

/// <summary>Bounded waits: every wait in the suite fails with a message instead of hanging CI.</summary>
public static class Bounded
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public static void Wait(Task task, string what)
    {
        if (!task.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static T Result<T>(Task<T> task, string what)
    {
        Wait(task, what);
        return task.Result;
    }

    public static async Task WaitAsync(Task task, string what)
    {
        try
        {
            await task.WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static async Task<T> ResultAsync<T>(Task<T> task, string what)
    {
        await WaitAsync(task, what);
        return await task;
    }

    /// <summary>A token that cancels after <see cref="Timeout"/>, for calls that take one (a host's start and stop).</summary>
    public static CancellationToken Token() => new CancellationTokenSource(Timeout).Token;

    public static void Wait(ManualResetEventSlim gate, string what)
    {
        if (!gate.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    public static void Wait(CountdownEvent countdown, string what)
    {
        if (!countdown.Wait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what} ({countdown.CurrentCount} signals missing).");
        }
    }

    public static void SignalAndWait(Barrier barrier, string what)
    {
        if (!barrier.SignalAndWait(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting at barrier {what}.");
        }
    }

    /// <summary>Waits (spinning, then yielding) until <paramref name="condition"/> holds. A condition wait, not a delay.</summary>
    public static void Until(Func<bool> condition, string what)
    {
        if (!SpinWait.SpinUntil(condition, Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting until {what}.");
        }
    }

    public static void Join(Thread thread, string what)
    {
        if (!thread.Join(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for thread {what} to finish.");
        }
    }

    /// <summary>Starts <paramref name="body"/> on a dedicated (long-running) thread and returns its task.</summary>
    public static Task<T> OnLongRunningThread<T>(Func<T> body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Starts <paramref name="body"/> on a dedicated (long-running) thread and returns its task.</summary>
    public static Task OnLongRunningThread(Action body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Runs <paramref name="body"/> on a new dedicated thread and returns what it returned (or rethrows).</summary>
    /// <remarks>The thread is started with <see cref="Thread.Start()"/>, so it is a child flow of the caller. The thread has exited when this returns.</remarks>
    public static T OnNewThread<T>(Func<T> body, string name = "test-thread")
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        })
        { Name = name, IsBackground = true };
        thread.Start();
        Join(thread, name);
        if (failure is not null)
        {
            throw new InvalidOperationException($"Thread {name} failed.", failure);
        }

        return result;
    }

    /// <summary>Waits until <paramref name="task"/> reaches a final state, whatever it is (never throws its exception).</summary>
    public static void WaitFinal(Task task, string what)
    {
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(Timeout))
        {
            throw new TimeoutException($"Timed out after {Timeout.TotalSeconds}s waiting for {what}.");
        }
    }

    /// <summary>Calls <c>Stop(wait: true, cancelPending)</c> on a dedicated thread and waits for it, bounded.</summary>
    public static void Stop(ThreadPoolManager manager, bool cancelPending = false) =>
        OnNewThread(
            () =>
            {
                manager.Stop(wait: true, cancelPending);
                return true;
            },
            $"stopping {manager.Id}");

    /// <summary>Runs <paramref name="body"/> on a new dedicated thread, a child flow of the caller; the thread has exited when this returns.</summary>
    public static void OnNewThread(Action body, string name = "test-thread") =>
        OnNewThread<object?>(
            () =>
            {
                body();
                return null;
            },
            name);
}
