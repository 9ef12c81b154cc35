using Lustre.Client;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Lustre.Tests.Client;

[Collection(ClusterCollection.Name)]
public sealed class DependencyInjectionTests
{
    private readonly ClusterFixture _fixture;

    public DependencyInjectionTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task AddLustreClient_registers_one_shared_client_with_the_configured_options()
    {
        var services = new ServiceCollection();
        services.AddLustreClient(_fixture.Address, o => o.MaxRpcsInFlightPerOst = 3)
            .Configure(o => o.ConnectionsPerServer = 1);
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<LustreClient>();

        Assert.Same(client, provider.GetRequiredService<LustreClient>());
        Assert.Equal(3, client.Options.MaxRpcsInFlightPerOst);
        Assert.Equal(1, client.Options.ConnectionsPerServer);
        Assert.True((await client.GetInfoAsync("/")).IsDirectory);
    }

    [Fact]
    public void Invalid_options_are_rejected_naming_the_option()
    {
        var services = new ServiceCollection();
        services.AddLustreClient(_fixture.Address, o => o.MaxBulkSize = 100_000);
        using var provider = services.BuildServiceProvider();

        // Without a host nothing validates at start, so the first resolve does, through the options system.
        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<LustreClient>());

        Assert.Contains("MaxBulkSize must be a multiple of 64 KiB; 100000 is not.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_address_is_rejected_when_the_client_is_added()
    {
        var ex = Assert.Throws<ArgumentException>(() => new ServiceCollection().AddLustreClient("nohost/fs"));
        Assert.Equal("address", ex.ParamName);
    }

    [Fact]
    public async Task The_address_and_options_bind_from_configuration()
    {
        var secret = new byte[32];
        Random.Shared.NextBytes(secret);
        var configuration = Configuration(new()
        {
            ["Lustre:Address"] = _fixture.Address,
            ["Lustre:MaxRpcsInFlightPerOst"] = "3",
            ["Lustre:RequestTimeout"] = "00:00:45",
            ["Lustre:BulkChecksums"] = "true",
            ["Lustre:Transport"] = "Plain",
            ["Storage:Address"] = "10.0.0.1:9880/other",
            ["Storage:SharedSecret"] = Convert.ToBase64String(secret),
            ["Storage:KeyName"] = "trainer",
        });
        var services = new ServiceCollection();
        services.AddLustreClient(configuration.GetSection("Lustre"));
        services.AddLustreClient("storage", configuration.GetSection("Storage"));
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<LustreClient>();
        Assert.Equal(3, client.Options.MaxRpcsInFlightPerOst);
        Assert.Equal(TimeSpan.FromSeconds(45), client.Options.RequestTimeout);
        Assert.True(client.Options.BulkChecksums);
        Assert.Equal(TransportSecurity.Plain, client.Options.Transport);
        Assert.Null(client.Options.SharedSecret);
        Assert.True((await client.GetInfoAsync("/")).IsDirectory);

        // The keyed client has options of its own, named like its key; none of the default client's.
        var storage = provider.GetRequiredKeyedService<LustreClient>("storage");
        Assert.NotSame(client, storage);
        Assert.Same(storage, provider.GetRequiredKeyedService<LustreClient>("storage"));
        Assert.Equal("other", storage.FsName);
        Assert.Equal(secret, storage.Options.SharedSecret);
        Assert.Equal("trainer", storage.Options.KeyName);
        Assert.Equal(new LustreClientOptions().MaxRpcsInFlightPerOst, storage.Options.MaxRpcsInFlightPerOst);
    }

    [Fact]
    public async Task Keyed_clients_are_injected_by_key()
    {
        var configuration = Configuration(new()
        {
            ["Lustre:Scratch:Address"] = _fixture.Address,
            ["Lustre:Scratch:ConnectionsPerServer"] = "1",
            ["Lustre:Archive:Address"] = _fixture.Address,
        });
        var services = new ServiceCollection();
        services.AddLustreClient("scratch", configuration.GetSection("Lustre:Scratch"));
        services.AddLustreClient("archive", configuration.GetSection("Lustre:Archive"));
        services.AddSingleton<TwoFilesystems>();
        await using var provider = services.BuildServiceProvider();

        var both = provider.GetRequiredService<TwoFilesystems>();

        Assert.NotSame(both.Scratch, both.Archive);
        Assert.Equal(1, both.Scratch.Options.ConnectionsPerServer);
        Assert.Equal(2, both.Archive.Options.ConnectionsPerServer);
        Assert.True((await both.Archive.GetInfoAsync("/")).IsDirectory);
        Assert.Null(provider.GetService<LustreClient>());
    }

    [Fact]
    public async Task A_host_with_a_bad_option_or_no_address_fails_at_start_naming_them()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Lustre:MaxBulkSize"] = "100000",
            ["Lustre:ConnectionsPerServer"] = "0",
        });
        builder.Services.AddLustreClient(builder.Configuration.GetSection("Lustre"));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.Contains("Lustre client: Lustre:Address is not set; give the MGS address and filesystem name as host:port/fsname.", ex.Failures);
        Assert.Contains(ex.Failures, f => f.Contains("MaxBulkSize", StringComparison.Ordinal));
        Assert.DoesNotContain(ex.Failures, f => f.Contains("ConnectionsPerServer", StringComparison.Ordinal)); // Validate stops at the first bad option.
    }

    [Fact]
    public async Task A_host_fails_at_start_naming_a_keyed_client_with_a_malformed_address()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Archive:Address"] = "archive:9880" });
        builder.Services.AddLustreClient("archive", builder.Configuration.GetSection("Archive"));
        using var host = builder.Build();

        var ex = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        var failure = Assert.Single(ex.Failures);
        Assert.StartsWith("Lustre client 'archive': Archive:Address: Address 'archive:9880' must look like", failure, StringComparison.Ordinal);
        Assert.Equal("archive", ex.OptionsName);
    }

    [Fact]
    public async Task A_host_with_a_good_configuration_starts_and_serves_the_client()
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Lustre:Address"] = _fixture.Address });
        builder.Services.AddLustreClient(builder.Configuration.GetSection("Lustre"));
        using var host = builder.Build();

        await host.StartAsync();
        try
        {
            Assert.True((await host.Services.GetRequiredService<LustreClient>().GetInfoAsync("/")).IsDirectory);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("127.0.0.1:9880")]
    [InlineData("nohost/fs")]
    [InlineData("127.0.0.1:99999/fs")]
    public void A_malformed_address_is_rejected_with_the_address_in_the_message(string address)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new LustreClient(address));
        Assert.Equal("address", ex.ParamName);
    }

    private static IConfigurationRoot Configuration(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    private sealed class TwoFilesystems([FromKeyedServices("scratch")] LustreClient scratch, [FromKeyedServices("archive")] LustreClient archive)
    {
        public LustreClient Scratch { get; } = scratch;

        public LustreClient Archive { get; } = archive;
    }
}
