using System.Buffers;
using Lustre.Protocol;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Server.Oss;

/// <summary>
/// The bytes of a <see cref="DirectReader"/> read, handed to the socket as the reply's bulk: the aligned buffer the
/// disk wrote them into, from its skip on. Disposing gives the buffer back to its pool and the region object to
/// another, so a direct read allocates nothing; nothing may use a region after its Dispose.
/// </summary>
internal sealed unsafe class DirectRegion : MemoryManager<byte>
{
    private static readonly ObjectPool<DirectRegion> Pool = ReusedObjects.Pool(() => new DirectRegion(), 256);

    private AlignedPool? _pool;
    private nint _buffer;
    private int _capacity;
    private int _skip;
    private int _length;

    private DirectRegion()
    {
    }

    public int Length => _length;

    /// <summary>The <paramref name="length"/> bytes at <paramref name="skip"/> of <paramref name="buffer"/>, which goes back to <paramref name="pool"/> on Dispose.</summary>
    public static DirectRegion Rent(AlignedPool pool, nint buffer, int capacity, int skip, int length)
    {
        var region = Pool.Get();
        region._pool = pool;
        region._buffer = buffer;
        region._capacity = capacity;
        region._skip = skip;
        region._length = length;
        return region;
    }

    public override Span<byte> GetSpan() => new((byte*)_buffer + _skip, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)_buffer + _skip + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        var returned = Interlocked.Exchange(ref _buffer, 0);
        if (returned != 0)
        {
            var pool = _pool!;
            _pool = null;
            pool.Return(returned, _capacity);
            if (disposing)
            {
                Pool.Return(this);
            }
        }
    }
}
