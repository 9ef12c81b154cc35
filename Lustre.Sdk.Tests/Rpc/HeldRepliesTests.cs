using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// Replies to requests that arrive together leave together: a request answered on the session's reader loop holds its
/// reply back while more requests are already in, and the loop sends the held replies before it waits for anything.
/// These run a whole burst in one send against limits that only the held replies can free; a loop that waited with
/// replies held would hang here.
/// </summary>
public sealed class HeldRepliesTests
{
    private const int Burst = 40;

    [Fact]
    public async Task A_burst_of_pings_past_the_connection_request_limit_is_answered_whole()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "held-pings", MaxRequestsInFlightPerConnection = 2 }, [], NullLogger.Instance);
        server.Start();
        await using var peer = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await peer.ConnectAsync();

        var xids = Enumerable.Range(0, Burst).Select(_ => peer.NextXid()).ToArray();
        await peer.SendAsync(xids.SelectMany(xid => RawPeer.Frame(Opcode.Ping, xid)).ToArray());

        var answered = new HashSet<ulong>();
        for (var i = 0; i < Burst; i++)
        {
            var (header, _, _) = await peer.ReceiveAsync();
            Assert.Equal(0, header.Status);
            Assert.Contains(header.Xid, xids);
            Assert.True(answered.Add(header.Xid), $"xid {header.Xid} answered twice");
        }
    }

    [Fact]
    public async Task A_burst_of_inline_reads_past_the_connection_memory_budget_is_answered_whole_with_each_reads_bytes()
    {
        // Two replies' bulk fit the connection's budget: the third request waits for the first reply to go.
        await using var server = new RpcServer(
            new RpcServerOptions { Name = "held-reads", ConnectionMemoryBudget = 2 * InlineReads.ReplyBytes },
            [new InlineReads()],
            NullLogger.Instance);
        server.Start();
        await using var peer = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await peer.ConnectAsync();

        var xids = Enumerable.Range(0, Burst).Select(_ => peer.NextXid()).ToArray();
        await peer.SendAsync(xids.SelectMany(xid => RawPeer.Frame(Opcode.OstRead, xid, w => w.WriteUInt64(xid))).ToArray());

        var answered = new HashSet<ulong>();
        for (var i = 0; i < Burst; i++)
        {
            var (header, _, bulk) = await peer.ReceiveAsync();
            Assert.Equal(0, header.Status);
            Assert.True(answered.Add(header.Xid), $"xid {header.Xid} answered twice");
            Assert.Equal(InlineReads.ReplyBytes, bulk.Length);
            Assert.All(bulk, b => Assert.Equal(InlineReads.Fill(header.Xid), b));
        }

        Assert.Equal(xids.Order(), answered.Order());
    }

    /// <summary>Answers each read on the reader loop with 512 KiB of a byte derived from the xid in its body.</summary>
    private sealed class InlineReads : IRpcService
    {
        public const int ReplyBytes = 512 * 1024;

        public static byte Fill(ulong xid) => (byte)(xid * 37);

        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers => [(Opcode.OstRead, ReadAsync)];

        public bool CanRunInline(RpcRequest request) => true;

        public long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body) => ReplyBytes;

        private static ValueTask<RpcResponse> ReadAsync(RpcRequest request, CancellationToken cancellationToken)
        {
            var reader = request.Reader;
            var xid = reader.ReadUInt64("xid");
            var bulk = BulkPool.Shared.Rent(ReplyBytes);
            bulk.AsSpan(0, ReplyBytes).Fill(Fill(xid));
            return ValueTask.FromResult(RpcResponse.WithBulk(null, bulk, ReplyBytes));
        }
    }
}
