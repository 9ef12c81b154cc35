using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Tests.Rpc;

/// <summary>
/// A bare TCP peer that speaks the frame format byte by byte, for tests that send what a well-behaved client
/// never would. Every wait is bounded, so a server that hangs fails the test instead of hanging it.
/// </summary>
internal sealed class RawPeer : IAsyncDisposable
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private readonly Socket _socket;
    private ulong _xid = 1000;

    private RawPeer(Socket socket) => _socket = socket;

    /// <param name="endpoint">The server.</param>
    /// <param name="source">The local address to connect from (another loopback address, 127.0.0.2 and up, is another "host").</param>
    public static async Task<RawPeer> ConnectAsync(IPEndPoint endpoint, IPAddress? source = null)
    {
        var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (source is not null)
        {
            socket.Bind(new IPEndPoint(source, 0));
        }

        using var cts = new CancellationTokenSource(Timeout);
        await socket.ConnectAsync(endpoint, cts.Token);
        return new RawPeer(socket);
    }

    public ulong NextXid() => ++_xid;

    /// <summary>A well-formed header as bytes, for tests to send as is or to spoil.</summary>
    public static byte[] Header(Opcode opcode, ulong xid, int bodyLength, int bulkLength = 0, ulong bulkChecksum = 0, FrameFlags flags = FrameFlags.None)
    {
        var bytes = new byte[FrameHeader.Size];
        new FrameHeader(opcode, flags, 0, xid, bodyLength, bulkLength, bulkChecksum).Write(bytes);
        return bytes;
    }

    /// <summary>A whole request frame: header, body and bulk, with the bulk's true checksum.</summary>
    public static byte[] Frame(Opcode opcode, ulong xid, Action<BodyWriter>? body = null, ReadOnlySpan<byte> bulk = default)
    {
        using var frame = FrameBuffer.Rent();
        body?.Invoke(frame.Body);
        frame.SetHeader(new FrameHeader(opcode, FrameFlags.None, 0, xid, frame.BodyLength, bulk.Length, BulkChecksum.Compute(bulk)));
        return [.. frame.Written.Span, .. bulk];
    }

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        using var cts = new CancellationTokenSource(Timeout);
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None, cts.Token);
            bytes = bytes[sent..];
        }
    }

    /// <summary>Tells the server this side will send nothing more (a FIN), keeping the socket open for reading.</summary>
    public void EndSending() => _socket.Shutdown(SocketShutdown.Send);

    /// <summary>Reads one reply frame: its header, its body and its bulk.</summary>
    public async Task<(FrameHeader Header, byte[] Body, byte[] Bulk)> ReceiveAsync()
    {
        var headerBytes = await ReceiveExactlyAsync(FrameHeader.Size);
        var error = FrameHeader.TryRead(headerBytes, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var header);
        Assert.Equal(FrameError.None, error);
        Assert.True(header.IsReply, $"expected a reply frame, got {header}");
        var body = await ReceiveExactlyAsync(header.BodyLength);
        var bulk = await ReceiveExactlyAsync(header.BulkLength);
        return (header, body, bulk);
    }

    /// <summary>Sends a request and reads the reply, which must answer it (same xid and opcode).</summary>
    public async Task<(FrameHeader Header, byte[] Body, byte[] Bulk)> CallAsync(Opcode opcode, Action<BodyWriter>? body = null)
    {
        var xid = NextXid();
        await SendAsync(Frame(opcode, xid, body));
        var reply = await ReceiveAsync();
        Assert.Equal(xid, reply.Header.Xid);
        Assert.Equal(opcode, reply.Header.Opcode);
        return reply;
    }

    /// <summary>Sends a request with a bulk payload (and its true checksum) and reads the reply.</summary>
    public async Task<(FrameHeader Header, byte[] Body, byte[] Bulk)> CallWithBulkAsync(Opcode opcode, Action<BodyWriter> body, byte[] bulk)
    {
        var xid = NextXid();
        await SendAsync(Frame(opcode, xid, body, bulk));
        var reply = await ReceiveAsync();
        Assert.Equal(xid, reply.Header.Xid);
        return reply;
    }

    /// <summary>The handshake of a client that needs no secret; returns the server's answer.</summary>
    public async Task<ConnectReply> ConnectAsync(string? clientUuid = null)
    {
        var (header, body, _) = await CallAsync(
            Opcode.Connect,
            w => new ConnectRequest(FrameHeader.CurrentVersion, ProtocolFeatures.All, clientUuid ?? "raw-" + Guid.NewGuid().ToString("N")).Write(w));
        Assert.Equal(0, header.Status);
        var reader = new BodyReader(body);
        return ConnectReply.Read(ref reader);
    }

    /// <summary>The message an error reply carries.</summary>
    public static string ErrorMessage(byte[] body)
    {
        var reader = new BodyReader(body);
        return reader.ReadString("message", 4096);
    }

    /// <summary>
    /// Waits until the server closes the connection (a read returns 0 bytes or the connection is reset), dropping
    /// anything it still sends; fails if the connection is still open after <see cref="Timeout"/>.
    /// </summary>
    public async Task AssertClosedByServerAsync()
    {
        using var cts = new CancellationTokenSource(Timeout);
        var buffer = new byte[64 * 1024];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // A reset is a close too.
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"the server kept the connection open for {Timeout.TotalSeconds} s");
        }
    }

    private async Task<byte[]> ReceiveExactlyAsync(int count)
    {
        var buffer = new byte[count];
        using var cts = new CancellationTokenSource(Timeout);
        var done = 0;
        while (done < count)
        {
            int read;
            try
            {
                read = await _socket.ReceiveAsync(buffer.AsMemory(done), SocketFlags.None, cts.Token);
            }
            catch (OperationCanceledException)
            {
                throw new TimeoutException($"no complete frame from the server within {Timeout.TotalSeconds} s ({done} of {count} bytes)");
            }

            if (read == 0)
            {
                throw new EndOfStreamException($"the server closed the connection with {count - done} of {count} bytes still to come");
            }

            done += read;
        }

        return buffer;
    }

    /// <summary>Overwrites a little-endian 16-bit field of a header.</summary>
    public static void Patch16(byte[] header, int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(offset), value);

    /// <summary>Overwrites a little-endian 32-bit field of a header.</summary>
    public static void Patch32(byte[] header, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(offset), value);

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
