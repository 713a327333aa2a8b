using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// Starts every manager registered with <c>AddThreadPoolManager</c> when the host starts, hosts before their borrowers,
/// and drains them when it stops, borrowers before their hosts.
/// </summary>
/// <remarks>
/// <para>
/// Managers start in <see cref="StartingAsync"/>, before any hosted service's <c>StartAsync</c> (so a
/// <see cref="BackgroundService"/> or the web server can submit work from its first moment), and drain in
/// <see cref="StoppedAsync"/>, after every hosted service's <c>StopAsync</c> (so work that the web server's
/// last requests or other services submit while they stop still runs).
/// </para>
/// <para>
/// Validation comes first: the host validates every registered manager's options (<c>ValidateOnStart</c>, with
/// <see cref="ThreadPoolManagerOptionsValidator"/> and the application's validators) before any hosted service starts.
/// <see cref="StartingAsync"/> reads every manager's options before it starts any, so a host that does not validate on
/// start still reports every problem with nothing started. What only a start can find (a manager already running in
/// another host, a host on <see cref="Lineage.Root"/> that stopped meanwhile, a <c>WorkerStarted</c> hook that throws)
/// fails the start with the manager's name, and whatever this host had started is stopped again.
/// </para>
/// </remarks>
internal sealed class ThreadPoolManagersHostedService : IHostedLifecycleService
{
    private readonly ThreadPoolManagerRegistration[] _registrations;
    private readonly IOptionsMonitor<ThreadPoolManagerOptions> _options;
    private readonly ILogger _logger;

    // The managers this host started, hosts before their borrowers; the host calls the lifecycle methods one at a time.
    private StartedManager[] _started = [];

    public ThreadPoolManagersHostedService(
        IEnumerable<ThreadPoolManagerRegistration> registrations,
        IOptionsMonitor<ThreadPoolManagerOptions> options,
        ILoggerFactory? loggerFactory = null)
    {
        _registrations = [.. registrations];
        _options = options;
        _logger = loggerFactory?.CreateLogger("ThreadLineage.Hosting") ?? NullLogger.Instance;
    }

    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        var options = ReadAllOptions();
        var order = StartOrder(options);
        var (started, failures) = await StartInRootLineageAsync(order, options).ConfigureAwait(false);
        if (failures.Count == 0)
        {
            _started = [.. started];
            return;
        }

        // A host whose start failed is never stopped, so roll back: leave nothing of this host running.
        await DrainAsync(started, cancellationToken).ConfigureAwait(false);
        throw failures.Count == 1
            ? failures[0]
            : new AggregateException($"{failures.Count} thread pool managers could not start; each inner exception says why.", failures);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        var started = _started;
        _started = [];
        return DrainAsync(started, cancellationToken);
    }

    /// <summary>Reads (configures and validates) every manager's options, and fails with all of their problems before any manager starts.</summary>
    private ThreadPoolManagerOptions[] ReadAllOptions()
    {
        var options = new ThreadPoolManagerOptions[_registrations.Length];
        var failures = new List<Exception>();
        for (var i = 0; i < _registrations.Length; i++)
        {
            var name = _registrations[i].Name;
            try
            {
                options[i] = _options.Get(name);
            }
            catch (OptionsValidationException exception)
            {
                // Already worded by the validators, each failure prefixed with the manager's name.
                failures.Add(exception);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // A configure action of the application threw: the host's start must fail with the manager's name on it.
                failures.Add(new InvalidOperationException($"Thread pool manager '{name}' could not start: {exception.Message}", exception));
            }
        }

        return failures.Count switch
        {
            0 => options,
            1 => throw failures[0],
            _ => throw new AggregateException($"{failures.Count} thread pool managers are misconfigured; each inner exception says why.", failures),
        };
    }

    /// <summary>
    /// Returns the registrations' indexes, each manager after the registered manager it borrows from (its host), otherwise in
    /// registration order, with each one's host index (-1: dedicated threads, or a host not registered here).
    /// </summary>
    private List<(int Index, int Host)> StartOrder(ThreadPoolManagerOptions[] options)
    {
        var byName = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < _registrations.Length; i++)
        {
            byName[_registrations[i].Name] = i;
        }

        var order = new List<(int Index, int Host)>(_registrations.Length);
        var state = new byte[_registrations.Length]; // 0: not visited, 1: being visited, 2: placed
        for (var i = 0; i < _registrations.Length; i++)
        {
            Visit(i);
        }

        return order;

        void Visit(int index)
        {
            if (state[index] != 0)
            {
                // Placed already, or a cycle, which validation rejects: its Start then fails and names it.
                return;
            }

            state[index] = 1;
            var host = options[index].WorkersFrom is { } hostId && byName.TryGetValue(hostId, out var found) ? found : -1;
            if (host >= 0)
            {
                Visit(host);
            }

            state[index] = 2;
            order.Add((index, host));
        }
    }

    /// <summary>Starts the managers in <paramref name="order"/>, in a flow whose lineage is <see cref="Lineage.Root"/>.</summary>
    private async Task<(List<StartedManager> Started, List<Exception> Failures)> StartInRootLineageAsync(
        List<(int Index, int Host)> order,
        ThreadPoolManagerOptions[] options)
    {
        var started = new List<StartedManager>(order.Count);
        var failures = new List<Exception>();
        var positions = new int[_registrations.Length];
        Array.Fill(positions, -1);

        void StartAll()
        {
            foreach (var (index, host) in order)
            {
                if (host >= 0 && positions[host] < 0)
                {
                    // Its host failed to start (and says why): this borrower would only fail to find it running.
                    continue;
                }

                var registration = _registrations[index];
                var failure = TryStart(registration, options[index]);
                if (failure is null)
                {
                    positions[index] = started.Count;
                    started.Add(new StartedManager(registration.Manager, host >= 0 ? positions[host] : -1));
                }
                else
                {
                    failures.Add(failure);
                }
            }
        }

        // Start resolves WorkersFrom through the lineage of the flow that calls it. Hosting attaches its managers to
        // Lineage.Root, so resolve from there even when the host is started inside a scope that shadows a host's name:
        // with the flow suppressed, the thread-pool item runs in the default context, whose lineage is the root.
        if (ReferenceEquals(Lineage.Current, Lineage.Root))
        {
            StartAll();
        }
        else if (ExecutionContext.IsFlowSuppressed())
        {
            // The caller suppressed the flow already (SuppressFlow would throw): the item runs in the default context anyway.
            await Task.Run(StartAll).ConfigureAwait(false);
        }
        else
        {
            Task starting;
            using (ExecutionContext.SuppressFlow())
            {
                starting = Task.Run(StartAll);
            }

            await starting.ConfigureAwait(false);
        }

        return (started, failures);
    }

    private Exception? TryStart(ThreadPoolManagerRegistration registration, ThreadPoolManagerOptions options)
    {
        var name = registration.Name;
        try
        {
            registration.Manager.Start(options);
            if (registration.Manager.WorkersFrom is { } host)
            {
                HostingLog.ManagerStartedBorrowing(_logger, name, registration.Manager.MaxWorkers, host.Id, registration.Manager.TaskType);
            }
            else
            {
                HostingLog.ManagerStarted(_logger, name, registration.Manager.MaxWorkers, registration.Manager.TaskType);
            }

            return null;
        }
        catch (ArgumentException exception)
        {
            // The core's validation, which the host's validation already ran: options changed since (a configuration reload).
            return new OptionsValidationException(name, typeof(ThreadPoolManagerOptions), [WithoutParameterName(exception)]);
        }
        catch (Exception exception)
        {
            // Another host already runs this manager, it was disposed, its host stopped or refuses its task type, or a
            // WorkerStarted hook threw: the host's start must fail with the manager's name on it.
            return new InvalidOperationException($"Thread pool manager '{name}' could not start: {exception.Message}", exception);
        }
    }

    /// <summary>
    /// Stops <paramref name="managers"/> (listed hosts before borrowers): each manager's stop begins once the stops of its
    /// borrowers have completed, so borrowers drain while their host still runs; unrelated managers drain in parallel,
    /// all within one shutdown timeout (<paramref name="cancellationToken"/>).
    /// </summary>
    private async Task DrainAsync(IReadOnlyList<StartedManager> managers, CancellationToken cancellationToken)
    {
        if (managers.Count == 0)
        {
            return;
        }

        // Backwards through the start order: a borrower is listed after its host, so its stop exists when its host's is built.
        var stops = new Task[managers.Count];
        var borrowers = new List<Task>[managers.Count];
        for (var i = stops.Length - 1; i >= 0; i--)
        {
            stops[i] = StopAfterAsync(managers[i].Manager, borrowers[i], cancellationToken);
            if (managers[i].Host >= 0)
            {
                (borrowers[managers[i].Host] ??= []).Add(stops[i]);
            }
        }

        try
        {
            await Task.WhenAll(stops).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Work already running does not observe the token. Like BackgroundService, do not hold the host's
            // shutdown past its timeout: say which pools are still busy and let the host finish stopping.
        }

        for (var i = 0; i < stops.Length; i++)
        {
            if (stops[i].IsCompleted)
            {
                HostingLog.ManagerDrained(_logger, managers[i].Manager.Id);
            }
            else
            {
                HostingLog.ManagerDrainTimedOut(_logger, managers[i].Manager.Id, managers[i].Manager.GetStatistics().BusyWorkers);
            }
        }
    }

    /// <summary>Stops <paramref name="manager"/> once its borrowers' stops completed, or at once when the shutdown timeout fires.</summary>
    private static async Task StopAfterAsync(ThreadPoolManager manager, List<Task>? borrowers, CancellationToken cancellationToken)
    {
        if (borrowers is not null)
        {
            // Out of time (or a borrower's stop failed): stop the host anyway; a host's stop stops its borrowers too, and
            // a canceled token cancels their queued work.
            await Task.WhenAll(borrowers).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        await manager.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns the exception's message without the " (Parameter 'options')" that <see cref="ArgumentException"/> appends.</summary>
    private static string WithoutParameterName(ArgumentException exception)
    {
        var message = exception.Message;
        if (exception.ParamName is null)
        {
            return message;
        }

        // The suffix is localised, so let ArgumentException format it rather than hard-coding the English text.
        var suffix = new ArgumentException(string.Empty, exception.ParamName).Message;
        return message.EndsWith(suffix, StringComparison.Ordinal) ? message[..^suffix.Length] : message;
    }

    /// <summary>A manager this host started, and the position (in the started list) of the registered manager it borrows from, or -1.</summary>
    private readonly record struct StartedManager(ThreadPoolManager Manager, int Host);
}
