using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Server.Rpc;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// The RPC engine: many calls multiplexed on one connection with replies in any order, the shared-secret
/// handshake, and bulk checksums that catch corruption on the wire in both directions, with retries.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class RpcEngineTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    /// <summary>An opcode no product service uses, so the session hands it to the test service untouched.</summary>
    private const Opcode EchoOpcode = (Opcode)900;
    private readonly ClusterFixture _fixture;

    public RpcEngineTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Replies_in_reverse_order_each_reach_their_own_caller_with_their_own_bulk()
    {
        const int calls = 48; // below the server's 64 requests in flight per connection, so all are admitted at once
        var service = new ReverseOrderService(calls);
        await using var server = new RpcServer(new RpcServerOptions { Name = "reverse" }, [service], NullLogger.Instance);
        server.Start();
        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);
        var answered = new ConcurrentQueue<int>();

        async Task CallAsync(int index)
        {
            var token = $"call-{index}-{Guid.NewGuid():N}";
            var payload = RandomNumberGenerator.GetBytes(ReverseOrderService.BulkSize(index));
            var bulkIn = new byte[payload.Length];
            using var frame = FrameBuffer.Rent();
            frame.Body.WriteInt32(index);
            frame.Body.WriteString(token);

            using var reply = await connection.CallAsync(EchoOpcode, frame, payload, bulkIn, settings.Xids.Next(), resend: false, CancellationToken.None);

            answered.Enqueue(index);
            service.Release(index - 1);
            Assert.Equal(0, reply.Status);
            var reader = reply.Reader;
            Assert.Equal(index, reader.ReadInt32("index"));
            Assert.Equal(token, reader.ReadString("token", 100));
            Assert.Equal(payload.Length, reply.BulkLength);
            Assert.Equal(payload, bulkIn);
        }

        await Task.WhenAll(Enumerable.Range(0, calls).Select(CallAsync)).WaitAsync(Timeout);

        Assert.Equal(Enumerable.Range(0, calls).Reverse(), answered);
        Assert.Equal(0, connection.PendingCount);
        Assert.True(connection.IsHealthy);
    }

    [Fact]
    public async Task A_cluster_with_a_shared_secret_refuses_a_client_without_one()
    {
        await using var cluster = await StartSecretClusterAsync(RandomNumberGenerator.GetBytes(32));
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { ConnectTimeout = TimeSpan.FromSeconds(5) });

        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.GetInfoAsync("/"));

        Assert.Contains("SharedSecret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_cluster_with_a_shared_secret_refuses_a_client_with_a_wrong_one()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var cluster = await StartSecretClusterAsync(secret);
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = RandomNumberGenerator.GetBytes(32) });

        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => client.CreateDirectoryAsync("/intruder"));

        Assert.Contains(nameof(LustreErrno.EACCES), ex.Message, StringComparison.Ordinal);
        await using var rightful = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret });
        Assert.False(await rightful.ExistsAsync("/intruder"));
    }

    [Fact]
    public async Task A_cluster_with_a_shared_secret_serves_a_client_with_the_right_one()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var cluster = await StartSecretClusterAsync(secret);
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret });
        var data = RandomNumberGenerator.GetBytes(300_000);

        await using (var file = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(64 * 1024, -1)))
        {
            await file.WriteAtAsync(0, data);
        }

        await using var reopened = await client.OpenFileAsync("/f");
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reopened.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_request_after_connect_but_before_auth_gets_EACCES_and_the_connection_is_closed()
    {
        await using var cluster = await StartSecretClusterAsync(RandomNumberGenerator.GetBytes(32));
        await using var peer = await RawPeer.ConnectAsync(cluster.Endpoint);

        var connect = await peer.ConnectAsync();
        var (reply, body, _) = await peer.CallAsync(Opcode.Ping);

        Assert.True(connect.AuthRequired);
        Assert.Equal(ConnectReply.NonceLength, connect.Nonce.Length);
        Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        Assert.Contains("authenticate first", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
        await peer.AssertClosedByServerAsync();
    }

    [Fact]
    public async Task A_proof_for_another_nonce_gets_EACCES_and_the_connection_is_closed()
    {
        var secret = RandomNumberGenerator.GetBytes(32);
        await using var cluster = await StartSecretClusterAsync(secret);
        await using var peer = await RawPeer.ConnectAsync(cluster.Endpoint);

        // A proof replayed from another connection: right secret, right uuid, stale nonce.
        await peer.ConnectAsync("replayer");
        var stale = AuthProof.Compute(secret, RandomNumberGenerator.GetBytes(ConnectReply.NonceLength), "replayer");
        var (reply, _, _) = await peer.CallAsync(Opcode.Auth, w => new AuthRequest(stale, []).Write(w));

        Assert.Equal((int)LustreErrno.EACCES, reply.Status);
        await peer.AssertClosedByServerAsync();
    }

    [Fact]
    public async Task A_corrupted_read_bulk_is_detected_and_retried_so_the_caller_gets_the_right_bytes()
    {
        var (obj, data) = await WriteObjectAsync(1 << 20);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { RepliesToCorrupt = 1 };
        await using var rpc = new ServerCaller(proxy.Endpoint, Settings(), maxAttempts: 4);
        var back = new byte[data.Length];

        using var reply = await ReadObjectAsync(rpc, obj, back);

        Assert.Equal(0, reply.Status);
        Assert.Equal(data.Length, reply.BulkLength);
        Assert.Equal(data, back);
        Assert.Equal(1, proxy.CorruptedReplies);
        Assert.Equal(2, proxy.Replies.Count(h => h.Opcode == Opcode.OstRead));
    }

    [Fact]
    public async Task A_read_whose_bulk_is_corrupted_on_every_attempt_fails_with_BulkChecksumException()
    {
        var (obj, _) = await WriteObjectAsync(1 << 20);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { RepliesToCorrupt = int.MaxValue };
        await using var rpc = new ServerCaller(proxy.Endpoint, Settings(), maxAttempts: 3);
        var back = new byte[1 << 20];

        var ex = await Assert.ThrowsAsync<BulkChecksumException>(async () =>
        {
            using var reply = await ReadObjectAsync(rpc, obj, back);
        });

        Assert.Equal(LustreErrno.EBADMSG, ex.Errno);
        Assert.Equal(3, proxy.CorruptedReplies);
    }

    [Fact]
    public async Task A_corrupted_read_bulk_fails_only_its_call_and_the_connection_goes_on()
    {
        var (obj, data) = await WriteObjectAsync(256 * 1024);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { RepliesToCorrupt = 1 };
        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, settings, CancellationToken.None);
        var back = new byte[data.Length];

        await Assert.ThrowsAsync<BulkChecksumException>(async () =>
        {
            using var frame = ReadFrame(obj, back.Length);
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, back, settings.Xids.Next(), resend: false, CancellationToken.None);
        });
        using (var frame = ReadFrame(obj, back.Length))
        {
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, back, settings.Xids.Next(), resend: false, CancellationToken.None);
            Assert.Equal(0, reply.Status);
        }

        Assert.True(connection.IsHealthy);
        Assert.Equal(data, back);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_connection_lost_in_the_middle_of_a_reply_bulk_fails_the_call_that_was_receiving_it(bool segments)
    {
        // The call is out of the waiting list while its bulk comes in; it must not be left waiting for ever.
        var (obj, _) = await WriteObjectAsync(256 * 1024);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { CutReply = h => h.Opcode == Opcode.OstRead };
        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, settings, CancellationToken.None);
        var back = new byte[256 * 1024];
        var bulk = segments ? new ReplyBulk([back.AsMemory(0, 100_000), back.AsMemory(100_000, 1000), back.AsMemory(101_000)]) : new ReplyBulk(back);

        using var frame = ReadFrame(obj, back.Length);
        var call = connection.CallAsync(Opcode.OstRead, frame, default, bulk, settings.Xids.Next(), resend: false, CancellationToken.None).AsTask();
        var ex = await Assert.ThrowsAsync<LustreException>(() => call.WaitAsync(Timeout));

        Assert.Equal(LustreErrno.ENOTCONN, ex.Errno);
        Assert.True(ex.IsTransient);
        Assert.Single(proxy.DroppedReplies);
        Assert.False(connection.IsHealthy);
    }

    [Fact]
    public async Task An_end_to_end_verified_read_goes_without_a_bulk_checksum_and_the_client_leaves_the_check_to_its_caller()
    {
        var (obj, data) = await WriteObjectAsync(256 * 1024);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint);
        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(proxy.Endpoint, settings, CancellationToken.None);
        Assert.True((connection.Features & ProtocolFeatures.BulkChecksumXxh3) != 0);
        var back = new byte[data.Length];

        // A plain read on this connection carries a checksum; an end-to-end verified one carries none and says so.
        using (var frame = ReadFrame(obj, back.Length))
        {
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, back, settings.Xids.Next(), resend: false, CancellationToken.None);
        }

        proxy.RepliesToCorrupt = 1;
        using (var frame = ReadFrame(obj, back.Length))
        {
            frame.Flags = FrameFlags.EndToEndVerified;
            using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, back, settings.Xids.Next(), resend: false, CancellationToken.None);
            Assert.Equal(0, reply.Status);
        }

        var reads = proxy.Replies.Where(h => h.Opcode == Opcode.OstRead).ToArray();
        Assert.Equal(2, reads.Length);
        Assert.NotEqual(0UL, reads[0].BulkChecksum);
        Assert.Equal(FrameFlags.Reply, reads[0].Flags);
        Assert.Equal(0UL, reads[1].BulkChecksum);
        Assert.Equal(FrameFlags.Reply | FrameFlags.EndToEndVerified, reads[1].Flags);

        // The corrupted bytes were handed over unchecked: catching them is now the caller's job.
        Assert.Equal(1, proxy.CorruptedReplies);
        Assert.NotEqual(data, back);
    }

    [Fact]
    public async Task A_corrupted_write_bulk_is_refused_with_EBADMSG_and_the_resend_lands_the_right_bytes()
    {
        var (obj, _) = await WriteObjectAsync(1 << 20);
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { RequestsToCorrupt = 1 };
        await using var rpc = new ServerCaller(proxy.Endpoint, Settings(), maxAttempts: 4);

        using var reply = await WriteObjectAsync(rpc, obj, data);

        Assert.Equal(0, reply.Status);
        Assert.Equal(1, proxy.CorruptedRequests);
        Assert.Equal([(int)LustreErrno.EBADMSG, 0], proxy.Replies.Where(h => h.Opcode == Opcode.OstWrite).Select(h => h.Status));
        Assert.Equal(data, await File.ReadAllBytesAsync(_fixture.ObjectPath(obj)));
    }

    [Fact]
    public async Task A_write_whose_bulk_is_corrupted_on_every_attempt_is_refused_and_leaves_the_object_unchanged()
    {
        var (obj, original) = await WriteObjectAsync(1 << 20);
        await using var proxy = new FrameProxy(_fixture.Cluster.Endpoint) { RequestsToCorrupt = int.MaxValue };
        await using var rpc = new ServerCaller(proxy.Endpoint, Settings(), maxAttempts: 3);

        using var reply = await WriteObjectAsync(rpc, obj, RandomNumberGenerator.GetBytes(1 << 20));

        Assert.Equal((int)LustreErrno.EBADMSG, reply.Status);
        Assert.Contains("checksum", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(3, proxy.CorruptedRequests);
        Assert.Equal(original, await File.ReadAllBytesAsync(_fixture.ObjectPath(obj)));
    }

    [Fact]
    public async Task A_ping_after_connect_is_answered_with_success()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);
        await peer.ConnectAsync();

        var (reply, body, _) = await peer.CallAsync(Opcode.Ping);

        Assert.True(reply.Status == 0, $"Ping answered {(LustreErrno)reply.Status}: {(body.Length > 0 ? RawPeer.ErrorMessage(body) : string.Empty)}");
    }

    [Fact]
    public async Task The_server_name_given_at_connect_names_the_port_it_listens_on()
    {
        await using var peer = await RawPeer.ConnectAsync(_fixture.Cluster.Endpoint);

        var connect = await peer.ConnectAsync();

        Assert.EndsWith(":" + _fixture.Cluster.Endpoint.Port, connect.ServerName, StringComparison.Ordinal);
    }

    private static RpcConnectionSettings Settings() => new(
        "engine-test-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, NullLogger.Instance);

    private static Task<LustreCluster> StartSecretClusterAsync(byte[] secret) =>
        LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, SharedSecret = secret });

    /// <summary>Writes a file of one object through the normal client and returns that object and its bytes.</summary>
    private async Task<(OstObject Object, byte[] Data)> WriteObjectAsync(int size)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = RandomNumberGenerator.GetBytes(size);
        await using var file = await _fixture.Client.OpenFileAsync(dir + "/f", FileMode.CreateNew, layout: FileLayout.Raid0(4 << 20, 1));
        await file.WriteAtAsync(0, data);
        await file.FlushAsync();
        return (file.Layout.Components[0].Objects[0], data);
    }

    private static FrameBuffer ReadFrame(OstObject obj, int length)
    {
        var frame = FrameBuffer.Rent();
        new OstReadRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 0, length).Write(frame.Body);
        return frame;
    }

    private static async Task<RpcReply> ReadObjectAsync(ServerCaller rpc, OstObject obj, byte[] destination)
    {
        using var frame = ReadFrame(obj, destination.Length);
        return await rpc.CallAsync(Opcode.OstRead, frame, default, destination, CancellationToken.None).AsTask().WaitAsync(Timeout);
    }

    private static async Task<RpcReply> WriteObjectAsync(ServerCaller rpc, OstObject obj, byte[] data)
    {
        using var frame = FrameBuffer.Rent();
        new OstWriteRequest(new ObjectRef(obj.OstIndex, obj.ObjectId), 0).Write(frame.Body);
        return await rpc.CallAsync(Opcode.OstWrite, frame, data, default, CancellationToken.None).AsTask().WaitAsync(Timeout);
    }

    /// <summary>
    /// Echoes each request's index, token and bulk, but holds every reply until the caller of the next request
    /// has its answer, and the last request's until all have arrived: replies go out in reverse order of arrival.
    /// </summary>
    private sealed class ReverseOrderService : IRpcService
    {
        private readonly TaskCompletionSource[] _gates;
        private int _arrived;

        public ReverseOrderService(int expected) =>
            _gates = [.. Enumerable.Range(0, expected).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously))];

        /// <summary>Bulk sizes on both sides of the 16 KiB inline limit, different per call.</summary>
        public static int BulkSize(int index) => (index % 3 == 0 ? 40_000 : 1_000) + (index * 37);

        public void Release(int index)
        {
            if (index >= 0)
            {
                _gates[index].TrySetResult();
            }
        }

        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers => [(EchoOpcode, HandleAsync)];

        private async ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken)
        {
            var reader = request.Reader;
            var index = reader.ReadInt32("index");
            var token = reader.ReadString("token", 100);
            var bulk = ArrayPool<byte>.Shared.Rent(request.Bulk.Length);
            request.Bulk.CopyTo(bulk);
            if (Interlocked.Increment(ref _arrived) == _gates.Length)
            {
                Release(_gates.Length - 1);
            }

            await _gates[index].Task.WaitAsync(Timeout, cancellationToken);
            var body = FrameBuffer.Rent();
            body.Body.WriteInt32(index);
            body.Body.WriteString(token);
            return RpcResponse.WithBulk(body, bulk, request.Bulk.Length);
        }
    }
}
