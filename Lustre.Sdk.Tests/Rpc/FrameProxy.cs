using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Rpc;

/// <summary>
/// A TCP proxy on 127.0.0.1 that forwards whole frames between clients and one server and can flip a byte in the
/// bulk of large frames going either way: a stand-in for a flaky NIC or switch. It parses the frame format, so it
/// corrupts exactly the payload it is told to and never a header.
/// </summary>
internal sealed class FrameProxy : IAsyncDisposable
{
    /// <summary>Only bulks larger than this are corrupted: handshakes and small replies pass untouched.</summary>
    public const int LargeBulk = 64 * 1024;

    private volatile IPEndPoint? _upstream;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentBag<Socket> _sockets = [];
    private readonly ConcurrentBag<Task> _pumps = [];
    private readonly Task _acceptLoop;
    private int _repliesToCorrupt;
    private int _requestsToCorrupt;
    private int _corruptedReplies;
    private int _corruptedRequests;

    public FrameProxy(IPEndPoint upstream)
        : this()
    {
        _upstream = upstream;
    }

    /// <summary>A proxy whose server is named later (<see cref="Upstream"/>); until then it closes whoever connects.</summary>
    public FrameProxy()
    {
        _listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(16);
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint Endpoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>The server new connections are forwarded to (a restarted server may have moved).</summary>
    public IPEndPoint? Upstream
    {
        get => _upstream;
        set => _upstream = value;
    }

    /// <summary>How many more large server-to-client bulks to corrupt (<see cref="int.MaxValue"/>: all).</summary>
    public int RepliesToCorrupt
    {
        get => Volatile.Read(ref _repliesToCorrupt);
        set => Volatile.Write(ref _repliesToCorrupt, value);
    }

    /// <summary>How many more large client-to-server bulks to corrupt (<see cref="int.MaxValue"/>: all).</summary>
    public int RequestsToCorrupt
    {
        get => Volatile.Read(ref _requestsToCorrupt);
        set => Volatile.Write(ref _requestsToCorrupt, value);
    }

    public int CorruptedReplies => Volatile.Read(ref _corruptedReplies);

    public int CorruptedRequests => Volatile.Read(ref _corruptedRequests);

    /// <summary>Headers of every reply forwarded to a client, in order.</summary>
    public ConcurrentQueue<FrameHeader> Replies { get; } = new();

    /// <summary>
    /// Requests with this opcode are not forwarded: the proxy records their header in <see cref="Dropped"/> and closes
    /// the connection, as a server that crashes on receipt would. Null (the default): everything is forwarded.
    /// </summary>
    public Opcode? DropRequestsOf { get; set; }

    /// <summary>Headers of the requests dropped by <see cref="DropRequestsOf"/>, in order.</summary>
    public ConcurrentQueue<FrameHeader> Dropped { get; } = new();

    /// <summary>
    /// Replies with this opcode are not forwarded: the server applied the request and answered, and the proxy records
    /// the reply's header in <see cref="DroppedReplies"/> and closes the connection, as a network that fails right
    /// after the server sent would. Null (the default): everything is forwarded.
    /// </summary>
    public Opcode? DropRepliesOf { get; set; }

    /// <summary>Replies for which this says true are dropped as <see cref="DropRepliesOf"/>'s are.</summary>
    public Predicate<FrameHeader>? DropReply { get; set; }

    /// <summary>Headers of the replies dropped by <see cref="DropRepliesOf"/> or <see cref="DropReply"/>, or cut by <see cref="CutReply"/>, in order.</summary>
    public ConcurrentQueue<FrameHeader> DroppedReplies { get; } = new();

    /// <summary>
    /// Replies for which this says true are forwarded only up to half their bulk, then the connection closes: a
    /// server or network that dies in the middle of sending a reply. Null (the default): nothing is cut.
    /// </summary>
    public Predicate<FrameHeader>? CutReply { get; set; }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }

            if (_upstream is not { } upstream)
            {
                client.Dispose();
                continue;
            }

            var server = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            client.NoDelay = true;
            _sockets.Add(client);
            _sockets.Add(server);
            try
            {
                await server.ConnectAsync(upstream, _stopping.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException)
            {
                client.Dispose();
                continue;
            }

            _pumps.Add(PumpAsync(client, server, toServer: true));
            _pumps.Add(PumpAsync(server, client, toServer: false));
        }
    }

    private async Task PumpAsync(Socket from, Socket to, bool toServer)
    {
        var header = new byte[FrameHeader.Size];
        try
        {
            using var input = new NetworkStream(from, ownsSocket: false);
            using var output = new NetworkStream(to, ownsSocket: false);
            while (true)
            {
                if (await input.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, _stopping.Token) < header.Length)
                {
                    break;
                }

                var error = FrameHeader.TryRead(header, int.MaxValue, int.MaxValue, out var parsed);
                if (error != FrameError.None)
                {
                    // Not a frame: pass the bytes on and let the real peer judge them.
                    await output.WriteAsync(header, _stopping.Token);
                    await input.CopyToAsync(output, _stopping.Token);
                    break;
                }

                var rest = new byte[parsed.BodyLength + parsed.BulkLength];
                await input.ReadExactlyAsync(rest, _stopping.Token);
                if (toServer && parsed.Opcode == Opcode.Connect && parsed.BodyLength >= 10)
                {
                    // A proxy stays on the path: the client must not hear of the server's local socket, which would
                    // take it around the proxy (the body starts with a ushort version, then the features).
                    var features = BinaryPrimitives.ReadUInt64LittleEndian(rest.AsSpan(2));
                    BinaryPrimitives.WriteUInt64LittleEndian(rest.AsSpan(2), features & ~(ulong)ProtocolFeatures.LocalSocket);
                }

                if (toServer && parsed.Opcode == DropRequestsOf)
                {
                    Dropped.Enqueue(parsed);
                    break;
                }

                if (!toServer && (parsed.Opcode == DropRepliesOf || DropReply?.Invoke(parsed) == true))
                {
                    DroppedReplies.Enqueue(parsed);
                    break;
                }

                if (!toServer && CutReply?.Invoke(parsed) == true)
                {
                    DroppedReplies.Enqueue(parsed);
                    await output.WriteAsync(header, _stopping.Token);
                    await output.WriteAsync(rest.AsMemory(0, parsed.BodyLength + (parsed.BulkLength / 2)), _stopping.Token);
                    break;
                }

                if (parsed.BulkLength > LargeBulk && TakeOne(ref toServer ? ref _requestsToCorrupt : ref _repliesToCorrupt))
                {
                    rest[parsed.BodyLength + (parsed.BulkLength / 2)] ^= 0x5A;
                    Interlocked.Increment(ref toServer ? ref _corruptedRequests : ref _corruptedReplies);
                }

                if (!toServer)
                {
                    Replies.Enqueue(parsed);
                }

                await output.WriteAsync(header, _stopping.Token);
                await output.WriteAsync(rest, _stopping.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            // A close on one side closes the other, as a real middlebox would.
            Shutdown(to);
            Shutdown(from);
        }
    }

    private static bool TakeOne(ref int budget)
    {
        while (true)
        {
            var current = Volatile.Read(ref budget);
            if (current <= 0)
            {
                return false;
            }

            if (current == int.MaxValue || Interlocked.CompareExchange(ref budget, current - 1, current) == current)
            {
                return true;
            }
        }
    }

    private static void Shutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        _listener.Dispose();
        await _acceptLoop;
        foreach (var socket in _sockets)
        {
            Shutdown(socket);
        }

        await Task.WhenAll(_pumps);
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }

        _stopping.Dispose();
    }
}
