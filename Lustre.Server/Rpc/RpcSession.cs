using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Lustre.IO;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Diagnostics;
using Lustre.Server.Security;
using Lustre.Threading;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Server.Rpc;

/// <summary>
/// One client connection on the server: reads frames, enforces the handshake (connect, then the secret
/// proof when required, before any other opcode), and runs requests concurrently up to a per-connection
/// bound. A frame that breaks the framing closes this connection only; a bad body gets an error reply.
/// </summary>
internal sealed class RpcSession : IAsyncDisposable
{
    private readonly RpcServer _server;
    private readonly Socket _socket;
    private FrameReader _reader;
    private FrameSender _sender;
    private System.Net.Security.SslStream? _tls;
    private byte[] _channelBinding = [];
    private bool _plainRefused;
    private long _lastRequest = Environment.TickCount64;
    private int _closing;
    private readonly ByteBudget _memory;
    private int _sending;
    private long _sendProgress = Environment.TickCount64;
    private readonly SemaphoreSlim _inFlight;
    private readonly ObjectPool<RpcRequest> _requests;
    private readonly string _peer;
    private readonly bool _authRequired;
    private Task _loop = Task.CompletedTask;
    private byte[]? _nonce;
    private string? _clientUuid;
    private string _jobId = string.Empty;
    private bool _authenticated;

    // The key this connection proved, when the server holds named keys: what it may do follows its role.
    private NamedKey? _key;
    private bool _checksums = true;
    private bool _perRequest;

    public RpcSession(RpcServer server, Socket socket, IPAddress address)
    {
        _server = server;
        Address = address;
        _socket = socket;
        _reader = new FrameReader(socket);
        _sender = new FrameSender(socket);
        _inFlight = new SemaphoreSlim(server.Options.MaxRequestsInFlightPerConnection);
        _requests = RpcRequest.CreatePool(server.Options.MaxRequestsInFlightPerConnection);
        _memory = new ByteBudget(server.Options.ConnectionMemoryBudget);
        _peer = IsLocalSocket ? "local socket" : socket.RemoteEndPoint?.ToString() ?? "?";

        // Loopback peers need the secret only when one is configured; any other peer always does.
        _authRequired = server.Options.Secret is not null || server.Options.Keys is not null;
    }

    /// <summary>Largest body accepted before the handshake completes (Connect and Auth are far smaller).</summary>
    private const int MaxHandshakeBodyLength = 1024;

    /// <summary>The peer's address, counted against the per-address connection limit.</summary>
    public IPAddress Address { get; }

    /// <summary>The peer as "address:port", for logs.</summary>
    public string Peer => _peer;

    /// <summary>Completed the handshake and holds a connection slot (<see cref="RpcServer.TryAdmit"/>).</summary>
    public bool Admitted { get; set; }

    /// <summary>How long since the last request arrived or finished; zero while any request is running.</summary>
    public TimeSpan IdleFor => _inFlight.CurrentCount < _server.Options.MaxRequestsInFlightPerConnection
        ? TimeSpan.Zero
        : TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastRequest));

    /// <summary>How long replies have been waiting to go out without one finishing; zero while none waits.</summary>
    public TimeSpan SendStalledFor => Volatile.Read(ref _sending) == 0
        ? TimeSpan.Zero
        : TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _sendProgress));

    /// <summary>
    /// Closes a connection whose peer does not read its replies (<see cref="RpcServerOptions.SendTimeout"/>): the
    /// replies waiting to go out fail, and the memory they held is freed.
    /// </summary>
    public void CloseStalled()
    {
        if (CloseOnce())
        {
            ServerLog.ClosedStalled(_server.Logger, _server.Name, _peer, _server.Options.SendTimeout.TotalSeconds);

            // A send blocked on a full socket buffer ends only when the socket goes.
            _socket.Dispose();
        }
    }

    /// <summary>Closes an idle connection once: the reader loop ends and the slot is freed; the client reconnects when it needs to.</summary>
    public void CloseIdle()
    {
        if (CloseOnce())
        {
            ServerLog.ClosedIdle(_server.Logger, _server.Name, _peer, _server.Options.IdleTimeout.TotalSeconds);
        }
    }

    /// <summary>Shuts the socket down, the first time only (the reader loop then ends and frees the slot); false after that.</summary>
    private bool CloseOnce()
    {
        if (Interlocked.Exchange(ref _closing, 1) != 0)
        {
            return false;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        return true;
    }

    private bool IsAdmitted => _clientUuid is not null && (!_authRequired || _authenticated);

    public void Start()
    {
        _loop = Task.Run(RunAsync);
        _ = CloseIfNoHandshakeAsync();
    }

    private async Task CloseIfNoHandshakeAsync()
    {
        try
        {
            await Task.Delay(_server.Options.HandshakeTimeout, _server.Stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        if (!IsAdmitted)
        {
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"no handshake within {_server.Options.HandshakeTimeout.TotalSeconds:0.#} s");
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>
    /// TLS when the peer's first byte opens a TLS handshake, else plain TCP (refused at Connect from a peer off this
    /// host unless plain is allowed). False when the peer went away or its TLS handshake failed.
    /// </summary>
    private async Task<bool> StartTransportAsync(CancellationToken stopping)
    {
        var first = new byte[1];
        if (await _socket.ReceiveAsync(first, SocketFlags.Peek, stopping).ConfigureAwait(false) == 0)
        {
            return false;
        }

        if (first[0] != Network.Tls.HandshakeRecord)
        {
            _plainRefused = _server.Options.RequireTls || (!_server.Options.AllowPlainRemote && !Network.Endpoints.IsLoopback(Address));
            return true;
        }

        try
        {
            _tls = await Network.Tls.AcceptAsync(_socket, _server.Certificate, stopping).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
        {
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"TLS handshake failed: {ex.Message}");
            return false;
        }

        _channelBinding = _server.CertificateBinding;
        _reader.Dispose();
        _sender.Dispose();
        _reader = new FrameReader(_socket, _tls);
        _sender = new FrameSender(_socket, _tls);
        return true;
    }

    private async Task RunAsync()
    {
        var stopping = _server.Stopping;
        // Closing because the peer is done or broke the framing: requests already running still answer whole.
        // Only a transport failure (the replies could not be sent anyway) skips that.
        var graceful = true;
        try
        {
            if (!await StartTransportAsync(stopping).ConfigureAwait(false))
            {
                return;
            }

            while (!stopping.IsCancellationRequested)
            {
                if (!_reader.HasHeader)
                {
                    // About to wait for the client: the replies held back for the run of requests just read go out.
                    _sender.SendHeld();
                }

                var (hasFrame, error, header) = await _reader.ReadHeaderAsync(ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, stopping).ConfigureAwait(false);
                Volatile.Write(ref _lastRequest, Environment.TickCount64);
                if (!hasFrame)
                {
                    return;
                }

                if (error != FrameError.None)
                {
                    ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"bad frame header: {Describe(error)}");
                    return;
                }

                if (header.IsReply)
                {
                    ServerLog.BadPeer(_server.Logger, _server.Name, _peer, "a reply frame sent to a server");
                    return;
                }

                if (!IsAdmitted && (header.BulkLength > 0 || header.BodyLength > MaxHandshakeBodyLength))
                {
                    // Nothing unauthenticated gets the server to set memory aside: refuse before reading.
                    ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"{header.Opcode} with {header.BodyLength}+{header.BulkLength} bytes before the handshake completed");
                    return;
                }

                if (!_reader.HasBuffered(header.BodyLength + header.BulkLength))
                {
                    _sender.SendHeld();
                }

                var body = await ReadPooledAsync(header.BodyLength, ArrayPool<byte>.Shared, stopping).ConfigureAwait(false);

                // The bulk this request brings and the most its reply can carry are set aside first: past the budget,
                // this connection stops reading (TCP pushes back) until replies go out.
                var charge = IsAdmitted ? header.BulkLength + _server.Dispatcher.ReplyBulkBytes(header.Opcode, body.AsSpan(0, header.BodyLength)) : 0;
                var request = RpcRequest.Rent(_requests, header, body, _clientUuid ?? string.Empty, ReplyBulkChecksummed(header), _key, _jobId, PlainLocalSocket);
                try
                {
                    if (charge > 0)
                    {
                        charge = Math.Min(charge, Math.Min(_memory.Capacity, _server.Memory.Capacity));
                        await WhenReady(_memory.AcquireAsync(charge, stopping)).ConfigureAwait(false);
                        try
                        {
                            await WhenReady(_server.Memory.AcquireAsync(charge, stopping)).ConfigureAwait(false);
                        }
                        catch
                        {
                            _memory.Release(charge);
                            throw;
                        }

                        request.Charge(_memory, _server.Memory, charge);
                    }

                    request.SetBulk(await ReadPooledAsync(header.BulkLength, BulkPool.Shared, stopping).ConfigureAwait(false));
                }
                catch
                {
                    request.Release();
                    throw;
                }

                if (!await AdmitAsync(request).ConfigureAwait(false))
                {
                    request.Release();
                    return;
                }
            }
        }
        catch (EndOfStreamException ex)
        {
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, ex.Message);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException or IOException)
        {
            // The peer went away or the server is stopping.
            graceful = false;
        }
        finally
        {
            // Requests still running answer whole: their held replies go too.
            _sender.SendHeld();
            await CloseAsync(graceful).ConfigureAwait(false);
        }
    }

    /// <summary>Before this loop waits on <paramref name="pending"/>, the replies it held back go out (they may be what frees it).</summary>
    private Task WhenReady(Task pending)
    {
        if (!pending.IsCompleted)
        {
            _sender.SendHeld();
        }

        return pending;
    }

    /// <inheritdoc cref="WhenReady(Task)"/>
    private ValueTask WhenReady(ValueTask pending)
    {
        if (!pending.IsCompleted)
        {
            _sender.SendHeld();
        }

        return pending;
    }

    private static string Describe(FrameError error) => error switch
    {
        FrameError.BadMagic => "wrong magic",
        FrameError.BadVersion => "unsupported protocol version",
        FrameError.BodyTooLarge => $"body length over the limit of {ProtocolLimits.MaxBodyLength} bytes",
        FrameError.BulkTooLarge => $"bulk length over the limit of {ProtocolLimits.MaxBulkLength} bytes",
        FrameError.ReservedNotZero => "reserved header field not zero",
        _ => error.ToString(),
    };

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<byte[]?> ReadPooledAsync(int length, ArrayPool<byte> pool, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            return null;
        }

        var buffer = pool.Rent(length);
        try
        {
            await _reader.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            return buffer;
        }
        catch
        {
            pool.Return(buffer);
            throw;
        }
    }

    /// <summary>Handles the handshake inline and starts everything else concurrently. False closes the connection.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<bool> AdmitAsync(RpcRequest request)
    {
        var header = request.Header;
        if (_clientUuid is null)
        {
            if (header.Opcode != Opcode.Connect)
            {
                await ReplyAsync(header, RpcResponse.Error(LustreErrno.EPROTO, $"{header.Opcode} before connect: the first request must be Connect")).ConfigureAwait(false);
                ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"{header.Opcode} before connect");
                return false;
            }

            return await ConnectAsync(request).ConfigureAwait(false);
        }

        if (_authRequired && !_authenticated)
        {
            if (header.Opcode != Opcode.Auth)
            {
                await ReplyAsync(header, RpcResponse.Error(LustreErrno.EACCES, $"{header.Opcode} refused: authenticate first")).ConfigureAwait(false);
                ServerLog.AuthFailed(_server.Logger, _server.Name, _clientUuid, _peer);
                return false;
            }

            return await AuthenticateAsync(request).ConfigureAwait(false);
        }

        if (_key is { } key && KeyRoles.Needed(header.Opcode) is { } needed && key.Role != needed)
        {
            // Named keys: a client key cannot re-point or deactivate a target, back up the MDT or destroy objects.
            await ReplyAsync(header, RpcResponse.Error(LustreErrno.EACCES, $"{header.Opcode} needs {(needed == KeyRole.Admin ? "an admin" : "a server")} key; this connection proved {key.Role.ToString().ToLowerInvariant()} key '{key.Name}'")).ConfigureAwait(false);
            ServerLog.RoleRefused(_server.Logger, _server.Name, header.Opcode.ToString(), key.Name, _peer);
            request.Release();
            return true;
        }

        if (request.MalformedTraceContext)
        {
            await ReplyAsync(header, RpcResponse.Error(LustreErrno.EPROTO, $"trace context flag on a body of {header.BodyLength} bytes, fewer than the context's {TraceContext.Size}")).ConfigureAwait(false);
            request.Release();
            return true;
        }

        if (header.BulkLength > 0 && Checksummed(header) && BulkChecksum.Compute(request.Bulk.Span) != header.BulkChecksum)
        {
            // Never touch storage with bytes that do not match what the client computed; the client resends.
            await ReplyAsync(header, RpcResponse.Error(LustreErrno.EBADMSG, $"bulk checksum mismatch on {header.BulkLength} bytes; data discarded")).ConfigureAwait(false);
            request.Release();
            return true;
        }

        await WhenReady(_inFlight.WaitAsync(_server.Stopping)).ConfigureAwait(false);
        var dispatcher = _server.Dispatcher;
        request.Session = this;
        request.AdmittedAt = Stopwatch.GetTimestamp();
        (request.Service, request.Handler) = dispatcher.Route(header.Opcode);
        var queue = request.Target = dispatcher.TargetOf(request);
        if (RpcDispatcher.RunsInline(request))
        {
            // Cannot block: runs here until its first wait, without the cost of a queue hop. When more requests have
            // arrived already, its reply waits for theirs, and they leave in one send (before this loop next waits).
            var hold = _reader.HasHeader;
            if (hold)
            {
                _sender.HoldSends();
            }

            try
            {
                Detached.Run(ProcessAsync(request));
            }
            finally
            {
                if (hold)
                {
                    _sender.EndHold();
                }
            }

            return true;
        }

        try
        {
            // A full queue stops this loop, and so this connection's reads: TCP pushes back on the client.
            await WhenReady(queue.EnqueueAsync(request, _server.Stopping)).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            request.Release();
            _inFlight.Release();
            throw;
        }

        return true;
    }

    private async ValueTask<bool> ConnectAsync(RpcRequest request)
    {
        ConnectRequest connect;
        try
        {
            var reader = request.Reader;
            connect = ConnectRequest.Read(ref reader);
        }
        catch (ProtocolException ex)
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EPROTO, ex.Message)).ConfigureAwait(false);
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, ex.Message);
            return false;
        }
        finally
        {
            request.Release();
        }

        if (_plainRefused)
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EACCES, _server.Options.RequireTls
                ? "this server requires TLS from every client (LustreClientOptions.Transport = Tls)"
                : "this server requires TLS from clients off its host (LustreClientOptions.Transport = Auto or Tls; servers take --allow-plain to accept plain TCP)")).ConfigureAwait(false);
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, "plain TCP refused: TLS required");
            return false;
        }

        if (connect.Version != FrameHeader.CurrentVersion)
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EPROTO, $"protocol version {connect.Version} is not supported (server speaks {FrameHeader.CurrentVersion})")).ConfigureAwait(false);
            return false;
        }

        if (connect.ClientUuid.Length == 0)
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EPROTO, "connect carries an empty client uuid")).ConfigureAwait(false);
            return false;
        }

        if (!_authRequired && !_server.TryAdmit(this))
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EBUSY, "the server holds as many connections as it allows (from this address, or in all); try again later")).ConfigureAwait(false);
            return false;
        }

        _clientUuid = connect.ClientUuid;
        _jobId = connect.JobId;
        _nonce = RandomNumberGenerator.GetBytes(ConnectReply.NonceLength);
        var agreed = connect.Features & ProtocolFeatures.All;
        _checksums = (agreed & ProtocolFeatures.BulkChecksumXxh3) != 0;
        _perRequest = _checksums && (agreed & ProtocolFeatures.ChecksumPerRequest) != 0;
        // The local socket is offered to a client on this host's loopback that asked for it, never to one off the host.
        var local = (agreed & ProtocolFeatures.LocalSocket) != 0 && !IsLocalSocket
            && Network.Endpoints.IsLoopback(Address) && _server.LocalSocketName is { } name ? name : string.Empty;
        var reply = new ConnectReply(FrameHeader.CurrentVersion, agreed, _nonce, _authRequired, ProtocolLimits.MaxBulkLength, _server.Name, local);
        var body = FrameBuffer.Rent();
        reply.Write(body.Body);
        await ReplyAsync(request.Header, RpcResponse.Ok(body)).ConfigureAwait(false);
        return true;
    }

    private async ValueTask<bool> AuthenticateAsync(RpcRequest request)
    {
        bool valid;
        byte[] clientNonce = [];
        byte[]? secret = null;
        try
        {
            var reader = request.Reader;
            var auth = AuthRequest.Read(ref reader);

            // The named key the client says it holds, or the one shared secret (no name).
            _key = _server.Options.Keys?.FirstOrDefault(k => k.Name == auth.KeyName);
            secret = _server.Options.Keys is null ? (auth.KeyName.Length == 0 ? _server.Options.Secret : null) : _key?.Secret;
            valid = secret is not null && AuthProof.Verify(secret, _nonce, _clientUuid!, auth.Proof, _channelBinding);
            clientNonce = auth.ClientNonce;
        }
        catch (ProtocolException)
        {
            valid = false;
        }
        finally
        {
            request.Release();
        }

        if (!valid)
        {
            ServerLog.AuthFailed(_server.Logger, _server.Name, _clientUuid!, _peer);
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EACCES, "authentication failed: wrong shared secret, or no key of that name")).ConfigureAwait(false);
            return false;
        }

        if (!_server.TryAdmit(this))
        {
            await ReplyAsync(request.Header, RpcResponse.Error(LustreErrno.EBUSY, "the server holds as many connections as it allows (from this address, or in all); try again later")).ConfigureAwait(false);
            return false;
        }

        _authenticated = true;

        // Mutual: this server proves it holds the secret too, over the client's nonce.
        var body = FrameBuffer.Rent(64);
        new AuthReply(AuthProof.ComputeServer(secret!, _nonce, clientNonce, _clientUuid!, _channelBinding)).Write(body.Body);
        await ReplyAsync(request.Header, RpcResponse.Ok(body)).ConfigureAwait(false);
        return true;
    }

    /// <summary>Answers one admitted request: from the reply cache for a resend, else from its service. Never throws.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    internal async ValueTask ProcessAsync(RpcRequest request)
    {
        var header = request.Header;
        var target = request.Target?.Name ?? string.Empty;
        using var activity = ServerDiagnostics.StartRequest(request, target);
        var status = 0;
        var replyBulk = -1;
        try
        {
            var modifying = header.Opcode.IsModifying();
            if (modifying && (header.Flags & FrameFlags.Resend) != 0 && _server.ReplyCache.TryGet(request.ClientUuid, header.Xid, out var saved))
            {
                var savedBody = FrameBuffer.Rent(saved.Body.Length + FrameHeader.Size);
                savedBody.Append(saved.Body);
                status = saved.Status;
                await SendAsync(header, saved.Status, savedBody, default).ConfigureAwait(false);
                return;
            }

            var response = await DispatchAsync(request).ConfigureAwait(false);
            status = response.Status;
            replyBulk = response.BulkLength;
            if (modifying && !response.Unrecorded)
            {
                var bodyBytes = response.Body is null ? [] : response.Body.Written[FrameHeader.Size..].ToArray();
                _server.ReplyCache.Add(request.ClientUuid, header.Xid, new SavedReply(response.Status, bodyBytes));
            }

            await ReplyAsync(header, response).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException or OperationCanceledException)
        {
            // The connection is gone; the reader loop closes the session.
            activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
            activity?.AddException(ex);
        }
        finally
        {
            Record(request, target, status, activity);
            if (status == 0 && replyBulk >= 0)
            {
                // Not a resend answered from the reply cache: that work was counted the first time.
                request.Service?.Account(request, replyBulk, Stopwatch.GetElapsedTime(request.AdmittedAt));
            }

            request.Release();
            Volatile.Write(ref _lastRequest, Environment.TickCount64);
            _inFlight.Release();
        }
    }

    private static void Record(RpcRequest request, string target, int status, Activity? activity)
    {
        var opcode = ServerDiagnostics.OperationName(request.Opcode);
        ServerDiagnostics.Requests.Add(1, new KeyValuePair<string, object?>(ServerDiagnostics.OpcodeTag, opcode), new KeyValuePair<string, object?>(ServerDiagnostics.TargetTag, target));
        if (ServerDiagnostics.RequestDuration.Enabled)
        {
            ServerDiagnostics.RequestDuration.Record(Stopwatch.GetElapsedTime(request.AdmittedAt).TotalSeconds, new KeyValuePair<string, object?>(ServerDiagnostics.OpcodeTag, opcode));
        }

        if (status != 0 && activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, ((LustreErrno)status).ToString());
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> DispatchAsync(RpcRequest request)
    {
        if (request.Opcode == Opcode.Ping)
        {
            // Every role answers Ping: the cheapest proof the connection and the server are alive.
            return RpcResponse.Ok();
        }

        if (request.Handler is not { } handler)
        {
            return RpcResponse.Error(LustreErrno.ENOSYS, $"unknown opcode {(ushort)request.Opcode} for {_server.Name}");
        }

        try
        {
            return await handler(request, _server.Stopping).ConfigureAwait(false);
        }
        catch (RpcStatusException ex)
        {
            ServerLog.ErrorReply(_server.Logger, _server.Name, request.Opcode.ToString(), request.ClientUuid, ex.Errno.ToString(), ex.Message);
            return RpcResponse.Error(ex.Errno, ex.Message);
        }
        catch (ProtocolException ex)
        {
            ServerLog.BadPeer(_server.Logger, _server.Name, _peer, $"malformed {request.Opcode} body: {ex.Message}");
            return RpcResponse.Error(LustreErrno.EPROTO, $"malformed {request.Opcode} request: {ex.Message}");
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ServerLog.HandlerFailed(_server.Logger, _server.Name, request.Opcode.ToString(), ex);
            return RpcResponse.Error(LustreErrno.EIO, $"{request.Opcode} failed on {_server.Name}: {ex.Message}");
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask ReplyAsync(FrameHeader request, RpcResponse response)
    {
        try
        {
            await SendAsync(request, response.Status, response.Body ?? FrameBuffer.Rent(), response.Bulk).ConfigureAwait(false);
        }
        finally
        {
            if (response.PooledBulk is { } bulk)
            {
                BulkPool.Shared.Return(bulk);
            }

            ((IDisposable?)response.BulkOwner)?.Dispose();
        }
    }

    /// <summary>Sends one reply; while any waits to go out, <see cref="SendStalledFor"/> counts from the last one that went.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask SendAsync(FrameHeader request, int status, FrameBuffer body, ReadOnlyMemory<byte> bulk)
    {
        if (Interlocked.Increment(ref _sending) == 1)
        {
            Volatile.Write(ref _sendProgress, Environment.TickCount64);
        }

        using (body)
        {
            try
            {
                // A client that verifies the bytes end to end (EndToEndVerified) needs no per-transfer checksum.
                var checksum = bulk.IsEmpty || !ReplyBulkChecksummed(request) ? 0 : BulkChecksum.Compute(bulk.Span);
                var header = new FrameHeader(request.Opcode, FrameFlags.Reply | (request.Flags & FrameFlags.EndToEndVerified), status, request.Xid, body.BodyLength, bulk.Length, checksum);
                await _sender.SendAsync(body, header, bulk, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                Volatile.Write(ref _sendProgress, Environment.TickCount64);
                Interlocked.Decrement(ref _sending);
            }
        }
    }

    /// <summary>Whether the connection came through the server's local socket (<see cref="RpcServer.LocalSocketName"/>), not TCP.</summary>
    private bool IsLocalSocket => _socket.AddressFamily == AddressFamily.Unix;

    /// <summary>Whether this is a local socket without TLS: there a reply's bulk may go straight from a file (<see cref="RpcRequest.ReplyBulkFromFile"/>).</summary>
    private bool PlainLocalSocket => _tls is null && IsLocalSocket;

    /// <summary>
    /// Whether the reply to <paramref name="request"/> carries a bulk checksum: the connection agreed to them and the
    /// client does not verify this reply end to end (<see cref="FrameFlags.EndToEndVerified"/>).
    /// </summary>
    private bool ReplyBulkChecksummed(FrameHeader request) => Checksummed(request) && (request.Flags & FrameFlags.EndToEndVerified) == 0;

    /// <summary>
    /// Whether the request's bulk, and its reply's, carry checksums: the connection agreed to them, and the request did
    /// not turn them off (<see cref="FrameFlags.NoBulkChecksum"/>, honoured where <c>ChecksumPerRequest</c> was agreed).
    /// </summary>
    private bool Checksummed(FrameHeader request) => _checksums && !(_perRequest && (request.Flags & FrameFlags.NoBulkChecksum) != 0);

    private async ValueTask CloseAsync(bool graceful)
    {
        if (graceful)
        {
            // Replies to requests already running go out whole before the close (a half-closed peer still reads), all of
            // them within one send timeout: a request that waits on a busy disk (a group commit behind another client's
            // fsync) can take seconds, and a reply cut halfway reads to the client as a broken server.
            await WaitForRequestsInFlightAsync(_server.Options.SendTimeout).ConfigureAwait(false);
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        if (!graceful)
        {
            // Let requests already running finish their replies (or fail on the closed socket) before buffers go.
            await WaitForRequestsInFlightAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        _socket.Dispose();
        _tls?.Dispose();
        _reader.Dispose();
        _sender.Dispose();
        _server.Remove(this);
    }

    /// <summary>Waits until no request of this connection runs, or <paramref name="limit"/> has passed (then the rest are left to fail on the closed socket).</summary>
    private async ValueTask WaitForRequestsInFlightAsync(TimeSpan limit)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < _server.Options.MaxRequestsInFlightPerConnection; i++)
        {
            var left = limit - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero || !await _inFlight.WaitAsync(left).ConfigureAwait(false))
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }

        await _loop.ConfigureAwait(false);
    }

    public override string ToString() => $"{_clientUuid ?? "?"}@{_peer}";

    internal EndPoint? RemoteEndPoint => _socket.RemoteEndPoint;
}
