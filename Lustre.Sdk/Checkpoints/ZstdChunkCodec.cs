using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using ZstdSharp;

namespace Lustre.Checkpoints;

/// <summary>
/// Compresses one chunk into one independent zstd frame and back. Compression contexts hold a few MiB of native
/// memory each, so they are pooled (a handful: one per core compressing) rather than made per chunk.
/// <para>
/// A chunk that would not shrink by an eighth (ZFS's rule for storing a block compressed) is stored as a frame of raw
/// blocks instead, which every zstd decoder reads back at the speed of a copy: <see cref="WorthCompressing"/> decides
/// from a sample. Trained F32 weights are such data (level 1 stores them at 0.93 of their size for ~45 ms of CPU per
/// 8 MiB chunk on a 2-core VM); see <c>docs/checkpoints.md</c>.
/// </para>
/// </summary>
internal sealed class ZstdChunkCodec : IDisposable
{
    /// <summary>zstd's largest block: a raw frame holds its content in blocks of this size (the last one shorter).</summary>
    internal const int MaxBlockLength = 128 * 1024;

    /// <summary>A raw frame's header: the magic number, the descriptor (single segment, 4-byte content size) and the size.</summary>
    private const int RawHeaderLength = 4 + 1 + 4;

    private const int BlockHeaderLength = 3;

    private const uint FrameMagic = 0xFD2FB528;

    /// <summary>Single_Segment_flag set, Frame_Content_Size_flag 2 (a 4-byte size), no checksum, no dictionary.</summary>
    private const byte RawDescriptor = 0b1010_0000;

    /// <summary>A chunk's sample: this many slices, spread evenly over the chunk, of <see cref="SampleSliceLength"/> bytes each.</summary>
    internal const int SampleSlices = 4;

    /// <summary>A whole file's sample (<see cref="WorthCompressing"/>): this many slices, 256 KiB.</summary>
    internal const int FileSampleSlices = 16;

    internal const int SampleSliceLength = 16 * 1024;

    /// <summary>Raw frames are padded to end on a multiple of this: the page size, which OSTs write past their page cache (O_DIRECT) only when aligned to.</summary>
    private const int PaddingAlignment = 4096;

    private const uint SkippableMagic = 0x184D2A50;

    private const int SkippableHeaderLength = 8;

    /// <summary>The most <see cref="Pad"/> writes: a skippable frame's header and up to a page less one byte of zeros.</summary>
    internal const int MaxPaddingLength = SkippableHeaderLength + PaddingAlignment - 1;

    /// <summary>Samples are compressed at the chunk level, or at this one above it: the file's sample runs while SaveAsync blocks its caller.</summary>
    private const int MaxSampleLevel = 3;

    private readonly ConcurrentBag<Compressor> _compressors = [];
    private readonly ConcurrentBag<Compressor> _samplers = [];
    private readonly ConcurrentBag<Decompressor> _decompressors = [];

    public ZstdChunkCodec(int level) => Level = level;

    public int Level { get; }

    /// <summary>The most a frame of <paramref name="uncompressed"/> bytes can take: zstd's bound (incompressible data is stored raw).</summary>
    public static int MaxFrameLength(int uncompressed) => Compressor.GetCompressBound(uncompressed);

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> if the frame fits (it always does in <see cref="MaxFrameLength"/> bytes).</summary>
    /// <returns>The frame's length, or -1 when it does not fit.</returns>
    public int TryCompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        var compressor = TakeCompressor();
        try
        {
            return compressor.TryWrap(source, destination, out var written) ? written : -1;
        }
        finally
        {
            _compressors.Add(compressor);
        }
    }

    /// <summary>The length of the frame of raw blocks that <see cref="WriteRawFrame"/> makes of <paramref name="uncompressed"/> bytes (always within <see cref="MaxFrameLength"/>).</summary>
    public static int RawFrameLength(int uncompressed) =>
        RawHeaderLength + (BlockHeaderLength * Math.Max(1, (uncompressed + MaxBlockLength - 1) / MaxBlockLength)) + uncompressed;

    /// <summary>
    /// Whether <paramref name="source"/> is worth compressing: <paramref name="slices"/> slices of 16 KiB spread evenly
    /// over it (all of it when it is smaller), each compressed on its own, shrink to at most seven eighths of their size.
    /// On 8 MiB chunks of trained weights, bf16, sparse and random data, four slices' ratio was within 0.003 of the
    /// whole chunk's, for about 2 % of the chunk's compression time. A sample already gathered, slices back to back,
    /// is judged the same way: pass its slice count. Levels above 3 are judged by level 3's sample, so that a file's
    /// sample stays a few milliseconds of the caller's wait: a level that would cross the eighth only above 3 is not caught.
    /// </summary>
    public bool WorthCompressing(ReadOnlySpan<byte> source, int slices = SampleSlices)
    {
        if (source.Length < slices * SampleSliceLength)
        {
            slices = 1;
        }

        var sliceLength = slices == 1 ? source.Length : SampleSliceLength;
        if (sliceLength == 0)
        {
            return false;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(Compressor.GetCompressBound(sliceLength));
        var compressor = _samplers.TryTake(out var sampler) ? sampler : new Compressor(Math.Min(Level, MaxSampleLevel));
        try
        {
            long compressed = 0;
            for (var i = 0; i < slices; i++)
            {
                var start = (int)((long)source.Length * i / slices);
                compressed += compressor.TryWrap(source.Slice(start, sliceLength), scratch, out var written) ? written : sliceLength;
            }

            return compressed * 8 <= (long)slices * sliceLength * 7;
        }
        finally
        {
            _samplers.Add(compressor);
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>
    /// Writes <paramref name="source"/> as one standard zstd frame of raw blocks (what zstd stores for data it cannot
    /// shrink, without spending the CPU to find that out): its first <c>head.Length</c> bytes into
    /// <paramref name="head"/>, the rest into <paramref name="tail"/>, so a chunk-sized buffer can take all but the
    /// few header bytes. <c>head.Length + tail.Length</c> must be <see cref="RawFrameLength"/> of the source.
    /// </summary>
    public static void WriteRawFrame(ReadOnlySpan<byte> source, Span<byte> head, Span<byte> tail)
    {
        if (head.Length + tail.Length != RawFrameLength(source.Length))
        {
            throw new ArgumentException($"a raw frame of {source.Length} bytes takes {RawFrameLength(source.Length)} bytes, not {head.Length + tail.Length}");
        }

        Span<byte> header = stackalloc byte[RawHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, FrameMagic);
        header[4] = RawDescriptor;
        BinaryPrimitives.WriteUInt32LittleEndian(header[5..], (uint)source.Length);
        var position = 0;
        Put(header, head, tail, ref position);
        var offset = 0;
        do
        {
            var length = Math.Min(MaxBlockLength, source.Length - offset);
            var last = offset + length == source.Length;

            // Block_Header, 3 bytes little-endian: Last_Block (bit 0), Block_Type 0 = raw (bits 1-2), Block_Size (bits 3-23).
            var blockHeader = (uint)(length << 3) | (last ? 1u : 0u);
            Span<byte> bytes = [(byte)blockHeader, (byte)(blockHeader >> 8), (byte)(blockHeader >> 16)];
            Put(bytes, head, tail, ref position);
            Put(source.Slice(offset, length), head, tail, ref position);
            offset += length;
        }
        while (offset < source.Length);

        static void Put(ReadOnlySpan<byte> bytes, Span<byte> head, Span<byte> tail, ref int position)
        {
            var inHead = Math.Clamp(head.Length - position, 0, bytes.Length);
            if (inHead > 0)
            {
                bytes[..inHead].CopyTo(head[position..]);
            }

            if (inHead < bytes.Length)
            {
                bytes[inHead..].CopyTo(tail[(position + inHead - head.Length)..]);
            }

            position += bytes.Length;
        }
    }

    /// <summary>
    /// Writes into <paramref name="room"/> a skippable frame (which every zstd decoder passes over) that makes a frame of
    /// <paramref name="frameLength"/> bytes stored at <paramref name="start"/> end on a page boundary, so the frames
    /// after it are written the way plain chunks are: page-aligned, past the OSTs' page cache. Returns its length: 0
    /// when the end is aligned already, or when the padded frame would not fit within <see cref="MaxFrameLength"/> of
    /// <paramref name="uncompressed"/> bytes (chunks under 2 MiB), which readers insist on.
    /// </summary>
    public static int Pad(Span<byte> room, long start, int frameLength, int uncompressed)
    {
        var end = start + frameLength;
        if (end % PaddingAlignment == 0)
        {
            return 0;
        }

        var zeros = (int)((PaddingAlignment - ((end + SkippableHeaderLength) % PaddingAlignment)) % PaddingAlignment);
        var length = SkippableHeaderLength + zeros;
        if (frameLength + length > MaxFrameLength(uncompressed))
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(room, SkippableMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(room[4..], (uint)zeros);
        room.Slice(SkippableHeaderLength, zeros).Clear();
        return length;
    }

    /// <summary>Decompresses one frame into exactly <paramref name="destination"/>; an <see cref="InvalidDataException"/> when the frame is damaged or of another size.</summary>
    public void Decompress(ReadOnlySpan<byte> frame, Span<byte> destination, string what)
    {
        if (!_decompressors.TryTake(out var decompressor))
        {
            decompressor = new Decompressor();
        }

        int written;
        try
        {
            written = decompressor.Unwrap(frame, destination);
        }
        catch (ZstdException ex)
        {
            throw new InvalidDataException($"{what}: the zstd frame does not decompress: {ex.Message}", ex);
        }
        catch (ArgumentException ex)
        {
            throw new InvalidDataException($"{what}: the zstd frame does not decompress into {destination.Length} bytes: {ex.Message}", ex);
        }
        finally
        {
            _decompressors.Add(decompressor);
        }

        if (written != destination.Length)
        {
            throw new InvalidDataException($"{what}: the zstd frame holds {written} bytes, expected {destination.Length}.");
        }
    }

    private Compressor TakeCompressor() => _compressors.TryTake(out var compressor) ? compressor : new Compressor(Level);

    public void Dispose()
    {
        while (_compressors.TryTake(out var compressor))
        {
            compressor.Dispose();
        }

        while (_samplers.TryTake(out var sampler))
        {
            sampler.Dispose();
        }

        while (_decompressors.TryTake(out var decompressor))
        {
            decompressor.Dispose();
        }
    }
}
