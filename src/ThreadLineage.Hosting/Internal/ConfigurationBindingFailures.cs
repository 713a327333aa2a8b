using System.Runtime.CompilerServices;
using Microsoft.Extensions.Configuration;

namespace ThreadLineage.Hosting.Internal;

/// <summary>
/// Binds a configuration section to <see cref="ThreadPoolManagerOptions"/> (unknown keys are errors) and remembers, per
/// options instance, why binding failed, so that <see cref="ThreadPoolManagerOptionsValidator"/> reports it with every
/// other problem instead of the first bad key aborting the host's validation of all managers.
/// </summary>
internal static class ConfigurationBindingFailures
{
    // Weak keys: an entry lives exactly as long as the options instance it describes.
    private static readonly ConditionalWeakTable<ThreadPoolManagerOptions, List<string>> s_failures = [];

    /// <summary>Binds <paramref name="configuration"/> to <paramref name="options"/>, recording a failure instead of throwing it.</summary>
    public static void Bind(ThreadPoolManagerOptions options, IConfiguration configuration)
    {
        try
        {
            // An unknown key is almost always a typo ("MaxWorker"); failing the start beats a silently ignored setting.
            configuration.Bind(options, static binder => binder.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException exception)
        {
            // An options instance is configured on one thread (the options factory's), so the list needs no lock.
            var where = configuration is IConfigurationSection section ? $"the configuration section '{section.Path}'" : "the configuration";
            s_failures.GetOrCreateValue(options).Add($"{where} could not be bound: {exception.Message}");
        }
    }

    /// <summary>Returns the binding failures recorded for <paramref name="options"/>; empty when binding succeeded.</summary>
    public static IReadOnlyList<string> Get(ThreadPoolManagerOptions options) =>
        s_failures.TryGetValue(options, out var failures) ? failures : [];
}
