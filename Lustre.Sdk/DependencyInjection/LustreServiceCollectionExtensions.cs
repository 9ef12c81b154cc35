using Lustre.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers <see cref="LustreClient"/>s with Microsoft.Extensions.DependencyInjection: one shared client per address,
/// its <see cref="LustreClientOptions"/> from the options system (so from configuration), validated when the host starts.
/// </summary>
public static class LustreServiceCollectionExtensions
{
    /// <summary>The configuration key of a client's address (<c>host:port/fsname</c>) in its section.</summary>
    private const string AddressKey = "Address";

    /// <summary>
    /// Adds one shared <see cref="LustreClient"/> for <paramref name="address"/> (<c>host:port/fsname</c>). Its
    /// <see cref="LustreClientOptions"/> come from the options system, so they can also be bound from configuration with
    /// the returned builder or set with <paramref name="configure"/>. They are validated when the host starts
    /// (<c>ValidateOnStart</c>), so an option out of range stops the start with a message naming it.
    /// The client logs through the container's <see cref="ILoggerFactory"/> unless the options name another.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="address">MGS address(es) and filesystem name: <c>host:port[,host:port]/fsname</c>.</param>
    /// <param name="configure">Sets options; null to keep the defaults.</param>
    /// <returns>The builder of the client's options, to configure or validate them further.</returns>
    /// <exception cref="ArgumentException">The address is malformed.</exception>
    public static OptionsBuilder<LustreClientOptions> AddLustreClient(this IServiceCollection services, string address, Action<LustreClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        LustreAddress.Parse(address);
        var builder = Register(services, Microsoft.Extensions.Options.Options.DefaultName, () => address, "the address");
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        return builder;
    }

    /// <summary>
    /// Adds one shared <see cref="LustreClient"/> whose address and options come from <paramref name="configuration"/>
    /// (a section such as <c>configuration.GetSection("Lustre")</c>): the key <c>Address</c> holds
    /// <c>host:port/fsname</c> and the other keys are <see cref="LustreClientOptions"/> properties
    /// (<c>MaxRpcsInFlightPerOst</c>, <c>RequestTimeout</c>, <c>SharedSecret</c> in base64, ...). A missing or malformed
    /// address or an option out of range stops the host's start with a message naming the key.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The client's configuration section.</param>
    /// <returns>The builder of the client's options, to configure or validate them further.</returns>
    public static OptionsBuilder<LustreClientOptions> AddLustreClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, Microsoft.Extensions.Options.Options.DefaultName, configuration);
    }

    /// <summary>
    /// Adds a <see cref="LustreClient"/> keyed by <paramref name="name"/>, for an application that talks to more than one
    /// filesystem: resolve it with <c>[FromKeyedServices("name")]</c> or <c>GetRequiredKeyedService&lt;LustreClient&gt;("name")</c>.
    /// Its address and options come from <paramref name="configuration"/> as in
    /// <see cref="AddLustreClient(IServiceCollection, IConfiguration)"/>, and are the named options <paramref name="name"/>.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The client's service key and options name.</param>
    /// <param name="configuration">The client's configuration section.</param>
    /// <returns>The builder of the client's options, to configure or validate them further.</returns>
    public static OptionsBuilder<LustreClientOptions> AddLustreClient(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configuration);
        return Register(services, name, configuration);
    }

    private static OptionsBuilder<LustreClientOptions> Register(IServiceCollection services, string name, IConfiguration configuration)
    {
        var addressKey = configuration is IConfigurationSection section ? section.Path + ":" + AddressKey : AddressKey;
        return Register(services, name, () => configuration[AddressKey], addressKey).Bind(configuration);
    }

    private static OptionsBuilder<LustreClientOptions> Register(IServiceCollection services, string name, Func<string?> address, string addressSource)
    {
        services.AddSingleton<IValidateOptions<LustreClientOptions>>(new LustreClientOptionsValidator(name, address, addressSource));
        if (name == Microsoft.Extensions.Options.Options.DefaultName)
        {
            services.TryAddSingleton(provider => Create(provider, name, address));
        }
        else
        {
            services.TryAddKeyedSingleton(name, (provider, _) => Create(provider, name, address));
        }

        return services.AddOptions<LustreClientOptions>(name).ValidateOnStart();
    }

    private static LustreClient Create(IServiceProvider provider, string name, Func<string?> address)
    {
        // Get validates (LustreClientOptionsValidator), so a client made before the host starts fails the same way.
        var options = provider.GetRequiredService<IOptionsMonitor<LustreClientOptions>>().Get(name);
        options.LoggerFactory ??= provider.GetService<ILoggerFactory>();
        return new LustreClient(address()!, options);
    }
}
