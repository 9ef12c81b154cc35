using System.Buffers.Binary;
using System.Globalization;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// The bytes of sample <c>i</c>: a slice of a random block starting at a place that depends on <c>i</c>, with the first
/// 8 bytes replaced by a tag of <c>i</c>. A misplaced or torn sample fails <see cref="Check(ReadOnlySpan{byte}, long, bool)"/>;
/// the full compare is optional. Samples are <see cref="SampleSize"/> bytes, or (the folder benchmark's files) any
/// length from 8 up to it.
/// </summary>
internal sealed class SampleContent
{
    private const int BlockSize = 1 << 20;
    private readonly byte[] _block;
    private readonly ulong _seed;

    public SampleContent(int seed, int sampleSize)
    {
        SampleSize = sampleSize;
        _block = new byte[BlockSize + sampleSize];
        new Random(seed).NextBytes(_block);
        _seed = (ulong)seed * 0x9E37_79B9_7F4A_7C15UL;
    }

    public int SampleSize { get; }

    public static string Key(long index) => index.ToString("D8", CultureInfo.InvariantCulture);

    /// <summary>Fills <paramref name="buffer"/> (8 to <see cref="SampleSize"/> bytes) with sample <paramref name="index"/>.</summary>
    public void Fill(Span<byte> buffer, long index)
    {
        _block.AsSpan(Start(index), buffer.Length).CopyTo(buffer);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer, Tag(index));
    }

    /// <summary>True when <paramref name="data"/> is sample <paramref name="index"/>: its length and tag, and with <paramref name="all"/> every byte.</summary>
    public bool Check(ReadOnlySpan<byte> data, long index, bool all) => Check(data, index, SampleSize, all);

    /// <summary>As <see cref="Check(ReadOnlySpan{byte}, long, bool)"/> for a sample of <paramref name="length"/> bytes.</summary>
    public bool Check(ReadOnlySpan<byte> data, long index, int length, bool all)
    {
        if (data.Length != length || BinaryPrimitives.ReadUInt64LittleEndian(data) != Tag(index))
        {
            return false;
        }

        return !all || data[8..].SequenceEqual(_block.AsSpan(Start(index) + 8, length - 8));
    }

    private static int Start(long index) => (int)((ulong)index * 4099 % BlockSize);

    private ulong Tag(long index) => ((ulong)index * 0xBF58_476D_1CE4_E5B9UL) ^ _seed;
}
