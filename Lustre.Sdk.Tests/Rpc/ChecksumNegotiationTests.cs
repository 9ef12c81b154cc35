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
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(null, false)] // the default: a server on loopback gets no checksums
    public async Task The_checksum_feature_is_agreed_as_the_client_asks(bool? asked, bool agreed)
    {
        var settings = new RpcConnectionSettings("neg-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, NullLogger.Instance, asked);

        await using var connection = await RpcConnection.ConnectAsync(_fixture.Cluster.Endpoint, settings, CancellationToken.None);

        Assert.Equal(agreed, (connection.Features & ProtocolFeatures.BulkChecksumXxh3) != 0);
        Assert.True((connection.Features & ProtocolFeatures.ReplyReconstruction) != 0);
    }

    [Fact]
    public async Task Data_round_trips_with_checksums_off()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = new LustreClient(_fixture.Address, new LustreClientOptions { BulkChecksums = false });
        var data = new byte[(3 << 20) + 5];
        new Random(1).NextBytes(data);
        await using (var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, -1)))
        {
            await file.WriteAtAsync(0, data);
        }

        // Read back with a checksumming client: the server stored exactly what was sent.
        await using var checksumming = new LustreClient(_fixture.Address, new LustreClientOptions { BulkChecksums = true });
        await using var reader = await checksumming.OpenFileAsync($"{dir}/f", FileMode.Open, access: FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Reads_without_checksums_are_sent_from_mapped_object_regions_exact_at_object_ends_and_holes()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = new LustreClient(_fixture.Address, new LustreClientOptions { BulkChecksums = false });
        const int Stripe = 1 << 20;
        var model = new byte[(9 * Stripe) + 4321];
        var random = new Random(7);
        await using (var file = await client.OpenFileAsync($"{dir}/sparse", FileMode.CreateNew, layout: FileLayout.Raid0(Stripe, -1)))
        {
            // Data, a hole of several stripes (some objects end early, others hold only the tail), then a tail.
            var head = model.AsMemory(0, (2 * Stripe) + 100);
            random.NextBytes(head.Span);
            await file.WriteAtAsync(0, head);
            var tail = model.AsMemory(7 * Stripe, model.Length - (7 * Stripe));
            random.NextBytes(tail.Span);
            await file.WriteAtAsync(7 * Stripe, tail);
        }

        await using var reader = await client.OpenFileAsync($"{dir}/sparse", FileMode.Open, access: FileAccess.Read);
        var whole = new byte[model.Length + Stripe];
        Assert.Equal(model.Length, await reader.ReadAtAsync(0, whole));
        Assert.True(whole.AsSpan(0, model.Length).SequenceEqual(model), "whole-file read differs from what was written");

        // Ranges starting at unaligned offsets inside pieces, crossing the hole and running past the end of the file.
        foreach (var (offset, length) in new (long, int)[] { (100_001, 3 * Stripe), ((2 * Stripe) - 5, 200_000), ((7 * Stripe) - 70_000, 2 * Stripe), (model.Length - 70_003, 300_000) })
        {
            var piece = new byte[length];
            var expected = (int)Math.Min(length, model.Length - offset);
            Assert.Equal(expected, await reader.ReadAtAsync(offset, piece));
            Assert.True(piece.AsSpan(0, expected).SequenceEqual(model.AsSpan((int)offset, expected)), $"read at {offset} of {length} differs");
        }
    }
}
