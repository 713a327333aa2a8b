using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// Validates the options of every manager registered with <c>AddThreadPoolManager</c>, before any of them starts
/// (<c>ValidateOnStart</c>): the core's own rules (<see cref="ThreadPoolManagerOptions.Validate"/>), configuration that
/// could not be bound, and the borrowing graph: a <see cref="ThreadPoolManagerOptions.WorkersFrom"/> that names no
/// host, a cycle of borrowers, and a borrower whose task type its protected host would refuse.
/// </summary>
/// <remarks>
/// <para>
/// Every message starts with <c>Thread pool manager '{name}': </c>. Options of other names (not registered by the
/// hosting integration) are skipped.
/// </para>
/// <para>
/// The graph checks read the <em>other</em> managers' <see cref="ThreadPoolManagerOptions.WorkersFrom"/> and
/// <see cref="ThreadPoolManagerOptions.TaskType"/> from a factory that configures without validating: asking the
/// options monitor for them would validate them, and a cycle of borrowers would then validate its own start again.
/// Each manager reports only what concerns it: its own host, and a cycle that leads back to itself.
/// </para>
/// </remarks>
internal sealed class ThreadPoolManagerOptionsValidator : IValidateOptions<ThreadPoolManagerOptions>
{
    private readonly HashSet<string> _registered;
    private readonly OptionsFactory<ThreadPoolManagerOptions> _unvalidated;

    public ThreadPoolManagerOptionsValidator(
        IEnumerable<ThreadPoolManagerRegistration> registrations,
        IEnumerable<IConfigureOptions<ThreadPoolManagerOptions>> setups,
        IEnumerable<IPostConfigureOptions<ThreadPoolManagerOptions>> postConfigures)
    {
        _registered = new HashSet<string>(registrations.Select(static r => r.Name), StringComparer.Ordinal);
        _unvalidated = new OptionsFactory<ThreadPoolManagerOptions>(setups, postConfigures);
    }

    /// <summary>Returns <paramref name="problem"/> prefixed with the manager's name, as every hosting validation message is.</summary>
    public static string Prefix(string name, string problem) => $"Thread pool manager '{name}': {problem}";

    public ValidateOptionsResult Validate(string? name, ThreadPoolManagerOptions options)
    {
        if (name is null || !_registered.Contains(name))
        {
            return ValidateOptionsResult.Skip;
        }

        var problems = new List<string>();
        problems.AddRange(ConfigurationBindingFailures.Get(options));
        problems.AddRange(options.Validate());
        if (!string.IsNullOrWhiteSpace(options.WorkersFrom))
        {
            ValidateHost(name, options, problems);
        }

        return problems.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(problems.Select(problem => Prefix(name, problem)));
    }

    /// <summary>Checks that the host resolves (registered here, or running on Lineage.Root), takes this task type, and borrows from no cycle.</summary>
    private void ValidateHost(string name, ThreadPoolManagerOptions options, List<string> problems)
    {
        var hostId = options.WorkersFrom!;
        if (string.Equals(hostId, name, StringComparison.Ordinal))
        {
            problems.Add(
                $"WorkersFrom names '{name}' itself, and a manager cannot borrow workers from itself. " +
                "Set WorkersFrom to another manager's name, or to null for dedicated threads.");
            return;
        }

        string? hostTaskType;
        if (_registered.Contains(hostId))
        {
            var host = _unvalidated.Create(hostId);
            hostTaskType = host.TaskType;
            if (FindCycle(name, hostId, host.WorkersFrom) is { } cycle)
            {
                problems.Add(
                    $"WorkersFrom forms a cycle of borrowers: {string.Join(" -> ", cycle.Select(static id => $"'{id}'"))}. " +
                    "Each of them would run on the threads of the next, and none has threads of its own: " +
                    "set WorkersFrom to null on one of them for dedicated threads.");
            }
        }
        else if (Lineage.Root.TryGetManager(hostId, out var running) && running.IsRunning)
        {
            // Not registered here but already running on Lineage.Root (started by the application or another host).
            hostTaskType = running.TaskType;
        }
        else
        {
            problems.Add(
                (running is null
                    ? $"WorkersFrom names '{hostId}', which is neither registered with this host nor a manager on Lineage.Root. "
                    : $"WorkersFrom names '{hostId}', which is not registered with this host and is not running on Lineage.Root. ") +
                $"Register it too (AddThreadPoolManager(\"{hostId}\", …)) so that the host starts it first, start it on Lineage.Root " +
                "before the host starts, or set WorkersFrom to null for dedicated threads.");
            return;
        }

        if (hostTaskType is not null && !string.Equals(options.TaskType, hostTaskType, StringComparison.Ordinal))
        {
            problems.Add(
                $"TaskType must be '{hostTaskType}' to borrow workers from '{hostId}', which only runs work of that task type " +
                $"(it is {(options.TaskType is null ? "null" : $"'{options.TaskType}'")}).");
        }
    }

    /// <summary>
    /// Follows WorkersFrom from <paramref name="name"/>'s host <paramref name="hostId"/> (which borrows from <paramref name="next"/>)
    /// through the registered managers; returns the cycle when it leads back to <paramref name="name"/>, and <see langword="null"/>
    /// when it ends or loops elsewhere (that loop's members report it).
    /// </summary>
    private List<string>? FindCycle(string name, string hostId, string? next)
    {
        var path = new List<string> { name, hostId };
        while (!string.IsNullOrWhiteSpace(next) && _registered.Contains(next))
        {
            if (string.Equals(next, name, StringComparison.Ordinal))
            {
                path.Add(name);
                return path;
            }

            if (path.Contains(next, StringComparer.Ordinal))
            {
                return null;
            }

            path.Add(next);
            next = _unvalidated.Create(next).WorkersFrom;
        }

        return null;
    }
}
