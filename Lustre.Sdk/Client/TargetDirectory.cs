using System.Net;
using Lustre.Network;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>
/// Where every target is: the configuration fetched from the MGS (any of several MGS addresses), and one
/// <see cref="RpcClient"/> per server address, shared by all targets that server hosts.
/// </summary>
internal sealed class TargetDirectory : IAsyncDisposable
{
    private readonly IReadOnlyList<IPEndPoint> _mgs;
    private readonly RpcConnectionSettings _settings;
    private readonly int _connectionsPerServer;
    private readonly int _maxAttempts;
    private readonly Dictionary<string, RpcClient> _clients = [];
    private readonly Dictionary<(TargetKind Kind, int Index), RpcClient> _byTarget = [];
    private FilesystemConfig? _byTargetConfig;
    private readonly Lock _lock = new();
    private volatile FilesystemConfig? _config;

    public TargetDirectory(IReadOnlyList<IPEndPoint> mgs, RpcConnectionSettings settings, int connectionsPerServer, int maxAttempts = 4)
    {
        _maxAttempts = maxAttempts;
        ArgumentOutOfRangeException.ThrowIfZero(mgs.Count);
        _mgs = mgs;
        _settings = settings;
        _connectionsPerServer = connectionsPerServer;
    }

    public RpcConnectionSettings Settings => _settings;

    public FilesystemConfig Config => _config ?? throw new InvalidOperationException("The configuration has not been fetched from the MGS yet.");

    public bool HasConfig => _config is not null;

    /// <summary>Fetches the configuration, trying each MGS address in turn.</summary>
    public async Task<FilesystemConfig> RefreshAsync(CancellationToken cancellationToken)
    {
        LustreException? last = null;
        foreach (var endpoint in _mgs)
        {
            try
            {
                using var frame = new FrameBuffer();
                using var reply = await ClientFor(endpoint).CallAsync(Opcode.MgsGetConfig, frame, default, default, cancellationToken).ConfigureAwait(false);
                ThrowIfError(reply, "MGS " + endpoint);
                var reader = reply.Reader;
                var config = FilesystemConfig.Read(ref reader);
                _config = config;
                return config;
            }
            catch (LustreException ex) when (ex.IsTransient)
            {
                last = ex;
            }
        }

        throw new LustreException($"No MGS answered ({string.Join(", ", _mgs)}): {last?.Message}", LustreErrno.ECONNREFUSED, isTransient: true, last);
    }

    /// <summary>Registers a target with the MGS (servers at start).</summary>
    public async Task<FilesystemConfig> RegisterAsync(TargetRecord target, CancellationToken cancellationToken)
    {
        using var frame = new FrameBuffer();
        new RegisterTargetRequest(target).Write(frame.Body);
        using var reply = await ClientFor(_mgs[0]).CallAsync(Opcode.MgsRegisterTarget, frame, default, default, cancellationToken).ConfigureAwait(false);
        ThrowIfError(reply, "MGS " + _mgs[0]);
        var reader = reply.Reader;
        var config = FilesystemConfig.Read(ref reader);
        _config = config;
        return config;
    }

    public RpcClient Mgs => ClientFor(_mgs[0]);

    /// <summary>The client for the MDT (index 0).</summary>
    public RpcClient Mds => ClientForTarget(TargetKind.Mdt, 0);

    public RpcClient Ost(int index) => ClientForTarget(TargetKind.Ost, index);

    public TargetRecord Target(TargetKind kind, int index)
    {
        foreach (var target in Config.Targets)
        {
            if (target.Kind == kind && target.Index == index)
            {
                return target;
            }
        }

        throw new LustreException($"{kind} {index} is not in the filesystem configuration of '{Config.FsName}'.", LustreErrno.ENOENT, isTransient: true);
    }

    /// <summary>The client of the server that holds a target, by the configuration as last fetched.</summary>
    /// <summary>
    /// The client for a target's current address. Called for every RPC, so the answer is cached per target until the
    /// configuration is replaced: no scan of the target list, address parsing or string formatting on the hot path.
    /// </summary>
    public RpcClient ClientForTarget(TargetKind kind, int index)
    {
        var config = Config;
        lock (_lock)
        {
            if (!ReferenceEquals(_byTargetConfig, config))
            {
                _byTarget.Clear();
                _byTargetConfig = config;
            }

            if (_byTarget.TryGetValue((kind, index), out var cached))
            {
                return cached;
            }
        }

        var client = ClientFor(Endpoints.Parse(Target(kind, index).Address, $"{kind} {index} address"));
        lock (_lock)
        {
            if (ReferenceEquals(_byTargetConfig, config))
            {
                _byTarget[(kind, index)] = client;
            }
        }

        return client;
    }

    public RpcClient ClientFor(IPEndPoint endpoint)
    {
        var key = endpoint.ToString();
        lock (_lock)
        {
            if (!_clients.TryGetValue(key, out var client))
            {
                client = new RpcClient(endpoint, _settings, _connectionsPerServer, _maxAttempts);
                _clients[key] = client;
            }

            return client;
        }
    }

    public static void ThrowIfError(in RpcReply reply, string target)
    {
        if (reply.Status != 0)
        {
            ErrorMapping.Throw((LustreErrno)reply.Status, reply.ErrorMessage, target);
        }
    }

    public async ValueTask DisposeAsync()
    {
        RpcClient[] clients;
        lock (_lock)
        {
            clients = [.. _clients.Values];
            _clients.Clear();
        }

        foreach (var client in clients)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }
}
