using System.Buffers;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Protocol;

/// <summary>
/// A pooled buffer holding one outgoing frame: 40 bytes kept for the header, then the body. Small bulk
/// payloads are appended for the send and trimmed after it, so the same frame can be resent unchanged.
/// <see cref="Rent"/> takes one from a process-wide pool and <see cref="Dispose"/> gives it back (its bytes to
/// <see cref="ArrayPool{T}.Shared"/>), so a request or reply costs no allocation in steady state. Dispose exactly once,
/// after the last use: a frame used after its Dispose may be another caller's.
/// </summary>
internal sealed class FrameBuffer : IBufferWriter<byte>, IDisposable
{
    /// <summary>Frames kept for reuse: more than the requests a busy process has in flight at once.</summary>
    private const int Retained = 1024;

    private static readonly ObjectPool<FrameBuffer> Pool = ReusedObjects.Pool(() => new FrameBuffer(), Retained);

    /// <summary>Bulk payloads up to this size are copied behind the body and sent in the same send.</summary>
    public const int InlineBulkLimit = 16 * 1024;

    private byte[] _buffer = [];
    private int _length = FrameHeader.Size;

    private FrameBuffer()
    {
    }

    /// <summary>An empty frame with room for <paramref name="initialCapacity"/> bytes (header included); it grows as written.</summary>
    public static FrameBuffer Rent(int initialCapacity = 256)
    {
        var frame = Pool.Get();
        frame._buffer = ArrayPool<byte>.Shared.Rent(Math.Max(initialCapacity, FrameHeader.Size + 64));
        frame._length = FrameHeader.Size;
        frame.Flags = FrameFlags.None;
        frame.BulkChecksum = null;
        return frame;
    }

    public BodyWriter Body => new(this);

    /// <summary>Request flags the sender adds to the header it stamps (only <see cref="FrameFlags.EndToEndVerified"/> is honoured).</summary>
    public FrameFlags Flags { get; set; }

    /// <summary>
    /// Whether this request's bulk (and its reply's) is checksummed, on a connection that lets each request choose; null
    /// for the connection's default (<see cref="Client.RpcConnectionSettings.BulkChecksums"/>). Set by the OST's channel
    /// from <c>osc.*.checksums</c>.
    /// </summary>
    public bool? BulkChecksum { get; set; }

    public int Length => _length;

    public int BodyLength => _length - FrameHeader.Size;

    /// <summary>Header and body, once <see cref="SetHeader"/> has been called.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    public void SetHeader(in FrameHeader header) => header.Write(_buffer);

    /// <summary>Appends bytes after the body (a small bulk for one send).</summary>
    public void Append(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    /// <summary>Writes <paramref name="value"/> over the four body bytes at <paramref name="bodyOffset"/>, already written: a count known only once what it counts is.</summary>
    public void WriteInt32At(int bodyOffset, int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bodyOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(bodyOffset, BodyLength - sizeof(int));
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(_buffer.AsSpan(FrameHeader.Size + bodyOffset), value);
    }

    /// <summary>Drops what was appended after <paramref name="length"/> bytes.</summary>
    public void TrimTo(int length)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, FrameHeader.Size);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, _length);
        _length = length;
    }

    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _buffer.Length - _length);
        _length += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_length);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_length);
    }

    private void Ensure(int sizeHint)
    {
        var needed = _length + Math.Max(sizeHint, 1);
        if (needed <= _buffer.Length)
        {
            return;
        }

        var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
        _buffer.AsSpan(0, _length).CopyTo(bigger);
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = bigger;
    }

    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            Pool.Return(this);
        }
    }
}
