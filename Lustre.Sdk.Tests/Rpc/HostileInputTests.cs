using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Rpc;

/// <summary>
/// A peer that breaks the protocol costs only its own connection: the server closes it (or answers with an error)
/// and goes on serving everyone else, and nothing it half-sent reaches storage.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class HostileInputTests
{
    private readonly ClusterFixture _fixture;

    public HostileInputTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task A_frame_with_a_wrong_magic_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        var header = RawPeer.Header(Opcode.Connect, 1, 0);
        RawPeer.Patch32(header, 0, 0x50545448); // "HTTP"

        await peer.SendAsync(header);

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task Text_instead_of_frames_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        await peer.SendAsync("GET / HTTP/1.1\r\nHost: lustre\r\nUser-Agent: test\r\n\r\n"u8.ToArray());

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_frame_with_an_unsupported_version_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        var header = RawPeer.Header(Opcode.Connect, 1, 0);
        RawPeer.Patch16(header, 4, FrameHeader.CurrentVersion + 1);

        await peer.SendAsync(header);

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_frame_with_a_reserved_field_set_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        var header = RawPeer.Header(Opcode.Connect, 1, 0);
        RawPeer.Patch16(header, 10, 1);

        await peer.SendAsync(header);

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Theory]
    [InlineData(ProtocolLimits.MaxBodyLength + 1)]
    [InlineData(int.MaxValue)]
    [InlineData(-1)]
    public async Task A_body_length_outside_the_limit_closes_the_connection_before_any_body_is_read(int bodyLength)
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();
        var header = RawPeer.Header(Opcode.MdsGetAttr, peer.NextXid(), 0);
        RawPeer.Patch32(header, 24, unchecked((uint)bodyLength));

        // Nothing follows the header: a server that believed the length would wait for the body, not close.
        await peer.SendAsync(header);

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_bulk_length_over_the_limit_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        await peer.SendAsync(RawPeer.Header(Opcode.OstWrite, peer.NextXid(), 0, ProtocolLimits.MaxBulkLength + 1));

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_frame_whose_body_is_cut_short_by_the_close_is_dropped()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();
        var frame = RawPeer.Frame(Opcode.MdsMkdir, peer.NextXid(), w => new MkdirRequest(dir + "/half", 0x1ED).Write(w));

        // The header promises the whole mkdir body; all but its last 4 bytes arrive, then the peer is gone.
        await peer.SendAsync(frame.AsMemory(0, frame.Length - 4));
        peer.EndSending();

        await peer.AssertClosedByServerAsync();
        Assert.False(await _fixture.Client.ExistsAsync(dir + "/half"));
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_truncated_header_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        await peer.SendAsync(RawPeer.Header(Opcode.Connect, 1, 0).AsMemory(0, 20));
        peer.EndSending();

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_reply_frame_sent_to_the_server_closes_the_connection()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        await peer.SendAsync(RawPeer.Header(Opcode.MdsGetAttr, peer.NextXid(), 0, flags: FrameFlags.Reply));

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task An_unknown_opcode_gets_ENOSYS_and_the_connection_stays_usable()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        var (unknown, body, _) = await peer.CallAsync((Opcode)999);
        var (ping, _, _) = await peer.CallAsync(Opcode.Ping);
        var (config, configBody, _) = await peer.CallAsync(Opcode.MgsGetConfig);

        Assert.Equal((int)LustreErrno.ENOSYS, unknown.Status);
        Assert.Contains("999", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        Assert.True(ping.IsReply);
        Assert.Equal(0, config.Status);
        var reader = new BodyReader(configBody);
        Assert.Equal(_fixture.Client.FsName, FilesystemConfig.Read(ref reader).FsName);
    }

    [Fact]
    public async Task A_malformed_body_gets_EPROTO_and_the_connection_stays_usable()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        // A path field that claims 60000 bytes in a 3-byte body.
        var (bad, body, _) = await peer.CallAsync(Opcode.MdsGetAttr, w => { w.WriteUInt16(60000); w.WriteByte((byte)'/'); });
        var (good, _, _) = await peer.CallAsync(Opcode.MdsGetAttr, w => new PathRequest("/").Write(w));

        Assert.Equal((int)LustreErrno.EPROTO, bad.Status);
        Assert.Contains("path", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        Assert.Equal(0, good.Status);
    }

    [Fact]
    public async Task A_trace_context_flag_on_a_body_too_short_for_one_gets_EPROTO_and_the_connection_stays_usable()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        // The flag promises 25 trailing bytes; the body has 3.
        var xid = peer.NextXid();
        byte[] frame = [.. RawPeer.Header(Opcode.Ping, xid, 3, flags: FrameFlags.TraceContext), 1, 2, 3];
        await peer.SendAsync(frame);
        var (bad, body, _) = await peer.ReceiveAsync();
        var (good, _, _) = await peer.CallAsync(Opcode.Ping);

        Assert.Equal(xid, bad.Xid);
        Assert.Equal((int)LustreErrno.EPROTO, bad.Status);
        Assert.Contains("trace context", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        Assert.Equal(0, good.Status);
    }

    [Fact]
    public async Task A_request_before_connect_gets_EPROTO_and_the_connection_is_closed()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        var (reply, body, _) = await peer.CallAsync(Opcode.MdsMkdir, w => new MkdirRequest(dir + "/sneaky", 0x1ED).Write(w));

        Assert.Equal((int)LustreErrno.EPROTO, reply.Status);
        Assert.Contains("before connect", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        await peer.AssertClosedByServerAsync();
        Assert.False(await _fixture.Client.ExistsAsync(dir + "/sneaky"));
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_connect_with_another_protocol_version_gets_EPROTO_and_the_connection_is_closed()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        var (reply, body, _) = await peer.CallAsync(Opcode.Connect, w => new ConnectRequest(7, ProtocolFeatures.All, "future-client").Write(w));

        Assert.Equal((int)LustreErrno.EPROTO, reply.Status);
        Assert.Contains("version 7", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_connection_closed_mid_bulk_of_an_OstWrite_changes_and_creates_no_object()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var original = new byte[200_000];
        new Random(12).NextBytes(original);
        OstObject existing;
        await using (var file = await _fixture.Client.OpenFileAsync(dir + "/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1)))
        {
            await file.WriteAtAsync(0, original);
            existing = file.Layout.Components[0].Objects[0];
        }

        var fresh = existing with { ObjectId = existing.ObjectId + 1_000_000 };
        Assert.False(File.Exists(_fixture.ObjectPath(fresh)));

        foreach (var target in new[] { existing, fresh })
        {
            await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
            await peer.ConnectAsync();
            using var frame = FrameBuffer.Rent();
            new OstWriteRequest(new ObjectRef(target.OstIndex, target.ObjectId), 0).Write(frame.Body);
            var bulk = new byte[1 << 20];
            bulk.AsSpan().Fill(0xAB);
            frame.SetHeader(new FrameHeader(Opcode.OstWrite, FrameFlags.None, 0, peer.NextXid(), frame.BodyLength, bulk.Length, BulkChecksum.Compute(bulk)));

            // The header announces 1 MiB of bulk; 1000 bytes of it arrive before the peer goes away.
            await peer.SendAsync(frame.Written);
            await peer.SendAsync(bulk.AsMemory(0, 1000));
            peer.EndSending();

            await peer.AssertClosedByServerAsync();
        }

        Assert.Equal(original, await File.ReadAllBytesAsync(_fixture.ObjectPath(existing)));
        Assert.False(File.Exists(_fixture.ObjectPath(fresh)), "the cut-off write created an object");
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task A_request_before_connect_announcing_a_large_bulk_is_refused_without_waiting_for_it()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        // Only the header is sent: a server that waits for the 16 MiB before judging the request holds a pooled
        // 16 MiB buffer per unauthenticated connection for as long as the peer likes.
        await peer.SendAsync(RawPeer.Header(Opcode.OstWrite, 1, 0, ProtocolLimits.MaxBulkLength));

        await peer.AssertClosedByServerAsync();
        await _fixture.AssertStillServesAsync();
    }

    [Fact]
    public async Task Many_hostile_connections_at_once_do_not_disturb_a_client_at_work()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = new byte[3 << 20];
        new Random(13).NextBytes(data);

        async Task HostileAsync(int i)
        {
            await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
            var header = RawPeer.Header(Opcode.Connect, (ulong)i, 0);
            RawPeer.Patch32(header, 0, (uint)i);
            await peer.SendAsync(header);
            await peer.AssertClosedByServerAsync();
        }

        async Task WorkAsync()
        {
            await using (var file = await _fixture.Client.OpenFileAsync(dir + "/busy", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, -1)))
            {
                await file.WriteAtAsync(0, data);
            }

            await using var reopened = await _fixture.Client.OpenFileAsync(dir + "/busy");
            var back = new byte[data.Length];
            Assert.Equal(data.Length, await reopened.ReadAtAsync(0, back));
            Assert.Equal(data, back);
        }

        await Task.WhenAll(Enumerable.Range(1, 50).Select(HostileAsync).Append(WorkAsync()));
    }
}
