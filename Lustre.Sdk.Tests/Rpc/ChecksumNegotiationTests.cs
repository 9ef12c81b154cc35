using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>Bulk checksums are a feature agreed at connect: both sides use them, or neither does.</summary>
[Collection(ClusterCollection.Name)]
public sealed class ChecksumNegotiationTests
{
    private readonly ClusterFixture _fixture;

    public ChecksumNegotiationTests(ClusterFixture fixture) => _fixture = fixture;

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_checksum_feature_is_agreed_as_the_client_asks(bool checksums)
    {
        var settings = new RpcConnectionSettings("neg-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, NullLogger.Instance, checksums);

        await using var connection = await RpcConnection.ConnectAsync(_fixture.Cluster.Endpoint, settings, CancellationToken.None);

        Assert.Equal(checksums, (connection.Features & ProtocolFeatures.BulkChecksumXxh3) != 0);
        Assert.True((connection.Features & ProtocolFeatures.ReplyReconstruction) != 0);
    }

    [Fact]
    public async Task Data_round_trips_with_checksums_off()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = new LustreClient(_fixture.Address, new LustreClientOptions { BulkChecksums = false });
        var data = new byte[(3 << 20) + 5];
        new Random(1).NextBytes(data);
        await using (var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, FileLayout.Raid0(1 << 20, -1)))
        {
            await file.WriteAtAsync(0, data);
        }

        // Read back with a checksumming client: the server stored exactly what was sent.
        await using var reader = await _fixture.Client.OpenFileAsync($"{dir}/f", FileMode.Open, access: FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }
}
