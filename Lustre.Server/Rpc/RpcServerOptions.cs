using System.Net;
using Lustre.Server.Security;

namespace Lustre.Server.Rpc;

/// <summary>How a listener runs: where, under which name, and whether clients must prove the shared secret.</summary>
internal sealed class RpcServerOptions
{
    public IPEndPoint Endpoint { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>Shown to clients at connect and in logs, e.g. "lustre-OST0000".</summary>
    public string Name { get; init; } = "lustre";

    /// <summary>The shared secret; required for any non-loopback bind, optional on loopback.</summary>
    public byte[]? Secret { get; init; }

    /// <summary>
    /// Named keys with roles (a key file), instead of <see cref="Secret"/>: a client proves one of them, and what it may
    /// do follows the key's role (<see cref="KeyRoles"/>).
    /// </summary>
    public IReadOnlyList<NamedKey>? Keys { get; init; }

    /// <summary>Connections that completed the handshake, at once. Connections still in it do not take these slots.</summary>
    public int MaxConnections { get; init; } = 1024;

    /// <summary>
    /// Also listen on an abstract Unix-domain socket (Linux), offered to clients on this host at connect (default on):
    /// <see cref="RpcServer.LocalSocketName"/>.
    /// </summary>
    public bool LocalSocket { get; init; } = true;

    /// <summary>
    /// Connections still in the handshake (before Connect, or Auth where a secret is set), at once: their own small
    /// budget, so connections that never handshake cannot keep clients that do out of <see cref="MaxConnections"/>.
    /// </summary>
    public int MaxPendingHandshakes { get; init; } = 128;

    /// <summary>Connections in the handshake one address may hold at once.</summary>
    public int MaxPendingHandshakesPerAddress { get; init; } = 8;

    /// <summary>
    /// A handshaken connection with no request for this long, and none running, is closed, its slot freed (a client
    /// reconnects at its next call). Default 15 minutes; <see cref="Timeout.InfiniteTimeSpan"/> keeps them open.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a new connection has to complete the handshake before it is closed.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// Handshaken connections one client address may hold at once (default 256), so one host cannot take every slot of
    /// <see cref="MaxConnections"/>. A client uses a few per server (<c>ConnectionsPerServer</c>, default 2).
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; } = 256;

    public int MaxRequestsInFlightPerConnection { get; init; } = Protocol.ProtocolLimits.MaxRequestsInFlightPerConnection;

    /// <summary>
    /// Bytes of request and reply bulk all connections together may hold at once (default 1 GiB): a request is read
    /// only once its bulk and the bulk its reply will carry fit, so clients that never read their replies cannot grow
    /// the server's memory past this.
    /// </summary>
    public long MemoryBudget { get; init; } = 1L << 30;

    /// <summary>The same bytes one connection may hold at once (default 64 MiB), so a few connections cannot take the whole <see cref="MemoryBudget"/>.</summary>
    public long ConnectionMemoryBudget { get; init; } = 64L << 20;

    /// <summary>A connection whose replies could not be sent for this long (its peer does not read them) is closed, and what it held freed. Default 30 s.</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Plain TCP from peers off this host is refused unless this is set (<c>--allow-plain</c>): traffic that leaves the
    /// host runs TLS 1.3 (clients choose it by default for such servers, <c>LustreClientOptions.Transport</c>).
    /// Loopback peers may always talk plain TCP, unless <see cref="RequireTls"/>.
    /// </summary>
    public bool AllowPlainRemote { get; init; }

    /// <summary>Refuse plain TCP from every peer, loopback included.</summary>
    public bool RequireTls { get; init; }

    /// <summary>Saved replies kept for resends of modifying requests (reply reconstruction).</summary>
    public int ReplyCacheEntries { get; init; } = 8192;
}
