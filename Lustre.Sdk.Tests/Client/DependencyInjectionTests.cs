using Lustre.Client;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.DependencyInjection;

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

        var ex = Assert.Throws<ArgumentException>(() => provider.GetRequiredService<LustreClient>());

        Assert.Equal(nameof(LustreClientOptions.MaxBulkSize), ex.ParamName);
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
}
