using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>One client address cannot take every connection slot of a server; other addresses and freed slots still get in.</summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public async Task Connections_that_never_handshake_from_four_addresses_do_not_keep_a_client_out()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "besieged" }, [], NullLogger.Instance);
        server.Start();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(8));
        var held = new System.Collections.Concurrent.ConcurrentBag<RawPeer>();

        // Four "hosts" open connections as fast as they can and never send a byte, up to 400 each (4 x 256 took every
        // one of the server's 1,024 slots before connections in the handshake had a budget of their own).
        var attackers = Enumerable.Range(2, 4).Select(host => Task.Run(async () =>
        {
            var source = System.Net.IPAddress.Parse($"127.0.0.{host}");
            for (var i = 0; i < 400 && !stop.IsCancellationRequested; i++)
            {
                try
                {
                    held.Add(await RawPeer.ConnectAsync(server.LocalEndPoint, source));
                }
                catch (System.Net.Sockets.SocketException)
                {
                }
            }
        })).ToArray();

        await Task.WhenAll(attackers);
        try
        {
            // Once they hold all they could open (within the 3 s the server gives a handshake), a client from
            // 127.0.0.1 connects and handshakes, five times, each within a normal timeout.
            for (var attempt = 0; attempt < 5; attempt++)
            {
                await using var client = await RawPeer.ConnectAsync(server.LocalEndPoint);
                var connect = client.ConnectAsync($"client-{attempt}");
                Assert.True(await Task.WhenAny(connect, Task.Delay(RawPeer.Timeout)) == connect, $"attempt {attempt}: no handshake reply within {RawPeer.Timeout}");
                await connect;
                var (ping, _, _) = await client.CallAsync(Opcode.Ping);
                Assert.Equal(0, ping.Status);
            }
        }
        finally
        {
            foreach (var peer in held)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Connections_over_the_per_address_limit_are_closed_and_a_freed_slot_is_reusable()
    {
        const int limit = 4;
        await using var server = new RpcServer(new RpcServerOptions { Name = "limited", MaxConnectionsPerAddress = limit }, [], NullLogger.Instance);
        server.Start();
        var admitted = new List<RawPeer>();
        try
        {
            for (var i = 0; i < limit; i++)
            {
                var peer = await RawPeer.ConnectAsync(server.LocalEndPoint);
                admitted.Add(peer);
                await peer.ConnectAsync();
            }

            await using (var extra = await RawPeer.ConnectAsync(server.LocalEndPoint))
            {
                // Accepted into the handshake budget, refused a connection slot at Connect.
                var (refused, body, _) = await extra.CallAsync(Opcode.Connect, w => new ConnectRequest(FrameHeader.CurrentVersion, ProtocolFeatures.All, "extra").Write(w));
                Assert.Equal((int)LustreErrno.EBUSY, refused.Status);
                Assert.Contains("as many connections as it allows", RawPeer.ErrorMessage(body), StringComparison.Ordinal);
                await extra.AssertClosedByServerAsync();
            }

            // The admitted connections still work.
            var (ping, _, _) = await admitted[0].CallAsync(Opcode.Ping);
            Assert.Equal(0, ping.Status);

            // Closing one frees its slot.
            await admitted[^1].DisposeAsync();
            admitted.RemoveAt(admitted.Count - 1);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            while (server.SessionCount > limit - 1)
            {
                await Task.Delay(20, timeout.Token);
            }

            await using var again = await RawPeer.ConnectAsync(server.LocalEndPoint);
            await again.ConnectAsync();
            var (pong, _, _) = await again.CallAsync(Opcode.Ping);
            Assert.Equal(0, pong.Status);
        }
        finally
        {
            foreach (var peer in admitted)
            {
                await peer.DisposeAsync();
            }
        }
    }
}
