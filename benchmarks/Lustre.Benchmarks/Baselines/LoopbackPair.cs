using System.Net;
using System.Net.Sockets;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// Connected socket pairs made in this process, for the network baselines: loopback TCP, or with
/// <c>local</c> Unix-domain sockets (an abstract name), the transport our client uses to servers on its host.
/// </summary>
internal static class LoopbackPair
{
    public static async Task<(Socket Server, Socket Client)[]> ConnectAsync(int count, bool local = false)
    {
        using var listener = local
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(local ? new UnixDomainSocketEndPoint("\0lustre-baseline-" + Guid.NewGuid().ToString("N")) : new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(count);
        var pairs = new (Socket, Socket)[count];
        for (var i = 0; i < count; i++)
        {
            var client = local
                ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
                : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            var accept = listener.AcceptAsync();
            await client.ConnectAsync(listener.LocalEndPoint!);
            var server = await accept;
            if (!local)
            {
                server.NoDelay = true;
            }

            pairs[i] = (server, client);
        }

        return pairs;
    }

    /// <summary>How the baselines name the transport of <paramref name="pairs"/>.</summary>
    public static string Transport((Socket Server, Socket Client)[] pairs) =>
        pairs.Length > 0 && pairs[0].Server.AddressFamily == AddressFamily.Unix ? "local socket" : "loopback TCP";

    public static void Dispose((Socket Server, Socket Client)[] pairs)
    {
        foreach (var (server, client) in pairs)
        {
            server.Dispose();
            client.Dispose();
        }
    }
}
