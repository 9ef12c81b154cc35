using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// Bulk checksums are agreed at connect, with the choice per request (ChecksumPerRequest): the client's option, or the
/// OST's <c>osc.*.checksums</c>, decides what each request gets, and the server follows the request's flag.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ChecksumNegotiationTests
{
    private readonly ClusterFixture _fixture;

    public ChecksumNegotiationTests(ClusterFixture fixture) => _fixture = fixture;

    private static RpcConnectionSettings Settings(bool? checksums) =>
        new("neg-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, NullLogger.Instance, checksums);

    private async Task<OstObject> WriteObjectAsync(int size)
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var file = await _fixture.Client.OpenFileAsync(dir + "/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1));
        await file.WriteAtAsync(0, new byte[size]);
        return file.Layout.Components[0].Objects[0];
    }

    private static FrameBuffer Request(Opcode opcode, OstObject obj, int length)
    {
        var frame = FrameBuffer.Rent();
        if (opcode == Opcode.OstRead)
        {
            new OstReadRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 0, length).Write(frame.Body);
        }
        else
        {
            new OstWriteRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 0).Write(frame.Body);
        }

        return frame;
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    [InlineData(null, false)] // the default: a server on loopback gets no checksums
    public async Task Every_connection_agrees_to_choose_per_request_and_a_request_that_does_not_choose_gets_the_clients_option(bool? asked, bool checksummed)
    {
        var obj = await WriteObjectAsync(256 << 10);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint);
        var settings = Settings(asked);
        await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, settings, CancellationToken.None);
        Assert.Equal(ProtocolFeatures.All & ~ProtocolFeatures.LocalSocket, connection.Features); // the proxy keeps its client on TCP

        using (var frame = Request(Opcode.OstRead, obj, 256 << 10))
        {
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, new byte[256 << 10], settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal(0, reply.Status);
        }

        Assert.Equal(checksummed, proxy.Replies.Single(h => h.Opcode == Opcode.OstRead).BulkChecksum != 0);
    }

    [Fact]
    public async Task A_request_that_turns_checksums_off_is_neither_checksummed_nor_verified_and_one_that_turns_them_on_is()
    {
        var obj = await WriteObjectAsync(128 << 10);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint);
        var settings = Settings(null);
        await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, settings, CancellationToken.None);
        var data = new byte[128 << 10]; // the proxy corrupts bulks over 64 KiB
        Random.Shared.NextBytes(data);

        // On: a write corrupted on the way is refused (EBADMSG), and its read comes with a checksum.
        proxy.RequestsToCorrupt = 1;
        using (var frame = Request(Opcode.OstWrite, obj, 0))
        {
            frame.BulkChecksum = true;
            using var reply = await connection.CallAsync(Opcode.OstWrite, frame, data, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal((int)LustreErrno.EBADMSG, reply.Status);
        }

        using (var frame = Request(Opcode.OstRead, obj, data.Length))
        {
            frame.BulkChecksum = true;
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, new byte[data.Length], settings.Xids.Next(), false, CancellationToken.None);
        }

        Assert.NotEqual(0UL, proxy.Replies.Last(h => h.Opcode == Opcode.OstRead).BulkChecksum);

        // Off: the same corruption goes through unseen, which is what turning checksums off trades away.
        proxy.RequestsToCorrupt = 1;
        using (var frame = Request(Opcode.OstWrite, obj, 0))
        {
            frame.BulkChecksum = false;
            using var reply = await connection.CallAsync(Opcode.OstWrite, frame, data, default, settings.Xids.Next(), false, CancellationToken.None);
            Assert.Equal(0, reply.Status);
        }

        Assert.Equal(2, proxy.CorruptedRequests);
    }

    [Fact]
    public async Task Set_param_osc_checksums_decides_the_checksums_of_that_OSTs_requests_from_then_on()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = new LustreClient(_fixture.Address);
        var chosen = new System.Collections.Concurrent.ConcurrentQueue<(int Ost, bool? Checksum)>();
        client.Session.Targets.OstConnectionOverride = (index, real) => new ChoiceSpy(real, index, chosen);
        await using var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 2));

        // The default on loopback: off, and no choice made per request (the connection's default applies).
        Assert.All(await client.GetParametersAsync("osc.*.checksums"), p => Assert.Equal("0", p.Value));
        await file.WriteAtAsync(0, new byte[2 << 20]);
        Assert.All(chosen, c => Assert.Null(c.Checksum));

        // One of the file's two OSTs, wherever the allocator put them.
        var ost = file.Layout.Components[0].Objects[0].OstIndex;
        var pattern = $"osc.*OST{ost:X4}*.checksums";
        await client.SetParametersAsync(pattern, "1");
        chosen.Clear();
        await file.WriteAtAsync(0, new byte[2 << 20]);

        Assert.Equal("1", (await client.GetParametersAsync(pattern))[0].Value);
        Assert.Contains(chosen, c => c.Ost == ost && c.Checksum == true);
        Assert.Contains(chosen, c => c.Ost != ost);
        Assert.All(chosen.Where(c => c.Ost != ost), c => Assert.Null(c.Checksum));
        Assert.Contains("takes 0 or 1", (await Assert.ThrowsAsync<ArgumentException>(() => client.SetParametersAsync("osc.*.checksums", "maybe"))).Message, StringComparison.Ordinal);
    }

    private sealed class ChoiceSpy(IRpcConnection real, int ost, System.Collections.Concurrent.ConcurrentQueue<(int, bool?)> chosen) : IRpcConnection
    {
        public bool IsHealthy => real.IsHealthy;

        public int MaxBulkLength => real.MaxBulkLength;

        public ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
        {
            if (opcode == Opcode.OstWrite)
            {
                chosen.Enqueue((ost, frame.BulkChecksum));
            }

            return real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
        }

        public ValueTask DisposeAsync() => real.DisposeAsync();
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
