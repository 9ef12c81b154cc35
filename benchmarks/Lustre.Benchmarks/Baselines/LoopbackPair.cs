using System.Net;
using System.Net.Sockets;

namespace Lustre.Benchmarks.Baselines;

/// <summary>Connected loopback TCP socket pairs made in this process, for the network baselines.</summary>
internal static class LoopbackPair
{
    public static async Task<(Socket Server, Socket Client)[]> ConnectAsync(int count)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(count);
        var pairs = new (Socket, Socket)[count];
        for (var i = 0; i < count; i++)
        {
            var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var accept = listener.AcceptAsync();
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await accept;
            server.NoDelay = true;
            pairs[i] = (server, client);
        }

        return pairs;
    }

    public static void Dispose((Socket Server, Socket Client)[] pairs)
    {
        foreach (var (server, client) in pairs)
        {
            server.Dispose();
            client.Dispose();
        }
    }
}
