using System.Collections.Concurrent;
using ZstdSharp;

namespace Lustre.Checkpoints;

/// <summary>
/// Compresses one chunk into one independent zstd frame and back. Compression contexts hold a few MiB of native
/// memory each, so they are pooled (a handful: one per core compressing) rather than made per chunk.
/// </summary>
internal sealed class ZstdChunkCodec : IDisposable
{
    private readonly ConcurrentBag<Compressor> _compressors = [];
    private readonly ConcurrentBag<Decompressor> _decompressors = [];

    public ZstdChunkCodec(int level) => Level = level;

    public int Level { get; }

    /// <summary>The most a frame of <paramref name="uncompressed"/> bytes can take: zstd's bound (incompressible data is stored raw).</summary>
    public static int MaxFrameLength(int uncompressed) => Compressor.GetCompressBound(uncompressed);

    /// <summary>Compresses <paramref name="source"/> into <paramref name="destination"/> if the frame fits (it always does in <see cref="MaxFrameLength"/> bytes).</summary>
    /// <returns>The frame's length, or -1 when it does not fit.</returns>
    public int TryCompress(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (!_compressors.TryTake(out var compressor))
        {
            compressor = new Compressor(Level);
        }

        try
        {
            return compressor.TryWrap(source, destination, out var written) ? written : -1;
        }
        finally
        {
            _compressors.Add(compressor);
        }
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

    public void Dispose()
    {
        while (_compressors.TryTake(out var compressor))
        {
            compressor.Dispose();
        }

        while (_decompressors.TryTake(out var decompressor))
        {
            decompressor.Dispose();
        }
    }
}
