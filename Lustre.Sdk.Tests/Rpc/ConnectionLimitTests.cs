using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>One client address cannot take every connection slot of a server; other addresses and freed slots still get in.</summary>
public sealed class ConnectionLimitTests
{
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
