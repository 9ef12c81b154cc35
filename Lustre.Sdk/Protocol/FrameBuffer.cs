using System.Buffers;
using CommunityToolkit.HighPerformance.Buffers;

namespace Lustre.Protocol;

/// <summary>
/// A pooled buffer holding one outgoing frame: 40 bytes kept for the header, then the body.
/// Small bulk payloads are appended too, so a frame goes out in one send.
/// </summary>
internal sealed class FrameBuffer : IBufferWriter<byte>, IDisposable
{
    /// <summary>Bulk payloads up to this size are copied behind the body and sent in the same send.</summary>
    public const int InlineBulkLimit = 16 * 1024;

    private readonly ArrayPoolBufferWriter<byte> _writer;

    public FrameBuffer(int initialCapacity = 256)
    {
        _writer = new ArrayPoolBufferWriter<byte>(Math.Max(initialCapacity, FrameHeader.Size + 16));
        _writer.Advance(FrameHeader.Size);
    }

    public BodyWriter Body => new(this);

    public int BodyLength => _writer.WrittenCount - FrameHeader.Size;

    /// <summary>Header and body, once <see cref="SetHeader"/> has been called.</summary>
    public ReadOnlyMemory<byte> Written => _writer.WrittenMemory;

    public void SetHeader(in FrameHeader header) => header.Write(_writer.DangerousGetArray().AsSpan(0, FrameHeader.Size));

    /// <summary>Appends bytes after the body (used for small bulk payloads).</summary>
    public void Append(ReadOnlySpan<byte> bytes) => _writer.Write(bytes);

    public void Advance(int count) => _writer.Advance(count);

    public Memory<byte> GetMemory(int sizeHint = 0) => _writer.GetMemory(sizeHint);

    public Span<byte> GetSpan(int sizeHint = 0) => _writer.GetSpan(sizeHint);

    public void Dispose() => _writer.Dispose();
}
