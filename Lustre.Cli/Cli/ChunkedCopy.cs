using System.Buffers;

namespace Lustre.Cli;

/// <summary>
/// Copies one file in large chunks, several at once: each cluster chunk read or write fans out over the file's
/// stripes, so a few 16 MiB chunks in flight keep every OST busy. Memory is bounded by shared chunk slots.
/// </summary>
internal static class ChunkedCopy
{
    public const int ChunkSize = 16 << 20;

    /// <summary>Chunks of one file in flight at once.</summary>
    public const int ChunksPerFile = 4;

    /// <summary>Copies everything, then makes the destination durable; returns the bytes copied.</summary>
    public static async Task<long> CopyAsync(ICopySource source, ICopyDestination destination, SemaphoreSlim chunkSlots, Action<long> progress, CancellationToken cancellationToken)
    {
        long copied;
        if (source.Length is not { } length)
        {
            copied = await CopyInOrderAsync(source, destination, chunkSlots, progress, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var chunks = (length + ChunkSize - 1) / ChunkSize;
            await Parallel.ForAsync(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = ChunksPerFile, CancellationToken = cancellationToken }, async (chunk, ct) =>
            {
                var offset = chunk * ChunkSize;
                var size = (int)Math.Min(ChunkSize, length - offset);
                await chunkSlots.WaitAsync(ct).ConfigureAwait(false);
                var buffer = ArrayPool<byte>.Shared.Rent(size);
                try
                {
                    var read = await source.ReadAtAsync(offset, buffer.AsMemory(0, size), ct).ConfigureAwait(false);
                    if (read != size)
                    {
                        throw new IOException($"the source ended at {offset + read} while {length} bytes were expected (it changed during the copy)");
                    }

                    await destination.WriteAtAsync(offset, buffer.AsMemory(0, size), ct).ConfigureAwait(false);
                    progress(size);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    chunkSlots.Release();
                }
            }).ConfigureAwait(false);
            copied = length;
        }

        await destination.CompleteAsync(cancellationToken).ConfigureAwait(false);
        return copied;
    }

    private static async Task<long> CopyInOrderAsync(ICopySource source, ICopyDestination destination, SemaphoreSlim chunkSlots, Action<long> progress, CancellationToken cancellationToken)
    {
        await chunkSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            long offset = 0;
            while (true)
            {
                var read = await source.ReadAtAsync(offset, buffer.AsMemory(0, ChunkSize), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return offset;
                }

                await destination.WriteAtAsync(offset, buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                offset += read;
                progress(read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            chunkSlots.Release();
        }
    }
}
