using System.Buffers;

namespace Lustre.Checkpoints;

/// <summary>A file that byte ranges can be read from, each within one granule (a checkpoint's chunk).</summary>
internal interface IRangeSource
{
    /// <summary>No read crosses a multiple of this.</summary>
    long Granule { get; }

    /// <summary>Reads exactly <paramref name="destination"/>.Length bytes at <paramref name="offset"/>, all within one granule.</summary>
    /// <returns>The bytes read from the filesystem to get them (more than asked when only whole compressed chunks can be read).</returns>
    Task<long> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken);
}

/// <summary>
/// Reads the byte runs of <see cref="TensorBlocks"/> from a source into destination memory, in parallel: a read that
/// serves a single run goes straight into the destination, any other into scratch memory and is copied out.
/// </summary>
internal static class TensorBlockReader
{
    /// <summary>Two runs closer than this are read as one: a read of 64 KiB costs about what one more request does.</summary>
    public const int GapLimit = 64 << 10;

    /// <summary>Copies every block from <paramref name="source"/> into <paramref name="destination"/>; at most <paramref name="gate"/>'s count of reads in flight.</summary>
    /// <returns>The bytes read from the filesystem.</returns>
    public static async Task<long> ReadAsync(IRangeSource source, List<CopyBlock> blocks, Memory<byte> destination, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        var pieces = new List<CopyBlock>(blocks.Count);
        var reads = TensorBlocks.PlanReads(blocks, source.Granule, GapLimit, pieces);
        var tasks = new Task<long>[reads.Count];
        for (var i = 0; i < tasks.Length; i++)
        {
            tasks[i] = ReadOneAsync(source, reads[i], pieces, destination, gate, cancellationToken);
        }

        long total = 0;
        foreach (var read in await Task.WhenAll(tasks).ConfigureAwait(false))
        {
            total += read;
        }

        return total;
    }

    private static async Task<long> ReadOneAsync(IRangeSource source, BlockRead read, List<CopyBlock> pieces, Memory<byte> destination, SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        var length = checked((int)(read.End - read.Start));
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (read.Count == 1 && pieces[read.First].Length == length)
            {
                return await source.ReadAsync(read.Start, destination.Slice(checked((int)pieces[read.First].Destination), length), cancellationToken).ConfigureAwait(false);
            }

            var scratch = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                var bytes = await source.ReadAsync(read.Start, scratch.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
                for (var i = read.First; i < read.First + read.Count; i++)
                {
                    var piece = pieces[i];
                    scratch.AsSpan((int)(piece.Source - read.Start), (int)piece.Length).CopyTo(destination.Span.Slice(checked((int)piece.Destination)));
                }

                return bytes;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
        finally
        {
            gate.Release();
        }
    }
}
