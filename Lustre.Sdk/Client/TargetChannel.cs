using System.Diagnostics;
using System.Runtime.CompilerServices;
using Lustre.Diagnostics;
using Lustre.Protocol;
using Lustre.Threading;

namespace Lustre.Client;

/// <summary>
/// The client's way to one target (the MDT, one OST, one MGS address) at one address: the connections of the server
/// there and the bound on bulk RPCs in flight to the target (Lustre's <c>max_rpcs_in_flight</c>). A
/// <see cref="TargetTable"/> replaces the channel of a target that moved with a new one; the old one is disposed
/// when its last call has finished. Sends one attempt of a request; whether to send again is the
/// <see cref="RetryPolicy"/>'s call.
/// </summary>
internal sealed class TargetChannel
{
    /// <summary>Largest bulk that counts as small I/O.</summary>
    public const int SmallIoLimit = 64 * 1024;

    private readonly ServerConnections _server;
    private readonly OstLimits? _limits;
    private readonly int _maxBulkSize;
    private readonly Action<TargetChannel>? _idle;
    private readonly Func<IRpcConnection, IRpcConnection>? _wrap;

    // The owner's reference plus one per call in progress; the channel is disposed when it reaches zero.
    private int _leases = 1;

    /// <param name="name">The target as it appears in messages ("OST0002").</param>
    /// <param name="server">The connections to the target's server; the channel holds one reference to them.</param>
    /// <param name="limits">The OST's bounds on RPCs in flight and bulk size, shared with the OST's later channels; null for no bound (the MDT, the MGS).</param>
    /// <param name="maxBulkSize">The client's own largest bulk (<see cref="LustreClientOptions.MaxBulkSize"/>), where <paramref name="limits"/> is null.</param>
    /// <param name="idle">Called once when the channel is retired and its last call has finished.</param>
    /// <param name="wrap">Tests replace the connection a call goes over here, to inject faults.</param>
    public TargetChannel(string name, ServerConnections server, OstLimits? limits, int maxBulkSize, Action<TargetChannel>? idle, Func<IRpcConnection, IRpcConnection>? wrap = null)
    {
        Name = name;
        _server = server;
        _limits = limits;
        _maxBulkSize = maxBulkSize;
        _idle = idle;
        _wrap = wrap;
    }

    public string Name { get; }

    public ServerConnections Server => _server;

    /// <summary>
    /// The largest bulk one RPC to this target may carry: the client's <see cref="LustreClientOptions.MaxBulkSize"/>,
    /// capped at what the server said it accepts at connect once a connection has been made.
    /// </summary>
    public int MaxBulkLength => _server.MaxBulkLength is > 0 and var advertised ? Math.Min(advertised, MaxBulkSize) : MaxBulkSize;

    private int MaxBulkSize => _limits?.MaxBulkSize ?? _maxBulkSize;

    /// <summary>Takes a lease for one call; false when the channel has been retired and has already gone idle.</summary>
    public bool TryEnter()
    {
        var leases = Volatile.Read(ref _leases);
        while (leases > 0)
        {
            var seen = Interlocked.CompareExchange(ref _leases, leases + 1, leases);
            if (seen == leases)
            {
                return true;
            }

            leases = seen;
        }

        return false;
    }

    /// <summary>Returns a lease from <see cref="TryEnter"/>, or the owner's reference (retirement).</summary>
    public void Exit()
    {
        if (Interlocked.Decrement(ref _leases) == 0)
        {
            _idle?.Invoke(this);
        }
    }

    /// <summary>
    /// One attempt: waits for the target's allowance (bulk RPCs only), takes a connection and sends. The caller holds
    /// a lease. A transport failure throws a transient <see cref="LustreException"/>; a server status comes back in the reply.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RpcReply> CallOnceAsync(
        Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
    {
        var bulk = bulkOut.Length + bulkIn.Length;
        // Small I/O has its own, wider allowance: its RPCs cost the server little memory.
        var allowance = bulk == 0 || _limits is null ? null : bulk <= SmallIoLimit ? _limits.Small : _limits.Bulk;
        if (_limits is not null)
        {
            // osc.*.checksums, read at each attempt: a resend follows a change made meanwhile.
            frame.BulkChecksum = _limits.Checksums;
        }

        if (allowance is not null)
        {
            await allowance.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var started = Stopwatch.GetTimestamp();
        var tags = new TagList { { "lustre.operation", LustreDiagnostics.OperationName(opcode) }, { "lustre.target", _server.Address } };
        LustreDiagnostics.RpcsInFlight.Add(1, tags);
        try
        {
            var connection = await _server.GetAsync(cancellationToken).ConfigureAwait(false);
            if (_wrap is not null)
            {
                connection = _wrap(connection);
            }

            return await connection.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            LustreDiagnostics.RpcsInFlight.Add(-1, tags);
            LustreDiagnostics.RpcDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
            allowance?.Release();
        }
    }
}
