using System.Buffers.Binary;
using Lustre.Protocol;
using Lustre.Server.Oss;

namespace Lustre.Server.Rpc;

/// <summary>
/// Where an admitted request runs. A table indexed by opcode, built once at start, names the handler; the target
/// names the queue: one <see cref="TargetQueue"/> per OST this server hosts, one for the MDT, one for the MGS and
/// everything else. A session's reader loop only hands requests over, so a handler that fsyncs, truncates or stats
/// never stops that connection's other requests. Two kinds run on the reader loop instead, because they cannot
/// block: <c>Ping</c>, and small reads the service says it can answer from its open handles without waiting
/// (<see cref="IRpcService.CanRunInline"/>). Workers run on the thread pool; a handler whose call blocks the
/// thread for long (fsync, truncate, checkpoint) runs that call on a thread of its own (<see cref="BlockingCall"/>).
/// </summary>
internal sealed class RpcDispatcher : IAsyncDisposable
{
    /// <summary>Requests that may wait per target before the sessions feeding it stop reading.</summary>
    internal const int QueueCapacity = 256;

    /// <summary>
    /// Requests of one OST that run at once: twice the client's default bulk RPCs in flight per OST, so one client's
    /// full window runs while another's fsync or cold read holds a worker.
    /// </summary>
    internal const int OstWorkers = 16;

    /// <summary>
    /// Requests of the MDT that run at once. Most of them wait for a group commit (no thread held), and the group
    /// is as large as the requests waiting, so this bounds the batch: 64, one connection's requests in flight.
    /// </summary>
    internal const int MdtWorkers = ProtocolLimits.MaxRequestsInFlightPerConnection;

    /// <summary>
    /// Requests of the MGS (and of any opcode outside the three roles) that run at once: as many as one connection
    /// has in flight, since MGS requests are short and a peer may hold that many waiting on each other.
    /// </summary>
    internal const int ControlWorkers = ProtocolLimits.MaxRequestsInFlightPerConnection;

    private readonly (IRpcService? Service, RpcHandler? Handler)[] _handlers;
    private readonly byte[] _routes;
    private readonly TargetQueue _control;
    private readonly TargetQueue? _mdt;
    private readonly Dictionary<int, TargetQueue> _osts = [];

    /// <param name="server">The server's name, a tag of its metrics.</param>
    /// <param name="services">The roles served, each with the handlers of its opcodes.</param>
    public RpcDispatcher(string server, IReadOnlyList<IRpcService> services)
    {
        // Slot 0: no handler. An opcode is a u16, so a 64 KiB table of slots covers every value a peer can send.
        var handlers = new List<(IRpcService? Service, RpcHandler? Handler)> { (null, null) };
        _routes = new byte[ushort.MaxValue + 1];
        var hasMds = false;
        foreach (var service in services)
        {
            foreach (var (opcode, handler) in service.Handlers)
            {
                if (opcode == Opcode.Ping || _routes[(ushort)opcode] != 0)
                {
                    throw new ArgumentException($"Opcode {opcode} is answered twice on server {server}.", nameof(services));
                }

                if (handlers.Count > byte.MaxValue)
                {
                    throw new ArgumentOutOfRangeException(nameof(services), $"At most {byte.MaxValue} handlers share a listener.");
                }

                _routes[(ushort)opcode] = (byte)handlers.Count;
                handlers.Add((service, handler));
                hasMds |= opcode.IsMds();
            }
        }

        _handlers = [.. handlers];
        _control = new TargetQueue(server, "control", QueueCapacity, ControlWorkers);
        _mdt = hasMds ? new TargetQueue(server, "MDT0000", QueueCapacity, MdtWorkers) : null;
        foreach (var service in services)
        {
            if (service is OssService oss)
            {
                foreach (var store in oss.Targets)
                {
                    _osts[store.Index] = new TargetQueue(server, store.Name, QueueCapacity, OstWorkers);
                }
            }
        }
    }

    private IEnumerable<TargetQueue> Queues
    {
        get
        {
            yield return _control;
            if (_mdt is not null)
            {
                yield return _mdt;
            }

            foreach (var queue in _osts.Values)
            {
                yield return queue;
            }
        }
    }

    /// <summary>
    /// The service and handler that answer <paramref name="opcode"/>: one load from the opcode table. Both are null
    /// for an opcode nobody serves (the request gets ENOSYS) and for <c>Ping</c>, which the session answers itself.
    /// </summary>
    public (IRpcService? Service, RpcHandler? Handler) Route(Opcode opcode) => _handlers[_routes[(ushort)opcode]];

    /// <summary>The most bulk bytes the reply to this request can carry, as its service says (<see cref="IRpcService.ReplyBulkBytes"/>).</summary>
    public long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body) => Route(opcode).Service?.ReplyBulkBytes(opcode, body) ?? 0;

    /// <summary>
    /// Whether <paramref name="request"/> runs on the reader loop until its first wait: <c>Ping</c>, an opcode nobody
    /// serves (answered ENOSYS), or what its service says cannot block (<see cref="IRpcService.CanRunInline"/>).
    /// </summary>
    public static bool RunsInline(RpcRequest request) =>
        request.Opcode == Opcode.Ping || request.Service is not { } service || service.CanRunInline(request);

    /// <summary>The queue of the request's target.</summary>
    public TargetQueue TargetOf(RpcRequest request)
    {
        var opcode = request.Opcode;
        if (opcode.IsAnyServer())
        {
            // Parameters are the node's, not a target's: the control queue, so a full OST queue never delays lctl.
            return _control;
        }

        if (opcode.IsOst())
        {
            // Every OST request starts with its ost_index; a short body, or an OST not hosted here, is answered
            // (EPROTO, ENOENT) from the control queue.
            var body = request.Body;
            return body.Length >= sizeof(int) && _osts.TryGetValue(BinaryPrimitives.ReadInt32LittleEndian(body), out var ost) ? ost : _control;
        }

        return opcode.IsMds() && _mdt is not null ? _mdt : _control;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var queue in Queues)
        {
            await queue.DisposeAsync().ConfigureAwait(false);
        }
    }
}
