using System.Buffers;
using Lustre.IO;

namespace Lustre.Dataset;

/// <summary>
/// A pooled array shared by the samples of one coalesced read, with a reference count: the read holds one reference and
/// each sample one more. When the last is released the array goes back to the pool and its bytes back to the budget.
/// </summary>
internal sealed class SharedBuffer
{
    private readonly ByteBudget _budget;
    private byte[]? _array;
    private int _references = 1;

    public SharedBuffer(int length, ByteBudget budget)
    {
        _budget = budget;
        _array = ArrayPool<byte>.Shared.Rent(length);
        Length = length;
        DatasetMetrics.PrefetchBytes.Add(length);
    }

    public int Length { get; }

    public Memory<byte> Memory => _array.AsMemory(0, Length);

    public SharedBuffer AddReference()
    {
        Interlocked.Increment(ref _references);
        return this;
    }

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) != 0)
        {
            return;
        }

        var array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
        {
            ArrayPool<byte>.Shared.Return(array);
            DatasetMetrics.PrefetchBytes.Add(-Length);
            _budget.Release(Length);
        }
    }
}
