using Microsoft.Extensions.Options;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// The options factory of <see cref="ThreadPoolManagerOptions"/> once <c>AddThreadPoolManager</c> is used: the standard
/// one, except that the failures of validators the application added for a registered manager name that manager
/// (<see cref="PrefixingOptionsValidator"/>), as <see cref="ThreadPoolManagerOptionsValidator"/>'s own failures do.
/// </summary>
internal sealed class ThreadPoolManagerOptionsFactory : OptionsFactory<ThreadPoolManagerOptions>
{
    public ThreadPoolManagerOptionsFactory(
        IEnumerable<IConfigureOptions<ThreadPoolManagerOptions>> setups,
        IEnumerable<IPostConfigureOptions<ThreadPoolManagerOptions>> postConfigures,
        IEnumerable<IValidateOptions<ThreadPoolManagerOptions>> validations,
        IEnumerable<ThreadPoolManagerRegistration> registrations)
        : base(setups, postConfigures, Prefixed(validations, registrations))
    {
    }

    private static IEnumerable<IValidateOptions<ThreadPoolManagerOptions>> Prefixed(
        IEnumerable<IValidateOptions<ThreadPoolManagerOptions>> validations,
        IEnumerable<ThreadPoolManagerRegistration> registrations)
    {
        var registered = new HashSet<string>(registrations.Select(static r => r.Name), StringComparer.Ordinal);
        return [.. validations.Select(v => v is ThreadPoolManagerOptionsValidator ? v : new PrefixingOptionsValidator(v, registered))];
    }
}
