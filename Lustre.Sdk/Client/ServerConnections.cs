using System.Net;

namespace Lustre.Client;

/// <summary>
/// The connections to one server address: a small pool, each slot reconnected when its connection has failed.
/// Shared by every target that server hosts. It makes no retries of its own: a failure goes to the caller's
/// <see cref="RetryPolicy"/>, the one place that decides whether and where to send again.
/// </summary>
internal sealed class ServerConnections : IAsyncDisposable
{
    private readonly IRpcConnection?[] _connections;
    private readonly Func<CancellationToken, Task<IRpcConnection>> _connect;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private int _next;
    private int _maxBulkLength;
    private bool _disposed;

    public ServerConnections(EndPoint endpoint, RpcConnectionSettings settings, int connectionCount)
        : this(endpoint, async ct => await RpcConnection.ConnectAsync(endpoint, settings, ct).ConfigureAwait(false), connectionCount)
    {
        ChecksumsByDefault = settings.BulkChecksums ?? !Network.Endpoints.IsLoopback(endpoint);
    }

    /// <summary>With a custom way to connect (tests inject faulty connections here).</summary>
    internal ServerConnections(EndPoint endpoint, Func<CancellationToken, Task<IRpcConnection>> connect, int connectionCount)
    {
        _connect = connect;
        _connections = new IRpcConnection?[Math.Max(1, connectionCount)];
        Address = endpoint.ToString() ?? "server";
    }

    /// <summary>The server as it appears in messages and metrics ("127.0.0.1:9880").</summary>
    public string Address { get; }

    /// <summary>
    /// Whether bulk RPCs to this server are checksummed when nothing else says (<see cref="LustreClientOptions.BulkChecksums"/>:
    /// by default, yes over a network, no on this host's loopback).
    /// </summary>
    public bool ChecksumsByDefault { get; } = true;

    /// <summary>The largest bulk the server accepts, as it said at connect; 0 until a connection has been made.</summary>
    public int MaxBulkLength => Volatile.Read(ref _maxBulkLength);

    /// <summary>A healthy connection, made now if its slot has none. Throws a transient <see cref="LustreException"/> when the server cannot be reached.</summary>
    public async ValueTask<IRpcConnection> GetAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var slot = (int)((uint)Interlocked.Increment(ref _next) % (uint)_connections.Length);
        var existing = Volatile.Read(ref _connections[slot]);
        if (existing is { IsHealthy: true })
        {
            return existing;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            existing = _connections[slot];
            if (existing is { IsHealthy: true })
            {
                return existing;
            }

            if (existing is not null)
            {
                // Empty the slot first: if the reconnect below fails, nobody may dispose this connection again.
                Volatile.Write(ref _connections[slot], null);
                _ = existing.DisposeAsync().AsTask();
            }

            var created = await _connect(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _maxBulkLength, created.MaxBulkLength);
            Volatile.Write(ref _connections[slot], created);
            return created;
        }
        finally
        {
            _connectLock.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _disposed = true;
        for (var i = 0; i < _connections.Length; i++)
        {
            if (Interlocked.Exchange(ref _connections[i], null) is { } connection)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        _connectLock.Dispose();
    }
}
