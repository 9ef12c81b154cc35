using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Network;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Security;

/// <summary>
/// TLS 1.3 under the frames (issue 19): the bytes on the wire hide what is written, the shared-secret proofs bind the
/// TLS channel so a man in the middle with a certificate of its own is refused, and a server refuses plain TCP where
/// TLS is required, with a message that says so. Real servers, real sockets, a relay on loopback in between.
/// </summary>
public sealed class TlsTests : IAsyncLifetime
{
    private static readonly byte[] Secret = Encoding.UTF8.GetBytes("tls-tests-secret-0123456789abcdefghij");
    private LustreCluster? _cluster;

    public async Task InitializeAsync() =>
        _cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, SharedSecret = Secret });

    public async Task DisposeAsync() => await _cluster!.DisposeAsync();

    private static RpcConnectionSettings Settings(TransportSecurity transport) =>
        new("tls-test-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), Secret, NullLogger.Instance, Transport: transport);

    [Fact]
    public async Task A_client_on_TLS_reads_and_writes_a_striped_file_whole()
    {
        await using var client = new LustreClient(_cluster!.Address, new LustreClientOptions { SharedSecret = Secret, Transport = TransportSecurity.Tls, BulkChecksums = true });
        var data = new byte[9 << 20];
        Random.Shared.NextBytes(data);
        await using (var file = await client.OpenFileAsync("/tls.bin", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 2)))
        {
            await file.WriteAtAsync(0, data);
        }

        var back = new byte[data.Length];
        await using (var file = await client.OpenFileAsync("/tls.bin", FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
        }

        Assert.Equal(data, back);
        await using var connection = await RpcConnection.ConnectAsync(_cluster.Endpoint, Settings(TransportSecurity.Tls), CancellationToken.None);
        Assert.True(connection.IsEncrypted);
        await using var plain = await RpcConnection.ConnectAsync(_cluster.Endpoint, Settings(TransportSecurity.Auto), CancellationToken.None);
        Assert.False(plain.IsEncrypted); // Auto: loopback stays plain
    }

    [Fact]
    public async Task A_listener_on_the_wire_sees_the_written_bytes_in_plain_TCP_and_not_in_TLS()
    {
        var marker = Encoding.ASCII.GetBytes("MARKER-7f3a9c-the-bytes-a-listener-must-not-read-MARKER-7f3a9c");
        var bulk = new byte[64 * 1024];
        for (var i = 0; i + marker.Length <= bulk.Length; i += marker.Length)
        {
            marker.CopyTo(bulk, i);
        }

        foreach (var transport in new[] { TransportSecurity.Plain, TransportSecurity.Tls })
        {
            await using var relay = new Relay(_cluster!.Endpoint, terminateTls: false);

            // The relay stands for a network between the two, where no local socket is offered: the client stays on it.
            var settings = Settings(transport) with { LocalSockets = false };
            await using (var connection = await RpcConnection.ConnectAsync(relay.Endpoint, settings, CancellationToken.None))
            {
                using var frame = FrameBuffer.Rent();
                new OstWriteRequest(new ObjectRef(0, 4242), 0).Write(frame.Body);
                using var reply = await connection.CallAsync(Opcode.OstWrite, frame, bulk, default, settings.Xids.Next(), false, CancellationToken.None);
                Assert.Equal(0, reply.Status);
            }

            var seen = relay.ClientBytes();
            Assert.True(seen.Length > bulk.Length, $"the relay saw only {seen.Length} bytes");
            Assert.Equal(transport == TransportSecurity.Plain, seen.AsSpan().IndexOf(marker) >= 0);
        }
    }

    [Fact]
    public async Task A_man_in_the_middle_that_ends_TLS_with_its_own_certificate_fails_the_proofs_and_learns_no_request()
    {
        await using var relay = new Relay(_cluster!.Endpoint, terminateTls: true);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => RpcConnection.ConnectAsync(relay.Endpoint, Settings(TransportSecurity.Tls), CancellationToken.None));
        Assert.Contains("authentication failed", refused.ToString(), StringComparison.Ordinal);

        // It saw the handshake and nothing after it: no request past Connect and Auth reached it in the clear.
        Assert.True(relay.Connections >= 1);
        Assert.True(relay.ClientBytes().Length < 1024, $"{relay.ClientBytes().Length} bytes passed the relay");

        // The same client straight to the server connects.
        await using var direct = await RpcConnection.ConnectAsync(_cluster.Endpoint, Settings(TransportSecurity.Tls), CancellationToken.None);
        Assert.True(direct.IsEncrypted);
    }

    [Fact]
    public async Task A_server_that_requires_TLS_refuses_plain_TCP_with_a_message_that_says_so()
    {
        await using var server = new RpcServer(new RpcServerOptions { Name = "tls-only", RequireTls = true }, [], NullLogger.Instance);
        server.Start();
        var plain = await Assert.ThrowsAnyAsync<Exception>(() => RpcConnection.ConnectAsync(server.LocalEndPoint, Settings(TransportSecurity.Plain) with { Secret = null }, CancellationToken.None));
        Assert.Contains("requires TLS", plain.ToString(), StringComparison.Ordinal);

        var settings = Settings(TransportSecurity.Tls) with { Secret = null };
        await using var tls = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);
        Assert.True(tls.IsEncrypted);
        using var frame = FrameBuffer.Rent();
        using var pong = await tls.CallAsync(Opcode.Ping, frame, default, default, settings.Xids.Next(), false, CancellationToken.None);
        Assert.Equal(0, pong.Status);
    }

    /// <summary>
    /// A relay on loopback that records what the client sends. With <c>terminateTls</c> it is a man in the middle: TLS
    /// to the client with a certificate of its own, TLS to the server, the plaintext copied between them.
    /// </summary>
    private sealed class Relay : IAsyncDisposable
    {
        private readonly IPEndPoint _upstream;
        private readonly bool _terminateTls;
        private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        private readonly CancellationTokenSource _stopping = new();
        private readonly MemoryStream _fromClient = new();
        private readonly List<Task> _pumps = [];
        private readonly Task _accepting;
        private int _connections;

        public Relay(IPEndPoint upstream, bool terminateTls)
        {
            _upstream = upstream;
            _terminateTls = terminateTls;
            _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            _listener.Listen(4);
            _accepting = Task.Run(AcceptAsync);
        }

        public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

        public int Connections => Volatile.Read(ref _connections);

        public byte[] ClientBytes()
        {
            lock (_fromClient)
            {
                return _fromClient.ToArray();
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var client = await _listener.AcceptAsync(_stopping.Token);
                    Interlocked.Increment(ref _connections);
                    var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    await server.ConnectAsync(_upstream, _stopping.Token);
                    Stream toClient = new NetworkStream(client, ownsSocket: true);
                    Stream toServer = new NetworkStream(server, ownsSocket: true);
                    if (_terminateTls)
                    {
                        var own = Tls.CreateServerCertificate("mitm");
                        var clientSide = new SslStream(toClient);
                        await clientSide.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = own }, _stopping.Token);
                        var serverSide = new SslStream(toServer, false, (_, _, _, _) => true);
                        await serverSide.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "lustre" }, _stopping.Token);
                        (toClient, toServer) = (clientSide, serverSide);
                    }

                    lock (_pumps)
                    {
                        _pumps.Add(PumpAsync(toClient, toServer, record: true));
                        _pumps.Add(PumpAsync(toServer, toClient, record: false));
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
            {
            }
        }

        private async Task PumpAsync(Stream from, Stream to, bool record)
        {
            var buffer = new byte[64 * 1024];
            try
            {
                int read;
                while ((read = await from.ReadAsync(buffer, _stopping.Token)) > 0)
                {
                    if (record)
                    {
                        lock (_fromClient)
                        {
                            _fromClient.Write(buffer, 0, read);
                        }
                    }

                    await to.WriteAsync(buffer.AsMemory(0, read), _stopping.Token);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
            {
            }
            finally
            {
                await to.DisposeAsync();
                await from.DisposeAsync();
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stopping.CancelAsync();
            _listener.Dispose();
            await _accepting;
            Task[] pumps;
            lock (_pumps)
            {
                pumps = [.. _pumps];
            }

            await Task.WhenAll(pumps);
            _stopping.Dispose();
        }
    }
}
