using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>A peer that half-closes after its requests (it will send nothing more) still gets every reply, whole, before the server closes.</summary>
public sealed class SessionCloseTests
{
    private const Opcode SlowOpcode = (Opcode)901;

    [Fact]
    public async Task Requests_in_flight_when_the_peer_half_closes_are_answered_whole_before_the_close()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "slow" }, [new SlowService()], NullLogger.Instance);
        server.Start();
        await using var peer = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await peer.ConnectAsync();
        var xids = new[] { peer.NextXid(), peer.NextXid(), peer.NextXid() };
        foreach (var xid in xids)
        {
            await peer.SendAsync(RawPeer.Frame(SlowOpcode, xid, w => w.WriteInt32(200)));
        }

        peer.EndSending();

        var answered = new HashSet<ulong>();
        for (var i = 0; i < xids.Length; i++)
        {
            var (header, body, _) = await peer.ReceiveAsync();
            Assert.Equal(0, header.Status);
            Assert.Equal(3000, body.Length);
            answered.Add(header.Xid);
        }

        Assert.Equal(xids.ToHashSet(), answered);
        await peer.AssertClosedByServerAsync();
    }

    [Fact]
    public async Task A_bad_header_after_a_request_closes_the_connection_only_after_that_request_is_answered_whole()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "slow" }, [new SlowService()], NullLogger.Instance);
        server.Start();
        await using var peer = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await peer.ConnectAsync();
        var xid = peer.NextXid();
        await peer.SendAsync(RawPeer.Frame(SlowOpcode, xid, w => w.WriteInt32(200)));
        var bad = RawPeer.Header(Opcode.Ping, peer.NextXid(), 0);
        RawPeer.Patch32(bad, 0, 0x50545448);
        await peer.SendAsync(bad);

        var (header, body, _) = await peer.ReceiveAsync();

        Assert.Equal(xid, header.Xid);
        Assert.Equal(3000, body.Length);
        await peer.AssertClosedByServerAsync();
    }

    private sealed class SlowService : IRpcService
    {
        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers => [(SlowOpcode, HandleAsync)];

        private async ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken)
        {
            var reader = request.Reader;
            await Task.Delay(reader.ReadInt32("delay"), cancellationToken);
            var body = FrameBuffer.Rent();
            body.Body.WriteBytes(new byte[3000 - 4]);
            return RpcResponse.Ok(body);
        }
    }
}
