using System.Buffers;
using System.Diagnostics;
using Lustre.IO;
using Lustre.Protocol;
using Lustre.Server.Security;

namespace Lustre.Server.Rpc;

/// <summary>A received request: header, body and bulk in pooled arrays that the session returns after the reply.</summary>
internal sealed class RpcRequest
{
    private byte[]? _body;
    private byte[]? _bulk;

    private readonly int _bodyLength;

    public RpcRequest(FrameHeader header, byte[]? body, byte[]? bulk, string clientUuid, bool replyBulkChecksummed)
    {
        Header = header;
        _body = body;
        _bulk = bulk;
        ClientUuid = clientUuid;
        ReplyBulkChecksummed = replyBulkChecksummed;
        _bodyLength = header.BodyLength;
        if ((header.Flags & FrameFlags.TraceContext) != 0)
        {
            // The body length was checked against its limit with the header; here only against the context's size.
            if (_bodyLength < TraceContext.Size)
            {
                MalformedTraceContext = true;
                return;
            }

            _bodyLength -= TraceContext.Size;
            if (TraceContext.TryRead(body.AsSpan(_bodyLength, TraceContext.Size), out var parent))
            {
                TraceParent = parent;
            }
        }
    }

    /// <summary>The client's span, from the frame's trace context; default when the request carries none.</summary>
    public ActivityContext TraceParent { get; }

    /// <summary>The trace-context flag is set on a body too short to hold one: the request is answered EPROTO.</summary>
    public bool MalformedTraceContext { get; }

    /// <summary>
    /// Whether the reply's bulk carries a checksum: the connection agreed to bulk checksums and the client does not
    /// verify this reply end to end. Without one, a large read can go out from the page cache without a copy.
    /// </summary>
    public bool ReplyBulkChecksummed { get; }

    public FrameHeader Header { get; }

    public Opcode Opcode => Header.Opcode;

    public string ClientUuid { get; }

    /// <summary>The named key the connection proved; null with one shared secret or none (trusted as root).</summary>
    public NamedKey? Key { get; init; }

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

    public void Release()
    {
        if (Interlocked.Exchange(ref _charged, 0) is > 0 and var charged)
        {
            _serverMemory!.Release(charged);
            _connectionMemory!.Release(charged);
        }

        if (Interlocked.Exchange(ref _body, null) is { } body)
        {
            ArrayPool<byte>.Shared.Return(body);
        }

        if (Interlocked.Exchange(ref _bulk, null) is { } bulk)
        {
            Protocol.BulkPool.Shared.Return(bulk);
        }
    }
}
