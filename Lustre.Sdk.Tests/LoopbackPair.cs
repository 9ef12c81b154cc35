using System.Net;
using System.Net.Sockets;

namespace Lustre.Tests;

/// <summary>
/// Two connected sockets, for tests of what goes over one connection: TCP over loopback (port 0), or with
/// <c>local</c> Unix-domain sockets under a random abstract name (the servers' local socket).
/// </summary>
internal static class LoopbackPair
{
    /// <summary>Connects a new socket to a listener of its own; returns the accepted end and the connecting one.</summary>
    public static async Task<(Socket Accepted, Socket Connected)> ConnectAsync(bool local = false)
    {
        using var listener = NewSocket(local);
        listener.Bind(local ? new UnixDomainSocketEndPoint("\0lustre-test-" + Guid.NewGuid().ToString("N")) : new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connected = NewSocket(local);
        var accept = listener.AcceptAsync();
        await connected.ConnectAsync(listener.LocalEndPoint!);
        return (await accept, connected);
    }

    private static Socket NewSocket(bool local) => local
        ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
        : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
}
