using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>A handshaken connection that sends nothing for the idle time is closed and its slot freed; its client reconnects at the next call.</summary>
public sealed class IdleTimeoutTests
{
    /// <summary>
    /// Long against the pauses of a shared 2-core test host (a 100 ms delay was seen to take a second), short for a test.
    /// </summary>
    private static readonly TimeSpan Idle = TimeSpan.FromSeconds(2.5);

    [Fact]
    public async Task An_idle_connection_is_closed_a_busy_one_is_not_and_a_client_reconnects_at_its_next_call()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "idle", IdleTimeout = Idle }, [], NullLogger.Instance);
        server.Start();
        await using var idle = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await idle.ConnectAsync();
        await using var busy = await RawPeer.ConnectAsync(server.LocalEndPoint);
        await busy.ConnectAsync();
        var settings = new RpcConnectionSettings("idle-client", new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, NullLogger.Instance);
        await using var caller = new ServerCaller(server.LocalEndPoint, settings, maxAttempts: 2);
        using (var first = await Ping(caller))
        {
            Assert.Equal(0, first.Status);
        }

        // Two idle times and a half pass; one peer pings all along.
        var until = DateTime.UtcNow + (2.5 * Idle);
        while (DateTime.UtcNow < until)
        {
            var (pong, _, _) = await busy.CallAsync(Opcode.Ping);
            Assert.Equal(0, pong.Status);
            await Task.Delay(100);
        }

        await idle.AssertClosedByServerAsync();

        // Only the busy peer's session is left (the caller's went idle too).
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            while (server.SessionCount > 1)
            {
                await Task.Delay(20, timeout.Token);
            }
        }

        var (stillThere, _, _) = await busy.CallAsync(Opcode.Ping);
        Assert.Equal(0, stillThere.Status);

        // The client's connection was closed as idle; its next call opens a new one, within its attempts.
        using var again = await Ping(caller);
        Assert.Equal(0, again.Status);
    }

    private static async Task<RpcReply> Ping(ServerCaller caller)
    {
        using var frame = FrameBuffer.Rent();
        return await caller.CallAsync(Opcode.Ping, frame, default, default, CancellationToken.None);
    }
}
