using System.Net;
using System.Net.Sockets;

namespace Lustre.Tests;

/// <summary>
/// A loopback port where nothing listens, held for as long as this lives: a socket bound to it and never listening,
/// so a connection to it is refused, and no other socket (a server a test starts on port 0) can be given it meanwhile.
/// A port found free and let go could be handed to the next server that asks for any port, and a test that wanted
/// "Connection refused" would then reach that server instead.
/// </summary>
internal sealed class RefusedPort : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public RefusedPort() => _socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));

    public int Port => ((IPEndPoint)_socket.LocalEndPoint!).Port;

    /// <summary>"127.0.0.1:port".</summary>
    public override string ToString() => $"127.0.0.1:{Port}";

    public void Dispose() => _socket.Dispose();
}
