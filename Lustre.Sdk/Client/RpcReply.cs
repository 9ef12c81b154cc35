using System.Buffers;
using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>
/// A reply: status, body bytes in a pooled array (returned by <see cref="Dispose"/>, exactly once),
/// and how many bulk bytes landed in the caller's buffer.
/// </summary>
internal struct RpcReply : IDisposable
{
    private byte[]? _body;

    public RpcReply(int status, byte[]? body, int bodyLength, int bulkLength)
    {
        Status = status;
        _body = body;
        BodyLength = bodyLength;
        BulkLength = bulkLength;
    }

    public int Status { get; }

    public int BodyLength { get; }

    public int BulkLength { get; }

    public readonly ReadOnlySpan<byte> Body => _body is null ? default : _body.AsSpan(0, BodyLength);

    public readonly BodyReader Reader => new(Body);

    /// <summary>The error message a failed reply carries in its body.</summary>
    public readonly string ErrorMessage
    {
        get
        {
            if (BodyLength == 0)
            {
                return ((LustreErrno)Status).ToString();
            }

            try
            {
                var reader = Reader;
                return reader.ReadString("message", 4096);
            }
            catch (ProtocolException)
            {
                return ((LustreErrno)Status).ToString();
            }
        }
    }

    public void Dispose()
    {
        var body = _body;
        _body = null;
        if (body is not null)
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }
}
