using Lustre.Client;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="LustreClient"/> with Microsoft.Extensions.DependencyInjection.</summary>
public static class LustreServiceCollectionExtensions
{
    /// <summary>
    /// Adds one shared <see cref="LustreClient"/> for <paramref name="address"/> (<c>host:port/fsname</c>). Its
    /// <see cref="LustreClientOptions"/> come from the options system, so they can be bound from configuration with the
    /// returned builder (<c>.Bind(configuration.GetSection("Lustre"))</c>) or set with <paramref name="configure"/>.
    /// The client logs through the container's <see cref="ILoggerFactory"/> unless the options name another.
    /// </summary>
    public static OptionsBuilder<LustreClientOptions> AddLustreClient(this IServiceCollection services, string address, Action<LustreClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        var builder = services.AddOptions<LustreClientOptions>();
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<LustreClientOptions>>().Value;
            options.LoggerFactory ??= provider.GetService<ILoggerFactory>();
            return new LustreClient(address, options);
        });
        return builder;
    }
}
