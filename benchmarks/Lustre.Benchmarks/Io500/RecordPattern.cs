using System.Buffers.Binary;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// Content for records at any offset (ior-hard's 47,008-byte records, mdtest-hard's 3,901-byte files): a random
/// body shared by all records, the first 16 bytes replaced by the record's number mixed with a seed and its length.
/// A record landing in the wrong place, torn or stale fails <see cref="Verify"/>.
/// </summary>
internal sealed class RecordPattern
{
    public const int HeaderSize = 16;

    private readonly byte[] _body;
    private readonly ulong _seed;

    public RecordPattern(int seed, int recordSize)
    {
        _body = new byte[recordSize];
        new Random(seed).NextBytes(_body);
        _seed = (ulong)seed * 0x9E37_79B9_7F4A_7C15UL;
    }

    public int RecordSize => _body.Length;

    /// <summary>Fills <paramref name="record"/> (exactly <see cref="RecordSize"/> bytes) with record number <paramref name="index"/>.</summary>
    public void Fill(Span<byte> record, long index)
    {
        _body.CopyTo(record);
        Stamp(record, index);
    }

    /// <summary>Writes only the header, for a buffer that already holds the body from <see cref="Fill"/>.</summary>
    public void Stamp(Span<byte> record, long index)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(record, (ulong)index ^ _seed);
        BinaryPrimitives.WriteInt64LittleEndian(record[sizeof(ulong)..], record.Length);
    }

    public bool Verify(ReadOnlySpan<byte> record, long index) =>
        record.Length == _body.Length
        && BinaryPrimitives.ReadUInt64LittleEndian(record) == ((ulong)index ^ _seed)
        && BinaryPrimitives.ReadInt64LittleEndian(record[sizeof(ulong)..]) == record.Length
        && record[HeaderSize..].SequenceEqual(_body.AsSpan(HeaderSize));
}
