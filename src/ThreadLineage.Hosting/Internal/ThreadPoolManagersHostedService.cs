using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// Starts every manager registered with <c>AddThreadPoolManager</c> when the host starts, and drains them when it stops.
/// </summary>
/// <remarks>
/// <para>
/// Managers start in <see cref="StartingAsync"/>, before any hosted service's <c>StartAsync</c> (so a
/// <see cref="BackgroundService"/> or the web server can submit work from its first moment), and drain in
/// <see cref="StoppedAsync"/>, after every hosted service's <c>StopAsync</c> (so work that the web server's
/// last requests or other services submit while they stop still runs).
/// </para>
/// <para>
/// Validation is the core's own: <see cref="ThreadPoolManager.Start(ThreadPoolManagerOptions)"/> checks the options
/// and reports every problem, naming the manager, before it starts anything. Repeating those rules in an
/// <see cref="IValidateOptions{TOptions}"/> would drift from the core as it gains options. Validators the
/// application adds for the named options still run (when the options are first read, here) and are
/// reported the same way. Every manager is tried, so one failed start reports the problems of all of them.
/// </para>
/// </remarks>
internal sealed class ThreadPoolManagersHostedService : IHostedLifecycleService
{
    private readonly ThreadPoolManagerRegistration[] _registrations;
    private readonly IOptionsMonitor<ThreadPoolManagerOptions> _options;
    private readonly ILogger _logger;

    // The managers this host started; the host calls the lifecycle methods one at a time, never concurrently.
    private ThreadPoolManager[] _started = [];

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
        var started = new List<ThreadPoolManager>(_registrations.Length);
        var failures = new List<Exception>();
        foreach (var registration in _registrations)
        {
            var failure = TryStart(registration);
            if (failure is null)
            {
                started.Add(registration.Manager);
            }
            else
            {
                failures.Add(failure);
            }
        }

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

    private Exception? TryStart(ThreadPoolManagerRegistration registration)
    {
        var name = registration.Name;
        try
        {
            // Reading the named options runs the application's configure actions, binding and validators.
            var options = _options.Get(name);
            registration.Manager.Start(options);
            HostingLog.ManagerStarted(_logger, name, registration.Manager.MaxWorkers, registration.Manager.TaskType);
            return null;
        }
        catch (OptionsValidationException exception)
        {
            // A validator the application added: its failures need not mention the manager, so prefix them.
            return new OptionsValidationException(
                name,
                typeof(ThreadPoolManagerOptions),
                exception.Failures.Select(failure => $"Thread pool manager '{name}': {failure}"));
        }
        catch (ArgumentException exception)
        {
            // The core's validation: one message that names the manager and lists every bad property.
            return new OptionsValidationException(name, typeof(ThreadPoolManagerOptions), [WithoutParameterName(exception)]);
        }
        catch (Exception exception)
        {
            // Binding failed (an unknown key, a value of the wrong type), another host already runs this manager,
            // it was disposed, or OnWorkerStarted threw: the host's start must fail with the manager's name on it.
            return new InvalidOperationException($"Thread pool manager '{name}' could not start: {exception.Message}", exception);
        }
    }

    private async Task DrainAsync(IReadOnlyList<ThreadPoolManager> managers, CancellationToken cancellationToken)
    {
        if (managers.Count == 0)
        {
            return;
        }

        // Begin every stop before awaiting any, so the pools drain in parallel within one shutdown timeout.
        // The token (the host's shutdown timeout) cancels work still queued when it fires.
        var stops = new Task[managers.Count];
        for (var i = 0; i < stops.Length; i++)
        {
            stops[i] = managers[i].StopAsync(cancellationToken);
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
                HostingLog.ManagerDrained(_logger, managers[i].Id);
            }
            else
            {
                HostingLog.ManagerDrainTimedOut(_logger, managers[i].Id, managers[i].GetStatistics().BusyWorkers);
            }
        }
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
}
