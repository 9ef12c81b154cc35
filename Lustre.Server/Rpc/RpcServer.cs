using System.Net;
using System.Net.Sockets;
using Lustre.IO;
using Lustre.Protocol;
using Microsoft.Extensions.Logging;

namespace Lustre.Server.Rpc;

/// <summary>
/// A TCP listener that serves one or more roles. Each accepted connection gets a <see cref="RpcSession"/>
/// with its own reader loop; a bad peer costs only its own connection. On Linux it also listens on a Unix-domain
/// socket under a random abstract name (<see cref="LocalSocketName"/>, LNet's <c>0@lo</c>): a client that reached it
/// over loopback TCP is told the name at connect and moves there, where the kernel moves bytes without TCP's work.
/// </summary>
internal sealed class RpcServer : IAsyncDisposable
{
    /// <summary>
    /// The send buffer asked for on local sockets: a 4 MiB read's bytes (as much as loopback TCP's autotuning reaches
    /// under the kernel's default <c>tcp_wmem</c>, so a peer that stops reading holds no more kernel memory than there).
    /// </summary>
    private const int LocalSendBuffer = 4 << 20;

    private readonly Lazy<(System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate, byte[] Binding)> _tls;

    private readonly RpcServerOptions _options;
    private readonly IReadOnlyList<IRpcService> _services;
    private readonly ILogger _logger;
    private readonly Socket _listener;
    private readonly Socket? _localListener;
    private readonly CancellationTokenSource _stopping = new();
    private readonly HashSet<RpcSession> _sessions = [];
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Dictionary<IPAddress, int> _pendingPerAddress = [];
    private int _pending;
    private int _admitted;
    private readonly Lock _sessionsLock = new();
    private Task _acceptLoop = Task.CompletedTask;
    private Task _localAcceptLoop = Task.CompletedTask;
    private Task _idleLoop = Task.CompletedTask;
    private RpcDispatcher? _dispatcher;

    /// <summary>The certificate this server presents to TLS clients: self-signed, made at the first TLS connection (its hash is bound by the auth proofs).</summary>
    public System.Security.Cryptography.X509Certificates.X509Certificate2 Certificate => _tls.Value.Certificate;

    /// <summary>SHA-256 of <see cref="Certificate"/>, which the auth proofs of every TLS connection cover (computed once).</summary>
    public byte[] CertificateBinding => _tls.Value.Binding;

    public RpcServer(RpcServerOptions options, IReadOnlyList<IRpcService> services, ILogger logger)
    {
        _options = options;
        _services = services;
        _logger = logger;
        _tls = new(() =>
        {
            var certificate = Network.Tls.CreateServerCertificate(options.Name.Replace(',', ' '));
            return (certificate, Network.Tls.ChannelBinding(certificate));
        });
        if (options.Secret is not null && options.Keys is not null)
        {
            throw new ArgumentException("A server takes one shared secret or a key file of named keys, not both.", nameof(options));
        }

        if (options.Keys is { Count: 0 })
        {
            throw new ArgumentException("The key file holds no keys.", nameof(options));
        }

        if (!IPAddress.IsLoopback(options.Endpoint.Address) && options.Secret is null && options.Keys is null)
        {
            throw new InvalidOperationException(
                $"Refusing to listen on {options.Endpoint} without a shared secret: a non-loopback bind must set one (--secret-file or LUSTRE_SECRET, or --key-file).");
        }

        if (options.Secret is { } secret)
        {
            SharedSecrets.Validate(secret, "The server's shared secret");
        }

        if (options.MemoryBudget < ProtocolLimits.MaxBulkLength || options.ConnectionMemoryBudget < 1 << 20 || options.ConnectionMemoryBudget > options.MemoryBudget)
        {
            throw new ArgumentException(
                $"The memory budget ({options.MemoryBudget} bytes; --memory-budget) must hold at least one largest bulk ({ProtocolLimits.MaxBulkLength} bytes), and a connection's ({options.ConnectionMemoryBudget}) at least 1 MiB and no more than the whole.",
                nameof(options));
        }

        _listener = new Socket(options.Endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (options.LocalSocket && OperatingSystem.IsLinux())
        {
            // Abstract (a leading NUL): no file to leave behind or to guard, and as reachable as the loopback port is,
            // from this network namespace only. The random name cannot be taken before this server binds it.
            LocalSocketName = "\0lustre-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
            _localListener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }

        Name = options.Name;
        ReplyCache = new ReplyCache(options.ReplyCacheEntries);
        Memory = new ByteBudget(options.MemoryBudget);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_listener.LocalEndPoint!;

    /// <summary>
    /// The abstract Unix-domain socket this server also listens on (a leading NUL), offered at connect to clients that
    /// reached it over loopback TCP; null where there is none (not Linux, <see cref="RpcServerOptions.LocalSocket"/>
    /// off, or its bind failed).
    /// </summary>
    public string? LocalSocketName { get; private set; }

    /// <summary>Shown to clients and in logs: the configured name and, once bound, the endpoint (e.g. "lustre MGS@127.0.0.1:9880").</summary>
    public string Name { get; private set; }

    internal RpcServerOptions Options => _options;

    internal ReplyCache ReplyCache { get; }

    /// <summary>The bulk bytes all connections may hold at once (<see cref="RpcServerOptions.MemoryBudget"/>).</summary>
    internal ByteBudget Memory { get; }

    internal ILogger Logger => _logger;

    internal CancellationToken Stopping => _stopping.Token;

    public int SessionCount
    {
        get
        {
            lock (_sessionsLock)
            {
                return _sessions.Count;
            }
        }
    }

    public void Start()
    {
        _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Bind(_options.Endpoint);
        _listener.Listen(512);
        if (_localListener is not null)
        {
            try
            {
                _localListener.Bind(new UnixDomainSocketEndPoint(LocalSocketName!));
                _localListener.Listen(512);
            }
            catch (SocketException ex)
            {
                // Clients stay on TCP; nothing else depends on the local socket.
                ServerLog.NoLocalSocket(_logger, _options.Name, ex.Message);
                _localListener.Dispose();
                LocalSocketName = null;
            }
        }

        Name = $"{_options.Name}@{LocalEndPoint}";
        _dispatcher = new RpcDispatcher(Name, _services);
        // Sessions start without the caller's execution context: an activity current there is no parent of requests.
        using (ExecutionContext.SuppressFlow())
        {
            _acceptLoop = Task.Run(() => AcceptLoopAsync(_listener));
            if (LocalSocketName is not null)
            {
                _localAcceptLoop = Task.Run(() => AcceptLoopAsync(_localListener!));
            }

            _idleLoop = Task.Run(CloseIdleLoopAsync);
        }

        ServerLog.Listening(_logger, Name, LocalEndPoint.ToString(), _options.Secret is not null);
    }

    /// <summary>Routes requests to their target's queue; built at <see cref="Start"/>, once every service is known.</summary>
    internal RpcDispatcher Dispatcher => _dispatcher ?? throw new InvalidOperationException("The server is not started.");

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            // A local socket's peer is on this host: it counts against the loopback address's limits.
            IPAddress address;
            if (socket.AddressFamily == AddressFamily.Unix)
            {
                address = IPAddress.Loopback;

                // A Unix socket's replies in flight are bounded by its send buffer alone (212 KB by default): room for
                // a whole large read lets sendfile hand it over in a few calls (the kernel caps it at wmem_max).
                socket.SendBufferSize = LocalSendBuffer;
            }
            else
            {
                socket.NoDelay = true;
                address = (socket.RemoteEndPoint as IPEndPoint)?.Address ?? IPAddress.None;
            }

            RpcSession session;
            lock (_sessionsLock)
            {
                // A new connection takes a slot of the handshake budget only; the connection slots are for
                // connections that complete the handshake (TryAdmit).
                var pendingFromAddress = _pendingPerAddress.GetValueOrDefault(address);
                if (_pending >= _options.MaxPendingHandshakes || pendingFromAddress >= _options.MaxPendingHandshakesPerAddress)
                {
                    ServerLog.TooManyHandshakes(_logger, Name, socket.RemoteEndPoint?.ToString() ?? "?", _options.MaxPendingHandshakes, _options.MaxPendingHandshakesPerAddress);
                    socket.Dispose();
                    continue;
                }

                _pending++;
                _pendingPerAddress[address] = pendingFromAddress + 1;
                session = new RpcSession(this, socket, address);
                _sessions.Add(session);
            }

            session.Start();
        }
    }

    /// <summary>
    /// Moves a session that completed its handshake from the handshake budget to a connection slot; false when the
    /// server or the session's address already holds as many connections as allowed (the session is refused).
    /// </summary>
    internal bool TryAdmit(RpcSession session)
    {
        lock (_sessionsLock)
        {
            if (session.Admitted || !_sessions.Contains(session))
            {
                return session.Admitted;
            }

            if (_admitted >= _options.MaxConnections)
            {
                ServerLog.TooManyConnections(_logger, Name, session.Peer, _options.MaxConnections);
                return false;
            }

            var fromAddress = _perAddress.GetValueOrDefault(session.Address);
            if (fromAddress >= _options.MaxConnectionsPerAddress)
            {
                ServerLog.TooManyConnectionsFromAddress(_logger, Name, session.Peer, _options.MaxConnectionsPerAddress);
                return false;
            }

            Decrement(_pendingPerAddress, session.Address);
            _pending--;
            _perAddress[session.Address] = fromAddress + 1;
            _admitted++;
            session.Admitted = true;
            return true;
        }
    }

    /// <summary>
    /// Every quarter of the idle or send timeout (the shorter; at least each 100 ms), closes the handshaken sessions
    /// idle that long, and those whose replies could not be sent that long.
    /// </summary>
    private async Task CloseIdleLoopAsync()
    {
        var idleTimeout = _options.IdleTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.MaxValue : _options.IdleTimeout;
        var shortest = Math.Min(idleTimeout.TotalMilliseconds, _options.SendTimeout.TotalMilliseconds);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Max(100, shortest / 4)));
        try
        {
            // Reused at every tick: a sweep that finds nothing allocates nothing (the data path's allocation figures
            // would otherwise count it).
            List<RpcSession> idle = [], stalled = [];
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                lock (_sessionsLock)
                {
                    foreach (var session in _sessions)
                    {
                        if (session.Admitted && session.IdleFor >= idleTimeout)
                        {
                            idle.Add(session);
                        }

                        if (session.SendStalledFor >= _options.SendTimeout)
                        {
                            stalled.Add(session);
                        }
                    }
                }

                foreach (var session in idle)
                {
                    session.CloseIdle();
                }

                foreach (var session in stalled)
                {
                    session.CloseStalled();
                }

                idle.Clear();
                stalled.Clear();
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal void Remove(RpcSession session)
    {
        lock (_sessionsLock)
        {
            if (_sessions.Remove(session))
            {
                if (session.Admitted)
                {
                    Decrement(_perAddress, session.Address);
                    _admitted--;
                }
                else
                {
                    Decrement(_pendingPerAddress, session.Address);
                    _pending--;
                }
            }
        }
    }

    private static void Decrement(Dictionary<IPAddress, int> counts, IPAddress address)
    {
        var left = counts[address] - 1;
        if (left == 0)
        {
            counts.Remove(address);
        }
        else
        {
            counts[address] = left;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        _listener.Dispose();
        _localListener?.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        await _localAcceptLoop.ConfigureAwait(false);
        await _idleLoop.ConfigureAwait(false);
        RpcSession[] sessions;
        lock (_sessionsLock)
        {
            sessions = [.. _sessions];
        }

        foreach (var session in sessions)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        if (_dispatcher is not null)
        {
            await _dispatcher.DisposeAsync().ConfigureAwait(false);
        }

        if (_tls.IsValueCreated)
        {
            _tls.Value.Certificate.Dispose();
        }

        _stopping.Dispose();
    }
}
