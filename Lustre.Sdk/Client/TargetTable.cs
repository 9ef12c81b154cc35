using System.Net;
using System.Runtime.CompilerServices;
using Lustre.Network;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;

namespace Lustre.Client;

/// <summary>
/// Where every target is: the configuration fetched from the MGS (any of several MGS addresses) and one
/// <see cref="TargetChannel"/> per target, in an immutable snapshot that calls read without a lock and that a new
/// configuration replaces in one write. A target that moved (re-registered at another address) or left gets a new
/// channel or none; the old channel is disposed once its calls in flight have finished. Servers hosting several
/// targets share one <see cref="ServerConnections"/>. Every call goes through the one <see cref="Policy"/>.
/// </summary>
internal sealed class TargetTable : ITargetResolver, IAsyncDisposable
{
    private readonly FailoverTarget _mgs;
    private readonly RpcConnectionSettings _settings;
    private readonly int _connectionsPerServer;
    private readonly int _maxRpcsInFlightPerOst;
    private readonly int _maxBulkSize;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (ServerConnections Server, int Channels)> _servers = [];
    private readonly Dictionary<int, OstLimits> _ostLimits = [];
    private volatile Snapshot? _snapshot;
    private Task? _lookup;
    private long _epoch;

    // The MGS reply body the snapshot's configuration was decoded from.
    private byte[] _appliedConfig = [];
    private bool _disposed;

    public TargetTable(
        IReadOnlyList<IPEndPoint> mgs, RpcConnectionSettings settings, int connectionsPerServer, int maxAttempts = 4,
        int maxRpcsInFlightPerOst = 8, int maxBulkSize = ProtocolLimits.MaxBulkLength)
    {
        ArgumentOutOfRangeException.ThrowIfZero(mgs.Count);
        _settings = settings;
        _connectionsPerServer = connectionsPerServer;
        _maxRpcsInFlightPerOst = maxRpcsInFlightPerOst;
        _maxBulkSize = maxBulkSize;
        _mgs = new FailoverTarget("MGS", mgs, settings, connectionsPerServer);
        Policy = new RetryPolicy(settings, maxAttempts);
    }

    /// <summary>The one retry policy every call to a target or the MGS goes through.</summary>
    private RetryPolicy Policy { get; }

    /// <summary>Tests replace the connection calls to one OST go over (to inject faults); set before the first configuration.</summary>
    internal Func<int, IRpcConnection, IRpcConnection>? OstConnectionOverride { get; set; }

    /// <summary>Tests replace the connection calls to the MDT go over (to play an older MDS); set before the first configuration.</summary>
    internal Func<IRpcConnection, IRpcConnection>? MdtConnectionOverride { get; set; }

    /// <summary>
    /// The client's bounds towards OST <paramref name="index"/> (RPCs in flight, bulk size), made with the defaults the
    /// first time it is asked for; every channel to that OST, now and after it moves, shares them.
    /// </summary>
    public OstLimits OstLimits(int index)
    {
        lock (_lock)
        {
            return LimitsFor(index);
        }
    }

    /// <summary><see cref="OstLimits(int)"/>, under <c>_lock</c> already.</summary>
    private OstLimits LimitsFor(int index)
    {
        if (!_ostLimits.TryGetValue(index, out var limits))
        {
            _ostLimits[index] = limits = new OstLimits(_maxRpcsInFlightPerOst, _maxBulkSize);
        }

        return limits;
    }

    /// <summary>The MGS addresses, as the client was given them.</summary>
    public IReadOnlyList<string> MgsAddresses => [.. _mgs.Channels.Select(c => c.Server.Address)];

    public FilesystemConfig Config => _snapshot?.Config ?? throw new InvalidOperationException("The configuration has not been fetched from the MGS yet.");

    public bool HasConfig => _snapshot is not null;

    public long Epoch => Interlocked.Read(ref _epoch);

    /// <summary>The current channel of an OST, for its name and bulk limit (calls go through <see cref="CallAsync"/>).</summary>
    public TargetChannel Ost(int index) => Find(TargetKind.Ost, index);

    /// <summary>
    /// The largest bulk one RPC to an OST may carry (<see cref="TargetChannel.MaxBulkLength"/>); the client's own limit
    /// for an OST not in the configuration, whose calls then fail or find it through the <see cref="Policy"/>.
    /// </summary>
    public int OstMaxBulkLength(int index)
    {
        var osts = _snapshot?.Osts;
        return osts is not null && (uint)index < (uint)osts.Length && osts[index] is { } channel ? channel.MaxBulkLength : _maxBulkSize;
    }

    /// <summary>The largest bulk one RPC to MDT0000 may carry (a Data-on-MDT read or write), as <see cref="OstMaxBulkLength"/>.</summary>
    public int MdtMaxBulkLength()
    {
        var mdts = _snapshot?.Mdts;
        return mdts is { Length: > 0 } && mdts[0] is { } channel ? channel.MaxBulkLength : _maxBulkSize;
    }

    public TargetChannel Acquire(TargetKind kind, int index)
    {
        while (true)
        {
            var channel = Find(kind, index);
            if (channel.TryEnter())
            {
                return channel;
            }

            // Retired between the read and the lease: the snapshot that replaced it is already published.
            ObjectDisposedException.ThrowIf(_disposed, this);
        }
    }

    private TargetChannel Find(TargetKind kind, int index)
    {
        var snapshot = _snapshot ?? throw new InvalidOperationException("The configuration has not been fetched from the MGS yet.");
        var channels = kind == TargetKind.Mdt ? snapshot.Mdts : snapshot.Osts;
        return (uint)index < (uint)channels.Length && channels[index] is { } channel
            ? channel
            : throw new LustreException($"{kind} {index} is not in the filesystem configuration of '{snapshot.Config.FsName}'.", LustreErrno.ENOENT, isTransient: true);
    }

    /// <summary>Calls a target wherever it is now, under the <see cref="Policy"/>; returns the reply whatever its status.</summary>
    public ValueTask<RpcReply> CallAsync(
        TargetKind kind, int index, Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, CancellationToken cancellationToken) =>
        Policy.CallAsync(this, kind, index, opcode, frame, bulkOut, bulkIn, cancellationToken);

    /// <summary>Calls the MGS (the next address of its failover list after a failure) and throws on an error status.</summary>
    public ValueTask<RpcReply> CallMgsAsync(Opcode opcode, FrameBuffer frame, CancellationToken cancellationToken) =>
        CallMgsAsync(opcode, frame, default, cancellationToken);

    /// <summary>Calls the MGS with room for a reply bulk in <paramref name="bulkIn"/>, and throws on an error status.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RpcReply> CallMgsAsync(Opcode opcode, FrameBuffer frame, Memory<byte> bulkIn, CancellationToken cancellationToken)
    {
        var reply = await Policy.CallAsync(_mgs, default, 0, opcode, frame, default, bulkIn, cancellationToken).ConfigureAwait(false);
        if (reply.Status != 0)
        {
            using (reply)
            {
                ThrowIfError(reply, "MGS");
            }
        }

        return reply;
    }

    /// <summary>Fetches the configuration from the MGS and applies it.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<FilesystemConfig> RefreshAsync(CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        using var reply = await CallMgsAsync(Opcode.MgsGetConfig, frame, cancellationToken).ConfigureAwait(false);
        return Apply(reply);
    }

    /// <summary>Registers a target with the MGS (servers at start).</summary>
    public async Task<FilesystemConfig> RegisterAsync(TargetRecord target, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        new RegisterTargetRequest(target).Write(frame.Body);
        using var reply = await CallMgsAsync(Opcode.MgsRegisterTarget, frame, cancellationToken).ConfigureAwait(false);
        return Apply(reply);
    }

    /// <summary>Changes an OST pool on the MGS (an administrator's request) and applies the configuration it answers with.</summary>
    public async Task<FilesystemConfig> ChangePoolAsync(PoolRequest request, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await CallMgsAsync(Opcode.MgsPool, frame, cancellationToken).ConfigureAwait(false);
        return Apply(reply);
    }

    public ValueTask ResolveAgainAsync(long seenEpoch, CancellationToken cancellationToken)
    {
        Task lookup;
        lock (_lock)
        {
            if (Epoch != seenEpoch)
            {
                return ValueTask.CompletedTask;
            }

            if (_lookup is null || _lookup.IsCompleted)
            {
                _lookup = LookUpOnceAsync();
            }

            lookup = _lookup;
        }

        return new ValueTask(lookup.WaitAsync(cancellationToken));
    }

    /// <summary>
    /// One pass over the MGS addresses, one attempt each: the re-resolve step of a call that is itself being retried,
    /// so it adds no retries of its own. Bounded by the connect and request timeouts, not by one caller's token.
    /// </summary>
    private async Task LookUpOnceAsync()
    {
        try
        {
            LustreException? last = null;
            foreach (var channel in _mgs.Channels)
            {
                if (!channel.TryEnter())
                {
                    return;
                }

                try
                {
                    using var frame = FrameBuffer.Rent();
                    using var reply = await channel.CallOnceAsync(Opcode.MgsGetConfig, frame, default, default, _settings.Xids.Next(), resend: false, CancellationToken.None).ConfigureAwait(false);
                    ThrowIfError(reply, "MGS");
                    Apply(reply);
                    return;
                }
                catch (LustreException ex) when (ex.IsTransient)
                {
                    last = ex;
                }
                finally
                {
                    channel.Exit();
                }
            }

            throw new LustreException($"No MGS answered: {last?.Message}", LustreErrno.ECONNREFUSED, isTransient: true, last);
        }
        finally
        {
            Interlocked.Increment(ref _epoch);
        }
    }

    /// <summary>
    /// Applies the configuration an MGS reply carries. The same bytes as the configuration in force (the servers'
    /// periodic refresh, nearly always) count as a lookup and change nothing: no decoding, no new snapshot, nothing
    /// allocated.
    /// </summary>
    private FilesystemConfig Apply(in RpcReply reply)
    {
        var body = reply.Body;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_snapshot is { } current && body.SequenceEqual(_appliedConfig))
            {
                Interlocked.Increment(ref _epoch);
                return current.Config;
            }
        }

        var reader = reply.Reader;
        var config = FilesystemConfig.Read(ref reader);
        Apply(config, body.ToArray());
        return config;
    }

    /// <summary>
    /// Publishes a snapshot for <paramref name="config"/>, decoded from <paramref name="source"/>: a target at the same
    /// address keeps its channel, the others get new ones.
    /// </summary>
    private void Apply(FilesystemConfig config, byte[] source)
    {
        var retired = new List<TargetChannel>();
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var old = _snapshot;
            var mdts = new TargetChannel?[Size(config, TargetKind.Mdt)];
            var osts = new TargetChannel?[Size(config, TargetKind.Ost)];
            var addresses = new Dictionary<TargetChannel, string>();
            foreach (var target in config.Targets)
            {
                var slots = target.Kind == TargetKind.Mdt ? mdts : osts;
                var previous = old is null ? null : Find(old, target.Kind, target.Index);
                slots[target.Index] = previous is not null && old!.Addresses[previous] == target.Address ? previous : Open(target);
                addresses[slots[target.Index]!] = target.Address;
            }

            if (old is not null)
            {
                foreach (var channel in old.Addresses.Keys)
                {
                    if (!addresses.ContainsKey(channel))
                    {
                        retired.Add(channel);
                    }
                }
            }

            _snapshot = new Snapshot(config, mdts, osts, addresses);
            _appliedConfig = source;
            Interlocked.Increment(ref _epoch);
        }

        foreach (var channel in retired)
        {
            channel.Exit();
        }
    }

    private static int Size(FilesystemConfig config, TargetKind kind)
    {
        var size = 0;
        foreach (var target in config.Targets)
        {
            if (target.Kind == kind)
            {
                size = Math.Max(size, target.Index + 1);
            }
        }

        return size;
    }

    private static TargetChannel? Find(Snapshot snapshot, TargetKind kind, int index)
    {
        var channels = kind == TargetKind.Mdt ? snapshot.Mdts : snapshot.Osts;
        return (uint)index < (uint)channels.Length ? channels[index] : null;
    }

    /// <summary>A channel for a target at its address, over the connections to that server (shared, counted). Under the lock.</summary>
    private TargetChannel Open(TargetRecord target)
    {
        var endpoint = Endpoints.Parse(target.Address, $"{target.Kind} {target.Index} address");
        var key = endpoint.ToString();
        if (!_servers.TryGetValue(key, out var entry))
        {
            entry = (new ServerConnections(endpoint, _settings, _connectionsPerServer), 0);
        }

        _servers[key] = (entry.Server, entry.Channels + 1);
        var ost = target.Kind == TargetKind.Ost;
        var wrap = ost && OstConnectionOverride is { } over ? (Func<IRpcConnection, IRpcConnection>)(c => over(target.Index, c))
            : target.Kind == TargetKind.Mdt ? MdtConnectionOverride : null;
        var limits = ost ? LimitsFor(target.Index) : null;

        return new TargetChannel($"{target.Kind.ToString().ToUpperInvariant()}{target.Index:X4}", entry.Server, limits, _maxBulkSize, Release, wrap);
    }

    /// <summary>A retired channel went idle: its server's connections close when no channel uses them any more.</summary>
    private void Release(TargetChannel channel)
    {
        var key = channel.Server.Address;
        lock (_lock)
        {
            if (!_servers.TryGetValue(key, out var entry) || !ReferenceEquals(entry.Server, channel.Server))
            {
                return;
            }

            if (entry.Channels > 1)
            {
                _servers[key] = (entry.Server, entry.Channels - 1);
                return;
            }

            _servers.Remove(key);
        }

        _ = channel.Server.DisposeAsync().AsTask();
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
        ServerConnections[] servers;
        Snapshot? snapshot;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            snapshot = _snapshot;
            servers = [.. _servers.Values.Select(e => e.Server)];
            _servers.Clear();
        }

        // Retire every channel: each releases its allowances when its last call has finished.
        foreach (var channel in snapshot?.Addresses.Keys ?? Enumerable.Empty<TargetChannel>())
        {
            channel.Exit();
        }

        foreach (var server in servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }

        await _mgs.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>One configuration and the channels of its targets, by index (null where the configuration has none).</summary>
    private sealed record Snapshot(FilesystemConfig Config, TargetChannel?[] Mdts, TargetChannel?[] Osts, Dictionary<TargetChannel, string> Addresses);
}
