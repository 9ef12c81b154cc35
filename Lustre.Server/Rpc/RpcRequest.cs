using System.Buffers;
using System.Diagnostics;
using Lustre.IO;
using Lustre.Protocol;
using Lustre.Server.Security;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Server.Rpc;

/// <summary>
/// A received request: header, body and bulk in pooled arrays that the session returns after the reply. The objects
/// themselves are reused (<see cref="Rent"/>, and <see cref="Release"/> gives one back), so admitting a request
/// allocates nothing in steady state; nothing may hold a request past its Release.
/// </summary>
internal sealed class RpcRequest
{
    private byte[]? _body;
    private byte[]? _bulk;
    private int _bodyLength;
    private ObjectPool<RpcRequest>? _pool;
    private int _released;

    private RpcRequest()
    {
    }

    /// <summary>A request from <paramref name="pool"/> (or new), holding <paramref name="body"/> until <see cref="Release"/>.</summary>
    public static RpcRequest Rent(ObjectPool<RpcRequest>? pool, FrameHeader header, byte[]? body, string clientUuid, bool replyBulkChecksummed, NamedKey? key, string jobId = "", bool plainLocalSocket = false)
    {
        var request = pool?.Get() ?? new RpcRequest();
        request._pool = pool;
        request._released = 0;
        request._body = body;
        request._bulk = null;
        request.Header = header;
        request.ClientUuid = clientUuid;
        request.ReplyBulkChecksummed = replyBulkChecksummed;
        request.ReplyBulkFromFile = plainLocalSocket && !replyBulkChecksummed;
        request.Key = key;
        request.JobId = jobId;
        request.Session = null;
        request.Target = null;
        request.AdmittedAt = 0;
        request.Service = null;
        request.Handler = null;
        request.TraceParent = default;
        request.MalformedTraceContext = false;
        request._bodyLength = header.BodyLength;
        if ((header.Flags & FrameFlags.TraceContext) != 0)
        {
            // The body length was checked against its limit with the header; here only against the context's size.
            if (request._bodyLength < TraceContext.Size)
            {
                request.MalformedTraceContext = true;
                return request;
            }

            request._bodyLength -= TraceContext.Size;
            if (TraceContext.TryRead(body.AsSpan(request._bodyLength, TraceContext.Size), out var parent))
            {
                request.TraceParent = parent;
            }
        }

        return request;
    }

    /// <summary>The pool of one session's requests: as many as it may have in flight, and the one being read.</summary>
    public static ObjectPool<RpcRequest> CreatePool(int inFlight) => ReusedObjects.Pool(() => new RpcRequest(), inFlight + 1);

    /// <summary>The client's span, from the frame's trace context; default when the request carries none.</summary>
    public ActivityContext TraceParent { get; private set; }

    /// <summary>The trace-context flag is set on a body too short to hold one: the request is answered EPROTO.</summary>
    public bool MalformedTraceContext { get; private set; }

    /// <summary>
    /// Whether the reply's bulk carries a checksum: the connection agreed to bulk checksums and the client does not
    /// verify this reply end to end. Without one, a large read can go out from the page cache without a copy.
    /// </summary>
    public bool ReplyBulkChecksummed { get; private set; }

    /// <summary>
    /// Whether the reply's bulk may be a range of a file sent with sendfile (<see cref="Protocol.FileBulk"/>): it carries
    /// no checksum and the connection is a local socket without TLS, where that saves the only copy a server makes.
    /// </summary>
    public bool ReplyBulkFromFile { get; private set; }

    public FrameHeader Header { get; private set; }

    public Opcode Opcode => Header.Opcode;

    public string ClientUuid { get; private set; } = string.Empty;

    /// <summary>The named key the connection proved; null with one shared secret or none (trusted as root).</summary>
    public NamedKey? Key { get; private set; }

    /// <summary>The job its connection works for (<c>ConnectRequest.JobId</c>), empty when none: the key of job stats.</summary>
    public string JobId { get; private set; } = string.Empty;

    /// <summary>Who the request acts as: its key's identity (root squashed), else root.</summary>
    public ClientIdentity Identity => Key?.EffectiveIdentity ?? ClientIdentity.Root;

    /// <summary>The connection that received the request and sends its reply.</summary>
    public RpcSession? Session { get; set; }

    /// <summary>The queue of its target (<see cref="RpcDispatcher.TargetOf"/>), whose name tags its metrics and span.</summary>
    public TargetQueue? Target { get; set; }

    /// <summary>When it was admitted (<see cref="System.Diagnostics.Stopwatch.GetTimestamp"/>): its duration includes the queue wait.</summary>
    public long AdmittedAt { get; set; }

    /// <summary>The role that answers it (<see cref="RpcDispatcher.Route"/>); null: none, or <c>Ping</c>.</summary>
    public IRpcService? Service { get; set; }

    /// <summary>The method of <see cref="Service"/> that answers its opcode; null when <see cref="Service"/> is.</summary>
    public RpcHandler? Handler { get; set; }

    public ReadOnlySpan<byte> Body => _body is null ? default : _body.AsSpan(0, _bodyLength);

    public BodyReader Reader => new(Body);

    /// <summary>The request's bulk; set by the reader once the memory for it is set aside.</summary>
    public ReadOnlyMemory<byte> Bulk => _bulk is null ? default : _bulk.AsMemory(0, Header.BulkLength);

    /// <summary>Takes the pooled bulk buffer the reader filled (returned by <see cref="Release"/>).</summary>
    public void SetBulk(byte[]? bulk) => _bulk = bulk;

    private ByteBudget? _connectionMemory;
    private ByteBudget? _serverMemory;
    private long _charged;

    /// <summary>Holds <paramref name="bytes"/> of both budgets until <see cref="Release"/> (the reply was sent, or the request dropped).</summary>
    public void Charge(ByteBudget connection, ByteBudget server, long bytes)
    {
        _connectionMemory = connection;
        _serverMemory = server;
        _charged = bytes;
    }

    /// <summary>
    /// Gives back the budgets and buffers it holds and the request itself to its pool. Only the first call counts; the
    /// request must not be touched after it, except by the session that read it until it reads the next one.
    /// </summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return;
        }

        if (Interlocked.Exchange(ref _charged, 0) is > 0 and var charged)
        {
            _serverMemory!.Release(charged);
            _connectionMemory!.Release(charged);
        }

        _connectionMemory = null;
        _serverMemory = null;
        if (Interlocked.Exchange(ref _body, null) is { } body)
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        if (Interlocked.Exchange(ref _bulk, null) is { } bulk)
        {
            Protocol.BulkPool.Shared.Return(bulk);
        }

        _pool?.Return(this);
    }
}
