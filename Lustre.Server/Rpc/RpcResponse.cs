using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>
/// A reply to send: status, an optional body and an optional bulk. A bulk in a pooled array
/// (<see cref="PooledBulk"/>) is returned to BulkPool by the session once sent; a bulk in other memory
/// (<see cref="BulkOwner"/>, e.g. a mapped file region) is disposed once sent.
/// </summary>
internal readonly struct RpcResponse
{
    private RpcResponse(int status, FrameBuffer? body, byte[]? pooledBulk, int bulkLength, System.Buffers.MemoryManager<byte>? bulkOwner = null, bool unrecorded = false)
    {
        Unrecorded = unrecorded;
        Status = status;
        Body = body;
        PooledBulk = pooledBulk;
        BulkLength = bulkLength;
        BulkOwner = bulkOwner;
    }

    public int Status { get; }

    /// <summary>
    /// A reply to the read-only form of a modifying opcode (<c>MgsParams</c>'s list), kept out of the reply cache: a
    /// resend is simply answered again, and a large reply does not sit in the cache.
    /// </summary>
    public bool Unrecorded { get; }

    public FrameBuffer? Body { get; }

    public byte[]? PooledBulk { get; }

    public int BulkLength { get; }

    /// <summary>Memory (not a pooled array) holding the bulk, disposed by the session once sent.</summary>
    public System.Buffers.MemoryManager<byte>? BulkOwner { get; }

    public ReadOnlyMemory<byte> Bulk =>
        BulkOwner is not null ? BulkOwner.Memory[..BulkLength] : PooledBulk is null ? default : PooledBulk.AsMemory(0, BulkLength);

    public static RpcResponse Ok() => new(0, null, null, 0);

    public static RpcResponse Ok(FrameBuffer body) => new(0, body, null, 0);

    /// <summary>A success whose body the reply cache does not keep (see <see cref="Unrecorded"/>).</summary>
    public static RpcResponse OkUnrecorded(FrameBuffer body) => new(0, body, null, 0, unrecorded: true);

    public static RpcResponse WithBulk(FrameBuffer? body, byte[] pooledBulk, int length) => new(0, body, pooledBulk, length);

    public static RpcResponse WithBulk(System.Buffers.MemoryManager<byte> owner, int length) => new(0, null, null, length, owner);

    public static RpcResponse Error(LustreErrno errno, string message)
    {
        var body = FrameBuffer.Rent();
        body.Body.WriteString(message.Length > 1024 ? message[..1024] : message);
        return new RpcResponse((int)errno, body, null, 0);
    }
}
