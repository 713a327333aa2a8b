namespace ThreadLineage.Tests.Pools;

/// <content>
/// Bad input: every public method of <see cref="ThreadPoolManager"/> with null, empty, negative, out-of-range and
/// wrong-state arguments gives the documented exception type, a message that names the manager and the fix, and
/// nothing changed by the refused call. (The lineage's lookups with bad input are in LineageTests.)
/// </content>
/// <remarks>
/// Guard exceptions (<see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/> from the BCL's
/// <c>ThrowIf*</c> helpers the library uses for guards) are held to the BCL convention: the right
/// <see cref="ArgumentException.ParamName"/>, named in the message with the constraint. Every other refusal must
/// name the manager and say what to do.
/// </remarks>
public partial class ThreadPoolManagerTests
{
    private const string RenderTaskType = "render";

    public enum ManagerState
    {
        NotStarted,
        Running,
        RunningProtected,
        RunningFull,
        Stopped,
        Disposed,
    }

    private static readonly Dictionary<string, BadCall> s_managerCases = BuildManagerCases().ToDictionary(static c => c.Name);

    public static TheoryData<string> ManagerCases => [.. s_managerCases.Keys];

    [Theory]
    [MemberData(nameof(ManagerCases))]
    public void PublicMethods_BadInput_ThrowTheDocumentedException_AndChangeNothing(string name)
    {
        var call = s_managerCases[name];
        using var gate = new Gate();
        var manager = Arrange(call.State, gate);
        try
        {
            var before = Snapshot(manager);

            var error = Record.Exception(() => call.Act(manager));

            Assert.NotNull(error);
            Assert.IsType(call.Expected, error);
            if (error is ArgumentException argument && call.ParamName is not null)
            {
                Assert.Equal(call.ParamName, argument.ParamName);
            }

            foreach (var fragment in call.MessageMustContain)
            {
                var expected = fragment.Replace("{id}", manager.Id, StringComparison.Ordinal);
                Assert.True(
                    error.Message.Contains(expected, StringComparison.Ordinal),
                    $"The message of {error.GetType().Name} should contain \"{expected}\": {error.Message}");
            }

            Assert.Equal(before, Snapshot(manager));
        }
        finally
        {
            gate.Open();
            manager.Stop(wait: true);
        }
    }

    private static IEnumerable<BadCall> BuildManagerCases()
    {
        const string NotRunning = "is not running";
        const string CallStart = "Call Start() first";
        string[] disposedMessage = ["{id}", "disposed"];
        var runningStates = new[] { ManagerState.NotStarted, ManagerState.Running };

        // Null work: a guard, whatever the state.
        foreach (var state in runningStates)
        {
            yield return new($"Submit(Action) null work, {state}", state, static m => _ = m.Submit((Action)null!), typeof(ArgumentNullException), "work", ["work"]);
            yield return new($"Submit(Func<T>) null work, {state}", state, static m => _ = m.Submit((Func<int>)null!), typeof(ArgumentNullException), "work", ["work"]);
            yield return new($"Submit(Func<Task>) null work, {state}", state, static m => _ = m.Submit((Func<Task>)null!), typeof(ArgumentNullException), "work", ["work"]);
            yield return new($"Submit(Func<Task<T>>) null work, {state}", state, static m => _ = m.Submit((Func<Task<int>>)null!), typeof(ArgumentNullException), "work", ["work"]);
            yield return new($"Post(Action) null work, {state}", state, static m => m.Post(null!), typeof(ArgumentNullException), "work", ["work"]);
            yield return new($"Post<TState> null work, {state}", state, static m => m.Post<int>(null!, 1), typeof(ArgumentNullException), "work", ["work"]);
        }

        // Submissions to a manager that is not running (never started, stopped) or disposed.
        foreach (var state in new[] { ManagerState.NotStarted, ManagerState.Stopped, ManagerState.Disposed })
        {
            var expected = state == ManagerState.Disposed ? typeof(ObjectDisposedException) : typeof(InvalidOperationException);
            string[] message = state == ManagerState.Disposed ? disposedMessage : ["{id}", NotRunning, CallStart];
            yield return new($"Submit(Action), {state}", state, static m => _ = m.Submit(static () => { }), expected, null, message);
            yield return new($"Submit(Func<T>), {state}", state, static m => _ = m.Submit(static () => 1), expected, null, message);
            yield return new($"Submit(Func<Task>), {state}", state, static m => _ = m.Submit(static () => Task.CompletedTask), expected, null, message);
            yield return new($"Submit(Func<Task<T>>), {state}", state, static m => _ = m.Submit(static () => Task.FromResult(1)), expected, null, message);
            yield return new($"Post(Action), {state}", state, static m => m.Post(static () => { }), expected, null, message);
            yield return new($"Post<TState>, {state}", state, static m => m.Post(static _ => { }, 1), expected, null, message);
            yield return new($"GetScheduler, {state}", state, static m => m.GetScheduler(), expected, null, message);
        }

        // Task-type protection: null and other types are refused, nothing queued.
        foreach (var type in new[] { null, "", "Render", "other" })
        {
            var label = type is null ? "null" : $"'{type}'";
            string[] message = ["{id}", $"'{RenderTaskType}'", $"taskType: \"{RenderTaskType}\""];
            yield return new($"Submit(Action) task type {label}", ManagerState.RunningProtected, m => _ = m.Submit(static () => { }, type), typeof(UnknownTaskTypeException), null, message);
            yield return new($"Submit(Func<Task<T>>) task type {label}", ManagerState.RunningProtected, m => _ = m.Submit(static () => Task.FromResult(1), type), typeof(UnknownTaskTypeException), null, message);
            yield return new($"Post task type {label}", ManagerState.RunningProtected, m => m.Post(static () => { }, type), typeof(UnknownTaskTypeException), null, message);
            yield return new($"GetScheduler task type {label}", ManagerState.RunningProtected, m => m.GetScheduler(type), typeof(UnknownTaskTypeException), null, message);
        }

        // A full bounded queue with QueueFullMode.Reject.
        string[] full = ["{id}", "queue is full", "QueueCapacity"];
        yield return new("Submit(Action), queue full", ManagerState.RunningFull, static m => _ = m.Submit(static () => { }), typeof(ThreadPoolFullException), null, full);
        yield return new("Submit(Func<Task>), queue full", ManagerState.RunningFull, static m => _ = m.Submit(static () => Task.CompletedTask), typeof(ThreadPoolFullException), null, full);
        yield return new("Post, queue full", ManagerState.RunningFull, static m => m.Post(static () => { }), typeof(ThreadPoolFullException), null, full);

        // Start: out-of-range sizes, empty strings, wrong state.
        foreach (var size in new[] { 0, -1, int.MinValue })
        {
            yield return new($"Start({size})", ManagerState.NotStarted, m => m.Start(size), typeof(ArgumentOutOfRangeException), "maxWorkers", ["maxWorkers", "1"]);
            yield return new($"SetMaxWorkers({size})", ManagerState.Running, m => m.SetMaxWorkers(size), typeof(ArgumentOutOfRangeException), "maxWorkers", ["maxWorkers", "1"]);
        }

        yield return new("Start taskType empty", ManagerState.NotStarted, static m => m.Start(1, taskType: ""), typeof(ArgumentException), null, ["{id}", "TaskType"]);
        yield return new("Start threadNamePrefix empty", ManagerState.NotStarted, static m => m.Start(1, threadNamePrefix: ""), typeof(ArgumentException), null, ["{id}", "ThreadNamePrefix"]);
        yield return new("Start threadNamePrefix blank", ManagerState.NotStarted, static m => m.Start(1, threadNamePrefix: " \t"), typeof(ArgumentException), null, ["{id}", "ThreadNamePrefix"]);
        yield return new("Start(options) null", ManagerState.NotStarted, static m => m.Start(null!), typeof(ArgumentNullException), "options", ["options"]);
        foreach (var (label, options, property) in BadOptions())
        {
            yield return new($"Start(options) {label}", ManagerState.NotStarted, m => m.Start(options), typeof(ArgumentException), "options", ["{id}", property]);
        }

        yield return new("Start while running", ManagerState.Running, static m => m.Start(1), typeof(InvalidOperationException), null, ["{id}", "already running", "Stop()"]);
        yield return new("Start(options) while running", ManagerState.Running, static m => m.Start(new ThreadPoolManagerOptions { MaxWorkers = 1 }), typeof(InvalidOperationException), null, ["{id}", "already running", "Stop()"]);
        yield return new("Start after Dispose", ManagerState.Disposed, static m => m.Start(1), typeof(ObjectDisposedException), null, disposedMessage);
        yield return new("Start(options) after Dispose", ManagerState.Disposed, static m => m.Start(new ThreadPoolManagerOptions { MaxWorkers = 1 }), typeof(ObjectDisposedException), null, disposedMessage);

        // Resizing a pool that is not running.
        foreach (var state in new[] { ManagerState.NotStarted, ManagerState.Stopped })
        {
            yield return new($"SetMaxWorkers(2), {state}", state, static m => m.SetMaxWorkers(2), typeof(InvalidOperationException), null, ["{id}", NotRunning, "Start()"]);
        }

        yield return new("SetMaxWorkers(2), Disposed", ManagerState.Disposed, static m => m.SetMaxWorkers(2), typeof(ObjectDisposedException), null, disposedMessage);
    }

    private static IEnumerable<(string Label, ThreadPoolManagerOptions Options, string Property)> BadOptions()
    {
        yield return ("MaxWorkers 0", new() { MaxWorkers = 0 }, "MaxWorkers");
        yield return ("MaxWorkers -3", new() { MaxWorkers = -3 }, "MaxWorkers");
        yield return ("MinWorkers 0", new() { MaxWorkers = 2, MinWorkers = 0 }, "MinWorkers");
        yield return ("MinWorkers over MaxWorkers", new() { MaxWorkers = 2, MinWorkers = 3 }, "MinWorkers");
        yield return ("IdleTimeout zero", new() { MaxWorkers = 1, IdleTimeout = TimeSpan.Zero }, "IdleTimeout");
        yield return ("IdleTimeout negative", new() { MaxWorkers = 1, IdleTimeout = TimeSpan.FromMilliseconds(-2) }, "IdleTimeout");
        yield return ("IdleTimeout too long", new() { MaxWorkers = 1, IdleTimeout = TimeSpan.MaxValue }, "IdleTimeout");
        yield return ("QueueCapacity 0", new() { MaxWorkers = 1, QueueCapacity = 0 }, "QueueCapacity");
        yield return ("QueueCapacity -1", new() { MaxWorkers = 1, QueueCapacity = -1 }, "QueueCapacity");
        yield return ("QueueFullMode undefined", new() { MaxWorkers = 1, QueueFullMode = (QueueFullMode)7 }, "QueueFullMode");
        yield return ("TaskType empty", new() { MaxWorkers = 1, TaskType = "" }, "TaskType");
        yield return ("ThreadNamePrefix blank", new() { MaxWorkers = 1, ThreadNamePrefix = "  " }, "ThreadNamePrefix");
    }

    private static ThreadPoolManager Arrange(ManagerState state, Gate gate)
    {
        var manager = new ThreadPoolManager(TestIds.New("bad-input"));
        switch (state)
        {
            case ManagerState.Running:
                manager.Start(1);
                break;
            case ManagerState.RunningProtected:
                manager.Start(1, taskType: RenderTaskType);
                break;
            case ManagerState.RunningFull:
                manager.Start(new ThreadPoolManagerOptions { MaxWorkers = 1, QueueCapacity = 1, QueueFullMode = QueueFullMode.Reject });
                _ = gate.HoldWorker(manager);
                _ = manager.Submit(static () => { });
                Assert.Equal(1, manager.GetStatistics().QueuedItems);
                break;
            case ManagerState.Stopped:
                manager.Start(1);
                manager.Stop();
                break;
            case ManagerState.Disposed:
                manager.Start(1);
                manager.Dispose();
                break;
        }

        return manager;
    }

    private static (bool IsRunning, int MaxWorkers, string? TaskType, int Queued, long Completed, long Faulted, long Canceled) Snapshot(ThreadPoolManager manager)
    {
        var statistics = manager.GetStatistics();
        return (manager.IsRunning, manager.MaxWorkers, manager.TaskType, statistics.QueuedItems, statistics.Completed, statistics.Faulted, statistics.Canceled);
    }

    private sealed record BadCall(string Name, ManagerState State, Action<ThreadPoolManager> Act, Type Expected, string? ParamName, string[] MessageMustContain);
}
