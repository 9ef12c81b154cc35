using System.Buffers.Binary;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// File content that is cheap to produce and to check at any 4 KiB-aligned offset: a random 1 MiB block repeated,
/// with the first 8 bytes of every 4 KiB page replaced by the page's file offset mixed with a seed. A misplaced,
/// stale or torn page fails the check; producing a chunk costs one 8-byte store per page, not a pass over the data.
/// </summary>
internal sealed class TestPattern
{
    public const int PageSize = 4096;
    public const int BlockSize = 1 << 20;

    private readonly byte[] _block = new byte[BlockSize];
    private readonly ulong _seed;

    public TestPattern(int seed)
    {
        new Random(seed).NextBytes(_block);
        _seed = (ulong)seed * 0x9E37_79B9_7F4A_7C15UL;
    }

    /// <summary>A buffer of whole blocks, filled with the repeated block (stamp it with <see cref="Stamp"/> before each use).</summary>
    public byte[] NewBuffer(int length)
    {
        if (length % BlockSize != 0)
        {
            throw new ArgumentException($"Buffers are whole {BlockSize}-byte blocks; {length} is not.", nameof(length));
        }

        var buffer = GC.AllocateUninitializedArray<byte>(length, pinned: true);
        for (var at = 0; at < length; at += BlockSize)
        {
            _block.CopyTo(buffer.AsSpan(at));
        }

        return buffer;
    }

    /// <summary>Makes <paramref name="buffer"/> (from <see cref="NewBuffer"/>) hold the file's bytes at <paramref name="fileOffset"/>.</summary>
    public void Stamp(Span<byte> buffer, long fileOffset)
    {
        CheckAligned(fileOffset);
        for (var page = 0; page + sizeof(ulong) <= buffer.Length; page += PageSize)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(buffer[page..], Tag(fileOffset + page));
        }
    }

    /// <summary>True when <paramref name="data"/> holds exactly the file's bytes at <paramref name="fileOffset"/>.</summary>
    public bool Verify(ReadOnlySpan<byte> data, long fileOffset)
    {
        CheckAligned(fileOffset);
        Span<byte> tag = stackalloc byte[sizeof(ulong)];
        for (var page = 0; page < data.Length; page += PageSize)
        {
            var bytes = data.Slice(page, Math.Min(PageSize, data.Length - page));
            var offset = fileOffset + page;
            var inBlock = (int)(offset % BlockSize);
            var stamp = Math.Min(sizeof(ulong), bytes.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(tag, Tag(offset));
            if (!bytes[..stamp].SequenceEqual(tag[..stamp]) || !bytes[stamp..].SequenceEqual(_block.AsSpan(inBlock + stamp, bytes.Length - stamp)))
            {
                return false;
            }
        }

        return true;
    }

    private ulong Tag(long fileOffset) => (ulong)fileOffset ^ _seed;

    private static void CheckAligned(long fileOffset)
    {
        if (fileOffset % PageSize != 0)
        {
            throw new ArgumentException($"Offsets are {PageSize}-byte aligned; {fileOffset} is not.", nameof(fileOffset));
        }
    }
}
