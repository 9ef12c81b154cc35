using System.Numerics;

namespace Lustre.Dataset;

/// <summary>
/// The arrays of one dataset's prefetch buffers, reused for its whole life. <see cref="System.Buffers.ArrayPool{T}.Shared"/>
/// keeps a few arrays per size per core, so with hundreds of buffers in flight nearly every rent allocated a new one
/// (measured: 5.2 GiB allocated to read a 4.8 GiB epoch of 100 KiB samples). Here an array is rounded up to a power of
/// two and kept when returned, up to twice the prefetch budget in all (the budget counts requested lengths, the arrays
/// are up to twice that), so the arrays in flight at the budget's peak circulate without being dropped.
/// </summary>
internal sealed class PrefetchPool
{
    private const int MinShift = 8;
    private const int MaxShift = 30;

    private readonly Lock _lock = new();
    private readonly Stack<byte[]>[] _buckets = new Stack<byte[]>[MaxShift - MinShift + 1];
    private readonly long _limit;
    private long _kept;
    private long _allocated;
    private bool _closed;

    public PrefetchPool(long budget)
    {
        _limit = 2 * budget;
        for (var b = 0; b < _buckets.Length; b++)
        {
            _buckets[b] = new Stack<byte[]>();
        }
    }

    /// <summary>Bytes of arrays this pool has allocated so far (each allocation is a miss).</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <summary>An array of at least <paramref name="length"/> bytes, not cleared.</summary>
    public byte[] Rent(int length)
    {
        var shift = Math.Max(MinShift, 32 - BitOperations.LeadingZeroCount((uint)Math.Max(1, length) - 1));
        if (shift > MaxShift)
        {
            // Larger than any pooled size (a sample over 1 GiB): not kept.
            Interlocked.Add(ref _allocated, length);
            return GC.AllocateUninitializedArray<byte>(length);
        }

        lock (_lock)
        {
            if (_buckets[shift - MinShift].TryPop(out var array))
            {
                _kept -= array.Length;
                return array;
            }
        }

        Interlocked.Add(ref _allocated, 1L << shift);
        return GC.AllocateUninitializedArray<byte>(1 << shift);
    }

    /// <summary>Takes back an array from <see cref="Rent"/>; dropped when the pool already keeps its limit.</summary>
    public void Return(byte[] array)
    {
        if (!BitOperations.IsPow2(array.Length) || array.Length < 1 << MinShift)
        {
            return;
        }

        lock (_lock)
        {
            if (!_closed && _kept + array.Length <= _limit)
            {
                _kept += array.Length;
                _buckets[BitOperations.Log2((uint)array.Length) - MinShift].Push(array);
            }
        }
    }

    /// <summary>Drops the kept arrays and keeps no more: the dataset is closed, so its memory goes back to the GC now.</summary>
    public void Close()
    {
        lock (_lock)
        {
            _closed = true;
            _kept = 0;
            foreach (var bucket in _buckets)
            {
                bucket.Clear();
            }
        }
    }
}
