using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Lustre.Diagnostics;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;
using Microsoft.Extensions.Logging;

namespace Lustre.Client;

/// <summary>
/// One TCP connection to one server, with many RPCs in flight matched by xid. A dedicated reader loop
/// completes pending calls in whatever order replies arrive and receives each reply's bulk straight into
/// the memory the caller gave. Sends are serialised per connection; nothing is shared across connections.
/// </summary>
internal sealed class RpcConnection : IRpcConnection
{
    private readonly Socket _socket;
    private readonly System.Net.Security.SslStream? _tls;
    private readonly byte[] _channelBinding;
    private readonly FrameReader _reader;
    private readonly FrameSender _sender;
    private readonly RpcConnectionSettings _settings;
    // A plain dictionary under a lock: ConcurrentDictionary allocates a node per call, this reuses its entries.
    private readonly Dictionary<ulong, PendingRpc> _pending = [];
    private readonly Lock _pendingLock = new();
    private readonly ConcurrentBag<PendingRpc> _pool = [];
    private readonly Timer _timeoutTimer;
    private readonly CancellationTokenSource _shutdown = new();
    private Task _readLoop = Task.CompletedTask;
    private volatile LustreException? _fault;

    // The server's local socket, offered at connect to this loopback connection (ConnectAsync moves there).
    private string? _localSocket;

    private RpcConnection(Socket socket, System.Net.Security.SslStream? tls, string target, RpcConnectionSettings settings)
    {
        _socket = socket;
        _tls = tls;
        _channelBinding = Network.Tls.ChannelBinding(tls?.RemoteCertificate);
        _reader = new FrameReader(socket, tls);
        _sender = new FrameSender(socket, tls);
        _settings = settings;
        Target = target;
        var period = TimeSpan.FromMilliseconds(Math.Clamp(settings.RequestTimeout.TotalMilliseconds / 4, 50, 1000));
        _timeoutTimer = new Timer(static s => ((RpcConnection)s!).ExpireTimedOut(), this, period, period);
    }

    /// <summary>The server as it appears in messages ("127.0.0.1:9880").</summary>
    public string Target { get; }

    public ProtocolFeatures Features { get; private set; }

    // Whether bulk checksums were agreed at connect (both sides compute and verify them, or neither does).
    private bool _checksums = true;

    // Whether each request may turn them off (ChecksumPerRequest), and what a request that does not choose gets.
    private bool _perRequest;
    private bool _defaultChecksums = true;

    // The read loop's hasher for a bulk received into several segments (one loop per connection, so one hasher).
    private XxHash3? _scatterHasher;

    /// <summary>The largest bulk the server accepts, as it said at connect (never more than the protocol's limit).</summary>
    public int MaxBulkLength { get; private set; }

    public bool IsHealthy => _fault is null;

    /// <summary>Whether the connection runs over the server's local socket (<see cref="LustreClientOptions.LocalSockets"/>) rather than TCP.</summary>
    public bool IsLocalSocket => _socket.AddressFamily == AddressFamily.Unix;

    /// <summary>Whether the connection runs over TLS (<see cref="LustreClientOptions.Transport"/>).</summary>
    public bool IsEncrypted => _tls is not null;

    public int PendingCount
    {
        get
        {
            lock (_pendingLock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>
    /// Connects and completes the handshake. A server on this host that offers its local socket at connect
    /// (<see cref="ConnectReply.LocalSocket"/>) is reconnected to there, with the whole handshake again, and the
    /// loopback TCP connection closed; if that fails for any reason but the caller's cancellation, the TCP
    /// connection is kept.
    /// </summary>
    public static async Task<RpcConnection> ConnectAsync(EndPoint endpoint, RpcConnectionSettings settings, CancellationToken cancellationToken)
    {
        var target = endpoint.ToString() ?? "server";
        var connection = await ConnectOnceAsync(endpoint, target, settings, cancellationToken).ConfigureAwait(false);
        if (connection._localSocket is not { } local)
        {
            return connection;
        }

        try
        {
            var moved = await ConnectOnceAsync(new UnixDomainSocketEndPoint(local), target, settings, cancellationToken).ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            return moved;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            ClientLog.LocalSocketRefused(settings.Logger, target, ex.Message);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<RpcConnection> ConnectOnceAsync(EndPoint endpoint, string target, RpcConnectionSettings settings, CancellationToken cancellationToken)
    {
        var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.ConnectTimeout);
        RpcConnection? connection = null;
        try
        {
            await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
            System.Net.Security.SslStream? tls = null;
            if (Network.Tls.Wanted(settings.Transport, endpoint))
            {
                try
                {
                    tls = await Network.Tls.ConnectAsync(socket, timeout.Token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
                {
                    throw new LustreException($"{target}: TLS handshake failed ({ex.Message}); the server may not speak TLS (LustreClientOptions.Transport = Plain talks plain TCP)", LustreErrno.EPROTO, isTransient: false, ex);
                }
            }

            connection = new RpcConnection(socket, tls, target, settings);
            await connection.HandshakeAsync(timeout.Token).ConfigureAwait(false);
            connection._readLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
            return connection;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietly(connection, socket).ConfigureAwait(false);
            throw new LustreException($"{target}: no answer to connect within {settings.ConnectTimeout.TotalSeconds:0.#} s.", LustreErrno.ETIMEDOUT, isTransient: true);
        }
        catch (SocketException ex)
        {
            await DisposeQuietly(connection, socket).ConfigureAwait(false);
            throw new LustreException($"{target}: cannot connect: {ex.Message}.", LustreErrno.ECONNREFUSED, isTransient: true, ex);
        }
        catch (Exception ex) when (ex is EndOfStreamException or ProtocolException)
        {
            await DisposeQuietly(connection, socket).ConfigureAwait(false);
            throw new LustreException($"{target}: connect handshake failed: {ex.Message}", LustreErrno.EPROTO, isTransient: true, ex);
        }
        catch
        {
            await DisposeQuietly(connection, socket).ConfigureAwait(false);
            throw;
        }
    }

    private static async ValueTask DisposeQuietly(RpcConnection? connection, Socket socket)
    {
        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
        else
        {
            socket.Dispose();
        }
    }


    /// <summary>Connect, then prove the shared secret if the server asks for it; runs before the reader loop starts.</summary>
    private async Task HandshakeAsync(CancellationToken cancellationToken)
    {
        // Checksums are asked for even when off by default: with ChecksumPerRequest, each request then says whether its
        // bulk has one (NoBulkChecksum), so osc.*.checksums can turn them on and off later. (A server without
        // ChecksumPerRequest would checksum every bulk of the connection.)
        _defaultChecksums = _settings.BulkChecksums ?? !Network.Endpoints.IsLoopback(_socket.RemoteEndPoint);
        var wanted = _settings.LocalSockets ? ProtocolFeatures.All : ProtocolFeatures.All & ~ProtocolFeatures.LocalSocket;
        var connect = new ConnectRequest(FrameHeader.CurrentVersion, wanted, _settings.ClientUuid, _settings.JobId);
        ConnectReply reply;
        using (var frame = FrameBuffer.Rent())
        {
            connect.Write(frame.Body);
            using var raw = await ExchangeDuringHandshakeAsync(Opcode.Connect, frame, cancellationToken).ConfigureAwait(false);
            var reader = raw.Reader;
            reply = ConnectReply.Read(ref reader);
        }

        Features = reply.Features & wanted;
        _checksums = (Features & ProtocolFeatures.BulkChecksumXxh3) != 0;
        _perRequest = _checksums && (Features & ProtocolFeatures.ChecksumPerRequest) != 0;
        MaxBulkLength = Math.Min(reply.MaxBulkLength, ProtocolLimits.MaxBulkLength);
        // Followed only from a TCP connection to this host's loopback: a server elsewhere cannot send a client to a local socket.
        var offered = (Features & ProtocolFeatures.LocalSocket) != 0 && reply.LocalSocket.Length > 0
            && !IsLocalSocket && Network.Endpoints.IsLoopback(_socket.RemoteEndPoint);
        if (!reply.AuthRequired)
        {
            if (_settings.Secret is not null)
            {
                // A client that holds a secret talks only to servers that prove they hold it: one that does not ask may be an impostor.
                throw new UnauthorizedAccessException($"{Target} ({reply.ServerName}) does not ask for the shared secret this client holds, so it cannot prove it is the real server; refused before sending anything.");
            }

            _localSocket = offered ? reply.LocalSocket : null;
            return;
        }

        if (_settings.Secret is null)
        {
            throw new UnauthorizedAccessException($"{Target}: the server requires a shared secret and none is configured (LustreClientOptions.SharedSecret).");
        }

        var clientNonce = System.Security.Cryptography.RandomNumberGenerator.GetBytes(ConnectReply.NonceLength);
        using var authFrame = FrameBuffer.Rent();
        new AuthRequest(AuthProof.Compute(_settings.Secret, reply.Nonce, _settings.ClientUuid, _channelBinding), clientNonce, _settings.KeyName).Write(authFrame.Body);
        using var authReply = await ExchangeDuringHandshakeAsync(Opcode.Auth, authFrame, cancellationToken).ConfigureAwait(false);
        AuthReply proof;
        try
        {
            var reader = authReply.Reader;
            proof = AuthReply.Read(ref reader);
        }
        catch (ProtocolException ex)
        {
            throw new UnauthorizedAccessException($"{Target}: the server accepted this client's proof but sent none of its own ({ex.Message}); refused before sending anything.", ex);
        }

        if (!AuthProof.VerifyServer(_settings.Secret, reply.Nonce, clientNonce, _settings.ClientUuid, proof.ServerProof, _channelBinding))
        {
            throw new UnauthorizedAccessException($"{Target}: the server could not prove it holds the shared secret; refused before sending anything.");
        }

        // Only a server that proved the secret is followed to its local socket, where it must prove it again.
        _localSocket = offered ? reply.LocalSocket : null;
    }

    private async Task<RpcReply> ExchangeDuringHandshakeAsync(Opcode opcode, FrameBuffer frame, CancellationToken cancellationToken)
    {
        var xid = _settings.Xids.Next();
        await _sender.SendAsync(frame, new FrameHeader(opcode, FrameFlags.None, 0, xid, frame.BodyLength, 0, 0), default, cancellationToken).ConfigureAwait(false);
        var (hasFrame, error, header) = await _reader.ReadHeaderAsync(ProtocolLimits.MaxBodyLength, 0, cancellationToken).ConfigureAwait(false);
        if (!hasFrame)
        {
            throw new EndOfStreamException("The server closed the connection during the handshake.");
        }

        if (error != FrameError.None || header.Xid != xid || !header.IsReply)
        {
            throw new ProtocolException($"Unexpected handshake reply ({error}, {header}).");
        }

        var reply = new RpcReply(header.Status, await ReadBodyAsync(header, cancellationToken).ConfigureAwait(false), header.BodyLength, 0);
        if (reply.Status != 0)
        {
            var message = reply.ErrorMessage;
            reply.Dispose();
            ErrorMapping.Throw((LustreErrno)header.Status, message, Target);
        }

        return reply;
    }

    /// <summary>Reads a reply body into a pooled array that the <see cref="RpcReply"/> made from it returns.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<byte[]?> ReadBodyAsync(FrameHeader header, CancellationToken cancellationToken)
    {
        if (header.BodyLength == 0)
        {
            return null;
        }

        var body = ArrayPool<byte>.Shared.Rent(header.BodyLength);
        try
        {
            await _reader.ReadExactlyAsync(body.AsMemory(0, header.BodyLength), cancellationToken).ConfigureAwait(false);
            return body;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(body);
            throw;
        }
    }

    /// <summary>
    /// Sends a request and waits for its reply. <paramref name="frame"/> holds the body (the header is stamped here);
    /// <paramref name="bulkOut"/> is sent after it; the reply's bulk lands in <paramref name="bulkIn"/>.
    /// A transport failure throws a transient <see cref="LustreException"/>; a server status comes back in the reply.
    /// Cancelling abandons the wait, except for a change that was sent (<see cref="OpcodeExtensions.IsWaitedForWhenCancelled"/>),
    /// whose reply is still waited for and returned; a cancelled token sends nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RpcReply> CallAsync(
        Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
    {
        ThrowIfFaulted();
        if (bulkOut.Length > MaxBulkLength || bulkIn.Length > MaxBulkLength)
        {
            // The sender splits bulk at TargetChannel.MaxBulkLength; more would make the server close the connection.
            throw new LustreException(
                $"{Target}: a bulk of {Math.Max(bulkOut.Length, bulkIn.Length)} bytes is over the server's limit of {MaxBulkLength}.", LustreErrno.EINVAL, isTransient: false);
        }

        // A change already sent is waited for (see IsWaitedForWhenCancelled); one not sent yet is not sent.
        var abandonable = !opcode.IsWaitedForWhenCancelled();
        cancellationToken.ThrowIfCancellationRequested();
        if (!_pool.TryTake(out var pending))
        {
            pending = new PendingRpc(this);
        }

        var endToEnd = frame.Flags & FrameFlags.EndToEndVerified;
        var checksummed = _checksums && (!_perRequest || (frame.BulkChecksum ?? _defaultChecksums));
        pending.Arm(xid, bulkIn, Environment.TickCount64 + (long)_settings.RequestTimeout.TotalMilliseconds, verifyBulk: checksummed && endToEnd == 0);
        bool othersInFlight;
        lock (_pendingLock)
        {
            _pending[xid] = pending;
            othersInFlight = _pending.Count > 1;
        }

        var task = pending.Task;
        if (abandonable && cancellationToken.CanBeCanceled)
        {
            pending.Registration = cancellationToken.UnsafeRegister(static (state, token) =>
            {
                var p = (PendingRpc)state!;
                p.Owner.FailPending(p.Xid, new OperationCanceledException(token));
            }, pending);
        }

        var checksum = bulkOut.IsEmpty || !checksummed ? 0 : BulkChecksum.Compute(bulkOut.Span);
        var flags = (resend ? FrameFlags.Resend : FrameFlags.None) | endToEnd | (_checksums && !checksummed ? FrameFlags.NoBulkChecksum : FrameFlags.None);
        // The trace context goes behind the body for this send only: a resend of the frame appends the context current then.
        var bodyEnd = frame.Length;
        if (TraceContext.TryAppendCurrent(frame))
        {
            flags |= FrameFlags.TraceContext;
        }

        var header = new FrameHeader(opcode, flags, 0, xid, frame.BodyLength, bulkOut.Length, checksum);
        try
        {
            await _sender.SendAsync(frame, header, bulkOut, CancellationToken.None, othersInFlight).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            Fault(new LustreException($"{Target}: connection lost while sending {opcode}: {ex.Message}", LustreErrno.ENOTCONN, isTransient: true, ex));
        }
        finally
        {
            frame.TrimTo(bodyEnd);
        }

        return await task.ConfigureAwait(false);
    }

    internal void ReturnPending(PendingRpc pending) => _pool.Add(pending);

    internal void FailPending(ulong xid, Exception exception)
    {
        if (TakePending(xid) is { } pending)
        {
            pending.SetException(exception);
        }
    }

    private PendingRpc? TakePending(ulong xid)
    {
        lock (_pendingLock)
        {
            return _pending.Remove(xid, out var pending) ? pending : null;
        }
    }

    /// <summary>The xids waiting for a reply (all of them, or those past their deadline), copied out of the lock; a list only when there are some.</summary>
    private IReadOnlyList<ulong> PendingXids(long expiredBy = long.MaxValue)
    {
        List<ulong>? xids = null;
        lock (_pendingLock)
        {
            foreach (var (xid, pending) in _pending)
            {
                if (pending.DeadlineTicks <= expiredBy)
                {
                    (xids ??= []).Add(xid);
                }
            }
        }

        return xids ?? (IReadOnlyList<ulong>)[];
    }

    private void ExpireTimedOut()
    {
        foreach (var xid in PendingXids(Environment.TickCount64))
        {
            FailPending(xid, new LustreException(
                $"{Target}: no reply within {_settings.RequestTimeout.TotalSeconds:0.#} s (xid {xid}).", LustreErrno.ETIMEDOUT, isTransient: true));
        }
    }

    private async Task ReadLoopAsync()
    {
        // The call whose bulk is being received: already out of _pending, so a connection lost meanwhile must fail it
        // here (Fault fails only the calls still waiting), and only once nothing writes into its buffers any more.
        PendingRpc? receiving = null;
        RpcReply receivingReply = default;
        try
        {
            while (true)
            {
                var (hasFrame, error, header) = await _reader.ReadHeaderAsync(ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, _shutdown.Token).ConfigureAwait(false);
                if (!hasFrame)
                {
                    throw new EndOfStreamException("the server closed the connection");
                }

                if (error != FrameError.None || !header.IsReply)
                {
                    throw new ProtocolException($"bad reply frame ({error}, {header})");
                }

                var body = await ReadBodyAsync(header, _shutdown.Token).ConfigureAwait(false);
                var reply = new RpcReply(header.Status, body, header.BodyLength, header.BulkLength);
                var pending = TakePending(header.Xid);
                if (header.BulkLength > 0)
                {
                    if (pending is null || pending.BulkDestination.Length < header.BulkLength)
                    {
                        await _reader.SkipAsync(header.BulkLength, _shutdown.Token).ConfigureAwait(false);
                        if (pending is not null)
                        {
                            reply.Dispose();
                            pending.SetException(new LustreException(
                                $"{Target}: reply bulk of {header.BulkLength} bytes is larger than the {pending.BulkDestination.Length} bytes asked for.", LustreErrno.EPROTO, isTransient: false));
                        }

                        continue;
                    }

                    var destination = pending.BulkDestination;
                    (receiving, receivingReply) = (pending, reply);
                    if (destination.Segments is { } segments)
                    {
                        await _reader.ReadSegmentsAsync(segments, header.BulkLength, _shutdown.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await _reader.ReadExactlyAsync(destination.Buffer[..header.BulkLength], _shutdown.Token).ConfigureAwait(false);
                    }

                    receiving = null;
                    if (pending.VerifyBulk && Checksum(destination, header.BulkLength) != header.BulkChecksum)
                    {
                        reply.Dispose();
                        pending.SetException(new BulkChecksumException(Target, header.Xid, header.BulkLength));
                        continue;
                    }
                }

                if (pending is null)
                {
                    reply.Dispose();
                    continue;
                }

                pending.SetResult(reply);
            }
        }
        catch (Exception ex)
        {
            var reason = ex is OperationCanceledException && _shutdown.IsCancellationRequested ? "connection closed by the client" : ex.Message;
            Fault(new LustreException($"{Target}: connection lost: {reason}", LustreErrno.ENOTCONN, isTransient: true, ex));
            if (receiving is not null)
            {
                receivingReply.Dispose();
                receiving.SetException(_fault!);
            }
        }
    }

    /// <summary>The checksum of the first <paramref name="count"/> bytes a reply's bulk filled.</summary>
    private ulong Checksum(ReplyBulk bulk, int count) =>
        bulk.Segments is { } segments
            ? BulkChecksum.Compute(segments, count, _scatterHasher ??= new XxHash3())
            : BulkChecksum.Compute(bulk.Buffer.Span[..count]);

    private void Fault(LustreException exception)
    {
        if (Interlocked.CompareExchange(ref _fault, exception, null) is null)
        {
            _settings.Logger.LogDebug("{Target}: connection faulted: {Reason}", Target, exception.Message);
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (SocketException)
            {
            }
            catch (ObjectDisposedException)
            {
            }
        }

        foreach (var xid in PendingXids())
        {
            FailPending(xid, _fault!);
        }
    }

    private void ThrowIfFaulted()
    {
        if (_fault is { } fault)
        {
            throw new LustreException(fault.Message, fault.Errno, isTransient: true, fault);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _shutdown.Cancel();
        await _timeoutTimer.DisposeAsync().ConfigureAwait(false);
        Fault(new LustreException($"{Target}: connection closed by the client.", LustreErrno.ENOTCONN, isTransient: true));
        try
        {
            await _readLoop.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _socket.Dispose();
        _tls?.Dispose();
        _reader.Dispose();
        _sender.Dispose();
        _shutdown.Dispose();
    }
}
