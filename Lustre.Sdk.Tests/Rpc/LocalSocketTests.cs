using System.Net;
using System.Net.Sockets;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// A server on the client's host is reached through its local socket (LNet's <c>0@lo</c>): the client connects over
/// loopback TCP, is offered the server's abstract Unix-domain socket at connect, does the whole handshake again there
/// and leaves TCP; where that fails it stays on TCP. The same secret guards both.
/// </summary>
public sealed class LocalSocketTests
{
    private static readonly byte[] Secret = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

    private static RpcConnectionSettings Settings(byte[]? secret = null, bool localSockets = true) =>
        new("local-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), secret, NullLogger.Instance, LocalSockets: localSockets);

    private static async Task PingAsync(RpcConnection connection, RpcConnectionSettings settings)
    {
        using var frame = FrameBuffer.Rent();
        using var reply = await connection.CallAsync(Opcode.Ping, frame, default, default, settings.Xids.Next(), false, CancellationToken.None);
        Assert.Equal(0, reply.Status);
    }

    /// <summary>Waits (bounded) until the server holds exactly <paramref name="count"/> sessions.</summary>
    private static async Task AssertSessionsAsync(RpcServer server, int count)
    {
        for (var i = 0; i < 100 && server.SessionCount != count; i++)
        {
            await Task.Delay(20);
        }

        Assert.Equal(count, server.SessionCount);
    }

    [Fact]
    public async Task A_client_on_the_servers_host_moves_to_its_local_socket_and_leaves_no_TCP_session_behind()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "local" }, [], NullLogger.Instance);
        server.Start();
        Assert.NotNull(server.LocalSocketName);
        Assert.StartsWith("\0lustre-", server.LocalSocketName, StringComparison.Ordinal);

        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);
        Assert.True(connection.IsLocalSocket);
        Assert.Equal(server.LocalEndPoint.ToString(), connection.Target); // messages still name the server's address
        await PingAsync(connection, settings);
        await AssertSessionsAsync(server, 1);
    }

    [Fact]
    public async Task A_client_told_to_stay_on_TCP_or_a_server_without_a_local_socket_keeps_the_TCP_connection()
    {
        await using (var server = new RpcServer(new RpcServerOptions { Name = "local" }, [], NullLogger.Instance))
        {
            server.Start();
            var settings = Settings(localSockets: false);
            await using var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);
            Assert.False(connection.IsLocalSocket);
            await PingAsync(connection, settings);
        }

        await using (var server = new RpcServer(new RpcServerOptions { Name = "tcp-only", LocalSocket = false }, [], NullLogger.Instance))
        {
            server.Start();
            Assert.Null(server.LocalSocketName);
            var settings = Settings();
            await using var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);
            Assert.False(connection.IsLocalSocket);
            await PingAsync(connection, settings);
        }
    }

    [Fact]
    public async Task The_local_socket_asks_for_the_same_secret_and_offers_no_way_around_it()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "local-secret", Secret = Secret }, [], NullLogger.Instance);
        server.Start();

        // The client with the secret proves it twice (TCP, then the local socket) and works.
        var settings = Settings(Secret);
        await using (var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None))
        {
            Assert.True(connection.IsLocalSocket);
            await PingAsync(connection, settings);
        }

        // One without it is refused on TCP, and straight at the local socket (whose name anyone here can list).
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => RpcConnection.ConnectAsync(server.LocalEndPoint, Settings(), CancellationToken.None));
        var local = new UnixDomainSocketEndPoint(server.LocalSocketName!);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => RpcConnection.ConnectAsync(local, Settings(), CancellationToken.None));
        var wrong = Secret.Select(b => (byte)(b ^ 0xFF)).ToArray();
        await Assert.ThrowsAnyAsync<Exception>(() => RpcConnection.ConnectAsync(local, Settings(wrong), CancellationToken.None));
    }

    [Fact]
    public async Task A_server_never_offers_its_local_socket_on_the_local_socket_itself_nor_to_a_client_that_did_not_ask()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "local" }, [], NullLogger.Instance);
        server.Start();
        await using (var peer = await RawPeer.ConnectAsync(server.LocalEndPoint))
        {
            Assert.Equal(server.LocalSocketName, (await peer.ConnectAsync()).LocalSocket);
        }

        await using (var peer = await RawPeer.ConnectAsync(server.LocalEndPoint))
        {
            var (header, body, _) = await peer.CallAsync(
                Opcode.Connect,
                w => new ConnectRequest(FrameHeader.CurrentVersion, ProtocolFeatures.All & ~ProtocolFeatures.LocalSocket, "raw-" + Guid.NewGuid().ToString("N")).Write(w));
            Assert.Equal(0, header.Status);
            var reader = new BodyReader(body);
            Assert.Equal(string.Empty, ConnectReply.Read(ref reader).LocalSocket);
        }

        // Over the local socket a client is not sent on again.
        var settings = Settings();
        await using var connection = await RpcConnection.ConnectAsync(new UnixDomainSocketEndPoint(server.LocalSocketName!), settings, CancellationToken.None);
        Assert.True(connection.IsLocalSocket);
        await PingAsync(connection, settings);
    }

    [Fact]
    public async Task A_local_socket_that_cannot_be_reached_leaves_the_client_on_TCP()
    {
        // A server whose offered socket is not there (as through a tunnel from another host): the connect still works.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4);
        var serving = ServeWithAbsentLocalSocketAsync(listener);

        var settings = Settings();
        await using (var connection = await RpcConnection.ConnectAsync(listener.LocalEndPoint!, settings, CancellationToken.None))
        {
            Assert.False(connection.IsLocalSocket);
            await PingAsync(connection, settings);
        }

        listener.Dispose();
        await serving;
    }

    /// <summary>Answers Connect with a local socket nobody listens on, then pings, on each accepted connection.</summary>
    private static async Task ServeWithAbsentLocalSocketAsync(Socket listener)
    {
        try
        {
            while (true)
            {
                using var socket = await listener.AcceptAsync();
                using var stream = new NetworkStream(socket);
                var header = new byte[FrameHeader.Size];
                while (await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false) == header.Length)
                {
                    Assert.Equal(FrameError.None, FrameHeader.TryRead(header, ProtocolLimits.MaxBodyLength, 0, out var request));
                    await stream.ReadExactlyAsync(new byte[request.BodyLength]);
                    using var frame = FrameBuffer.Rent();
                    if (request.Opcode == Opcode.Connect)
                    {
                        new ConnectReply(FrameHeader.CurrentVersion, ProtocolFeatures.All, new byte[ConnectReply.NonceLength], false, 1 << 20, "absent", "\0lustre-nobody-" + Guid.NewGuid().ToString("N")).Write(frame.Body);
                    }

                    frame.SetHeader(new FrameHeader(request.Opcode, FrameFlags.Reply, 0, request.Xid, frame.BodyLength, 0, 0));
                    await stream.WriteAsync(frame.Written);
                }
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
        }
    }
}
