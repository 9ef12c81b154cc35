using System.Buffers;

namespace Lustre.Server.Oss;

/// <summary>
/// The bytes of a <see cref="DirectReader"/> read, handed to the socket as the reply's bulk: the aligned buffer the
/// disk wrote them into, from <paramref name="skip"/> on. Disposing gives the buffer back to the pool.
/// </summary>
internal sealed unsafe class DirectRegion(AlignedPool pool, nint buffer, int capacity, int skip, int length) : MemoryManager<byte>
{
    private nint _buffer = buffer;

    public int Length => length;

    public override Span<byte> GetSpan() => new((byte*)_buffer + skip, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)_buffer + skip + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        var returned = Interlocked.Exchange(ref _buffer, 0);
        if (returned != 0)
        {
            pool.Return(returned, capacity);
        }
    }
}
