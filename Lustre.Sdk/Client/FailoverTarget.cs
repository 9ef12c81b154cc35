using System.Net;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>
/// A target at a fixed list of addresses, such as the MGS and its failover partners (Lustre's failover NIDs): looking
/// it up again moves to the next address. With one address it is a plain server at a known place.
/// </summary>
internal sealed class FailoverTarget : ITargetResolver, IAsyncDisposable
{
    private readonly TargetChannel[] _channels;
    private readonly ServerConnections[] _servers;
    private long _epoch;

    public FailoverTarget(string name, IReadOnlyList<EndPoint> endpoints, RpcConnectionSettings settings, int connectionsPerServer)
        : this(name, [.. endpoints.Select(e => new ServerConnections(e, settings, connectionsPerServer))])
    {
    }

    /// <summary>Over servers made by the caller (tests connect them to doubles).</summary>
    internal FailoverTarget(string name, ServerConnections[] servers)
    {
        ArgumentOutOfRangeException.ThrowIfZero(servers.Length);
        _servers = servers;
        _channels = [.. servers.Select(s => new TargetChannel(name, s, limits: null, Protocol.ProtocolLimits.MaxBulkLength, idle: null))];
    }

    /// <summary>One channel per address, in the order given.</summary>
    public IReadOnlyList<TargetChannel> Channels => _channels;

    public long Epoch => Interlocked.Read(ref _epoch);

    public TargetChannel Acquire(TargetKind kind, int index)
    {
        var channel = _channels[(int)(Epoch % _channels.Length)];
        return channel.TryEnter() ? channel : throw new ObjectDisposedException(channel.Name);
    }

    public ValueTask ResolveAgainAsync(long seenEpoch, CancellationToken cancellationToken)
    {
        Interlocked.CompareExchange(ref _epoch, seenEpoch + 1, seenEpoch);
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Exit();
        }

        foreach (var server in _servers)
        {
            await server.DisposeAsync().ConfigureAwait(false);
        }
    }
}
