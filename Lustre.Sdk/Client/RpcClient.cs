using System.Net;
using System.Diagnostics;
using Lustre.Diagnostics;
using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>
/// Calls to one server address over a small pool of connections, with reconnect and safe retries: a request
/// that failed in transport is resent with the same xid and the Resend flag, so a server that already applied
/// it answers from its reply cache instead of applying it twice. Checksum mismatches are retried too.
/// </summary>
internal sealed class RpcClient : IRpcCaller, IAsyncDisposable
{
    private readonly EndPoint _endpoint;
    private readonly RpcConnectionSettings _settings;
    private readonly IRpcConnection?[] _connections;
    private readonly Func<CancellationToken, Task<IRpcConnection>> _connect;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly int _maxAttempts;
    private int _next;
    private bool _disposed;

    public RpcClient(EndPoint endpoint, RpcConnectionSettings settings, int connectionCount = 2, int maxAttempts = 4)
        : this(endpoint, settings, async ct => await RpcConnection.ConnectAsync(endpoint, settings, ct).ConfigureAwait(false), connectionCount, maxAttempts)
    {
    }

    /// <summary>With a custom way to connect (tests inject faulty connections here).</summary>
    internal RpcClient(EndPoint endpoint, RpcConnectionSettings settings, Func<CancellationToken, Task<IRpcConnection>> connect, int connectionCount, int maxAttempts)
    {
        _endpoint = endpoint;
        _settings = settings;
        _connect = connect;
        _connections = new IRpcConnection?[Math.Max(1, connectionCount)];
        _maxAttempts = Math.Max(1, maxAttempts);
        Target = endpoint.ToString() ?? "server";
    }

    public string Target { get; }

    public EndPoint EndPoint => _endpoint;

    /// <summary>
    /// Calls and returns the reply (whose status may be an error). Throws a transient <see cref="LustreException"/>
    /// when the server cannot be reached within the attempts, or <see cref="BulkChecksumException"/> when every
    /// attempt's bulk arrived corrupt.
    /// </summary>
    public async ValueTask<RpcReply> CallAsync(
        Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var tags = new TagList { { "lustre.operation", LustreDiagnostics.OperationName(opcode) }, { "lustre.target", Target } };
        LustreDiagnostics.RpcsInFlight.Add(1, tags);
        try
        {
            return await CallWithRetriesAsync(opcode, frame, bulkOut, bulkIn, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            LustreDiagnostics.RpcsInFlight.Add(-1, tags);
            LustreDiagnostics.RpcDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        }
    }

    private async ValueTask<RpcReply> CallWithRetriesAsync(
        Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, CancellationToken cancellationToken)
    {
        var xid = _settings.Xids.Next();
        LustreException? last = null;
        for (var attempt = 0; attempt < _maxAttempts; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (attempt > 0)
            {
                LustreDiagnostics.Retries.Add(1, new KeyValuePair<string, object?>("lustre.target", Target));
                ClientLog.Retrying(_settings.Logger, Target, LustreDiagnostics.OperationName(opcode), attempt, last?.Message ?? "unknown");
                await Task.Delay(RetryDelay(attempt), cancellationToken).ConfigureAwait(false);
            }

            IRpcConnection connection;
            try
            {
                connection = await GetConnectionAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (LustreException ex) when (ex.IsTransient)
            {
                last = ex;
                continue;
            }

            RpcReply reply;
            try
            {
                reply = await connection.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend: attempt > 0, cancellationToken).ConfigureAwait(false);
            }
            catch (BulkChecksumException ex)
            {
                LustreDiagnostics.ChecksumErrors.Add(1, new KeyValuePair<string, object?>("lustre.target", Target));
                ClientLog.ChecksumMismatch(_settings.Logger, Target, LustreDiagnostics.OperationName(opcode));
                last = ex;
                continue;
            }
            catch (LustreException ex) when (ex.IsTransient && ex.Errno != LustreErrno.ETIMEDOUT)
            {
                last = ex;
                continue;
            }

            if (reply.Status == (int)LustreErrno.EBADMSG && attempt + 1 < _maxAttempts)
            {
                // The server saw our bulk corrupted in flight and discarded it: send it again.
                LustreDiagnostics.ChecksumErrors.Add(1, new KeyValuePair<string, object?>("lustre.target", Target));
                reply.Dispose();
                last = new BulkChecksumException($"{Target}: the server reported a bulk checksum mismatch on {opcode}.");
                continue;
            }

            return reply;
        }

        throw last ?? new LustreException($"{Target}: {opcode} failed.", LustreErrno.EIO, isTransient: true);
    }

    private static TimeSpan RetryDelay(int attempt) => TimeSpan.FromMilliseconds(Math.Min(1000, 50 * (1 << Math.Min(attempt, 5))));

    private async ValueTask<IRpcConnection> GetConnectionAsync(CancellationToken cancellationToken)
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
                _ = existing.DisposeAsync().AsTask();
            }

            var created = await _connect(cancellationToken).ConfigureAwait(false);
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
