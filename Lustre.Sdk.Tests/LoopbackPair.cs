using System.Net;
using System.Net.Sockets;

namespace Lustre.Tests;

/// <summary>Two connected TCP sockets over loopback (port 0), for tests of what goes over one connection.</summary>
internal static class LoopbackPair
{
    /// <summary>Connects a new socket to a listener of its own; returns the accepted end and the connecting one.</summary>
    public static async Task<(Socket Accepted, Socket Connected)> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var connected = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await connected.ConnectAsync(listener.LocalEndPoint!);
        return (await accept, connected);
    }
}
