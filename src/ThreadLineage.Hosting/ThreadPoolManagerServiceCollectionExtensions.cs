using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ThreadLineage;
using ThreadLineage.Hosting.Internal;

// In the namespace of IServiceCollection, as Microsoft.Extensions.* and ASP.NET Core do, so that
// AddThreadPoolManager is found wherever services are configured, with no extra using directive.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers ThreadLineage <see cref="ThreadPoolManager"/>s with a host: named, keyed singletons on
/// <see cref="Lineage.Root"/>, started when the host starts and drained when it stops.
/// </summary>
public static class ThreadPoolManagerServiceCollectionExtensions
{
    /// <summary>
    /// Registers the manager <paramref name="name"/>, configured in code: a keyed singleton <see cref="ThreadPoolManager"/>
    /// (key and <see cref="ThreadPoolManager.Id"/>: <paramref name="name"/>) attached to <see cref="Lineage.Root"/>,
    /// started when the host starts and drained when it stops.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The manager's name: its id on <see cref="Lineage.Root"/>, its service key and the name of its options.</param>
    /// <param name="configure">Sets the manager's options; runs when the host starts.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/>, <paramref name="name"/> or <paramref name="configure"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space.</exception>
    /// <remarks>
    /// <para>
    /// The options are the named options <paramref name="name"/> of <see cref="ThreadPoolManagerOptions"/>: registering the
    /// same name again (with either overload) adds to its configuration, in order, and still registers one manager.
    /// <see cref="ThreadPoolManagerOptions.LoggerFactory"/> defaults to the host's <see cref="ILoggerFactory"/>.
    /// </para>
    /// <para>
    /// The host validates the options of every registered manager before any of them starts (<c>ValidateOnStart</c>): the
    /// rules of <see cref="ThreadPoolManagerOptions.Validate"/>, configuration that could not be bound, and
    /// <see cref="ThreadPoolManagerOptions.WorkersFrom"/> (the host must be registered here or already running on
    /// <see cref="Lineage.Root"/>, with no cycle of borrowers and a compatible task type). Invalid options fail the host's
    /// start with an <see cref="OptionsValidationException"/> per manager, each failure prefixed with
    /// <c>Thread pool manager '{name}': </c> (an <see cref="AggregateException"/> of them when several managers are invalid).
    /// Validators added for the named options (<c>services.AddOptions&lt;ThreadPoolManagerOptions&gt;(name).Validate(…)</c>)
    /// run then too, and their failures get the same prefix.
    /// </para>
    /// <para>
    /// A manager whose <see cref="ThreadPoolManagerOptions.WorkersFrom"/> names another registered manager starts after it,
    /// whatever the order of registration, and when the host stops it drains before it. When the host stops, each manager
    /// stops accepting work and drains its queue within the host's shutdown timeout (<c>HostOptions.ShutdownTimeout</c>);
    /// work still queued when it elapses is canceled.
    /// </para>
    /// <para>
    /// The manager is attached to <see cref="Lineage.Root"/> when this method is called, so every flow of the process
    /// resolves it by name (<see cref="Lineage.GetManager(string?)"/>). The host starts and stops it but never disposes
    /// it: a later host in the same process (a test, for instance) registering the same name gets the same manager and
    /// can start it again. Two hosts running at the same time cannot both register one name: the second one's start fails.
    /// </para>
    /// </remarks>
    /// <example>
    /// <code>
    /// builder.Services.AddThreadPoolManager("render", options =>
    /// {
    ///     options.MaxWorkers = 4;
    ///     options.TaskType = "component-render";
    /// });
    /// </code>
    /// </example>
    public static IServiceCollection AddThreadPoolManager(this IServiceCollection services, string name, Action<ThreadPoolManagerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        AddThreadPoolManagerCore(services, name).Configure(configure);
        return services;
    }

    /// <summary>
    /// Registers the manager <paramref name="name"/>, configured from a configuration section such as
    /// <c>ThreadPools:render</c>: a keyed singleton <see cref="ThreadPoolManager"/> (key and <see cref="ThreadPoolManager.Id"/>:
    /// <paramref name="name"/>) attached to <see cref="Lineage.Root"/>, started when the host starts and drained when it stops.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The manager's name: its id on <see cref="Lineage.Root"/>, its service key and the name of its options.</param>
    /// <param name="configuration">
    /// The section to bind to <see cref="ThreadPoolManagerOptions"/>, with keys named after its properties
    /// (<c>MaxWorkers</c>, <c>TaskType</c>, <c>IsBackground</c>, <c>WorkersFrom</c>, …). A key that matches no property, or a
    /// value of the wrong type, fails the host's start validation.
    /// </param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/>, <paramref name="name"/> or <paramref name="configuration"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space.</exception>
    /// <remarks>
    /// Behaves as <see cref="AddThreadPoolManager(IServiceCollection, string, Action{ThreadPoolManagerOptions})"/>, which
    /// describes start-up, validation and shutdown. The section is read when the host starts; later changes to it do not
    /// affect a running manager.
    /// </remarks>
    /// <example>
    /// <code>
    /// // appsettings.json: { "ThreadPools": { "render": { "MaxWorkers": 4, "TaskType": "component-render" } } }
    /// builder.Services.AddThreadPoolManager("render", builder.Configuration.GetSection("ThreadPools:render"));
    /// </code>
    /// </example>
    public static IServiceCollection AddThreadPoolManager(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        // As OptionsBuilder.Bind, except that a binding failure (an unknown key, a value of the wrong type) is reported by
        // validation with every other manager's problems, instead of aborting the host's validation at the first one.
        var options = AddThreadPoolManagerCore(services, name);
        options.Services.AddSingleton<IOptionsChangeTokenSource<ThreadPoolManagerOptions>>(
            new ConfigurationChangeTokenSource<ThreadPoolManagerOptions>(name, configuration));
        options.Configure(o => ConfigurationBindingFailures.Bind(o, configuration));
        return services;
    }

    private static OptionsBuilder<ThreadPoolManagerOptions> AddThreadPoolManagerCore(IServiceCollection services, string name)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);

        var options = services.AddOptions<ThreadPoolManagerOptions>(name);
        if (IsRegistered(services, name))
        {
            return options;
        }

        // Registered as an instance, not from a factory, so that the container does not dispose it with the host:
        // the manager belongs to Lineage.Root, and a later host in the same process must be able to start it again.
        var manager = Lineage.Root.GetOrCreateManager(name);
        services.AddKeyedSingleton(name, manager);
        services.AddSingleton(new ThreadPoolManagerRegistration(name, manager));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ThreadPoolManagersHostedService>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ThreadPoolManagerOptions>, ThreadPoolManagerOptionsValidator>());
        // A closed registration wins over AddOptions' open generic OptionsFactory<>, whatever the order.
        services.TryAddTransient<IOptionsFactory<ThreadPoolManagerOptions>, ThreadPoolManagerOptionsFactory>();

        // Validated by the host before any hosted service starts, so every manager's problems are reported before any starts.
        options.ValidateOnStart();

        // After every Configure and Bind: the host's logger factory, unless the application chose one.
        options.PostConfigure<IServiceProvider>(static (o, provider) => o.LoggerFactory ??= provider.GetService<ILoggerFactory>());
        return options;
    }

    private static bool IsRegistered(IServiceCollection services, string name)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(ThreadPoolManagerRegistration)
                && !descriptor.IsKeyedService
                && descriptor.ImplementationInstance is ThreadPoolManagerRegistration registration
                && string.Equals(registration.Name, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }
}
