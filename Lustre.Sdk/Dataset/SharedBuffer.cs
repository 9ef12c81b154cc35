using Lustre.IO;

namespace Lustre.Dataset;

/// <summary>
/// An array from the dataset's <see cref="PrefetchPool"/> shared by the samples of one coalesced read, with a reference
/// count: the read holds one reference and each sample one more. When the last is released the array goes back to the
/// pool and its bytes back to the budget.
/// </summary>
internal sealed class SharedBuffer
{
    private readonly ByteBudget _budget;
    private readonly PrefetchPool _pool;
    private byte[]? _array;
    private int _references = 1;

    public SharedBuffer(int length, ByteBudget budget, PrefetchPool pool)
    {
        _budget = budget;
        _pool = pool;
        _array = pool.Rent(length);
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
            _pool.Return(array);
            DatasetMetrics.PrefetchBytes.Add(-Length);
            _budget.Release(Length);
        }
    }
}
