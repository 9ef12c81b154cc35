using System.Buffers;
using System.IO.Hashing;
using Lustre.IO;

namespace Lustre.Checkpoints;

/// <summary>
/// Reads verified chunks of one data file of a checkpoint, plain or zstd: every chunk's bytes are checked against
/// the manifest's XXH3-64 (and a compressed chunk's frame against its own) before anyone sees them. Because of that
/// end-to-end check the reads skip the per-transfer bulk checksum (two XXH3 passes fewer per byte); a chunk that
/// fails its check is read once more with bulk checksums, so a transfer error is retried as before and only bytes
/// that are wrong on the OSTs are reported. As an <see cref="IRangeSource"/> it also reads parts of chunks, for
/// slices: those are checked by the transfers' bulk checksums, since the manifest's checksum covers only whole chunks.
/// </summary>
internal sealed class CheckpointFileReader : IRangeSource
{
    private readonly CheckpointManager _manager;
    private readonly LustreFile _file;

    public CheckpointFileReader(CheckpointManager manager, LustreFile file, string path, ManifestFile entry)
    {
        _manager = manager;
        _file = file;
        Path = path;
        Entry = entry;
    }

    public string Path { get; }

    public ManifestFile Entry { get; }

    /// <inheritdoc />
    public long Granule => Entry.ChunkSize;

    /// <summary>
    /// Reads bytes [offset, offset + destination.Length) of the plain safetensors content, within one chunk: a whole chunk
    /// verified against the manifest; part of a plain chunk with bulk checksums on the transfers; part of a compressed
    /// chunk by decompressing the whole chunk (verified) into scratch.
    /// </summary>
    public async Task<long> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var chunk = (int)(offset / Entry.ChunkSize);
        var length = Entry.ChunkLength(chunk);
        var stored = Entry.Frames is { } frames ? frames[chunk].Length : length;
        if (offset == ChunkOffset(chunk) && destination.Length == length)
        {
            await ReadChunkAsync(chunk, destination, cancellationToken).ConfigureAwait(false);
            return stored;
        }

        if (!Entry.IsCompressed)
        {
            await ReadExactlyAsync(offset, destination, checkedTransfers: true, cancellationToken).ConfigureAwait(false);
            return destination.Length;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await ReadChunkAsync(chunk, scratch.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            scratch.AsSpan((int)(offset - ChunkOffset(chunk)), destination.Length).CopyTo(destination.Span);
            return stored;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    /// <summary>Checks the file's size on the filesystem against the manifest's stored size.</summary>
    public void CheckStoredSize()
    {
        if (_file.Length != Entry.StoredSize)
        {
            throw new InvalidDataException($"{Path}: the file holds {_file.Length} bytes but the manifest records {Entry.StoredSize}.");
        }
    }

    /// <summary>Reads chunk <paramref name="chunk"/>'s plain bytes into <paramref name="target"/> (exactly the chunk's length) and verifies them.</summary>
    public async Task ReadChunkAsync(int chunk, Memory<byte> target, CancellationToken cancellationToken)
    {
        try
        {
            await ReadChunkAsync(chunk, target, checkedTransfers: false, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            await ReadChunkAsync(chunk, target, checkedTransfers: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReadChunkAsync(int chunk, Memory<byte> target, bool checkedTransfers, CancellationToken cancellationToken)
    {
        if (Entry.Frames is not { } frames)
        {
            await ReadExactlyAsync(ChunkOffset(chunk), target, checkedTransfers, cancellationToken).ConfigureAwait(false);
            Verify(chunk, target.Span);
            return;
        }

        var frame = frames[chunk];
        byte[] stored;
        await _manager.WriteGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Rented inside the gate, so at most MaxConcurrency frames are held however many chunks are queued.
            stored = ArrayPool<byte>.Shared.Rent(frame.Length);
            try
            {
                await ReadPieceAsync(frame.Offset, stored.AsMemory(0, frame.Length), checkedTransfers, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(stored);
                throw;
            }
        }
        finally
        {
            _manager.WriteGate.Release();
        }

        try
        {
            var actual = XxHash3.HashToUInt64(stored.AsSpan(0, frame.Length));
            if (actual != frame.Checksum)
            {
                throw new InvalidDataException(
                    $"{Path}: checksum mismatch in compressed chunk {chunk} (stored bytes {frame.Offset} to {frame.Offset + frame.Length}): XXH3 {actual:x16}, manifest {frame.Checksum:x16}.");
            }

            _manager.Codec.Decompress(stored.AsSpan(0, frame.Length), target.Span, $"{Path}: compressed chunk {chunk}");
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(stored);
        }

        Verify(chunk, target.Span);
    }

    /// <summary>
    /// Plain files only: reads chunk <paramref name="chunk"/> straight into <paramref name="pieces"/>, which cover it
    /// in order (all at once, in one slot of the concurrency gate), then verifies the chunk across them.
    /// </summary>
    public async Task ReadChunkIntoPiecesAsync(int chunk, Memory<byte>[] pieces, CancellationToken cancellationToken)
    {
        try
        {
            await ReadChunkIntoPiecesAsync(chunk, pieces, checkedTransfers: false, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            await ReadChunkIntoPiecesAsync(chunk, pieces, checkedTransfers: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReadChunkIntoPiecesAsync(int chunk, Memory<byte>[] pieces, bool checkedTransfers, CancellationToken cancellationToken)
    {
        var offset = ChunkOffset(chunk);
        await _manager.WriteGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var reads = new Task[pieces.Length];
            for (var i = 0; i < pieces.Length; i++)
            {
                reads[i] = ReadPieceAsync(offset, pieces[i], checkedTransfers, cancellationToken);
                offset += pieces[i].Length;
            }

            await Task.WhenAll(reads).ConfigureAwait(false);
        }
        finally
        {
            _manager.WriteGate.Release();
        }

        var hash = new XxHash3();
        foreach (var piece in pieces)
        {
            hash.Append(piece.Span);
        }

        Check(chunk, hash.GetCurrentHashAsUInt64());
    }

    private long ChunkOffset(int chunk) => (long)chunk * Entry.ChunkSize;

    private async Task ReadPieceAsync(long offset, Memory<byte> destination, bool checkedTransfers, CancellationToken cancellationToken)
    {
        var read = await _file.ReadAtAsync(offset, destination, verifiedByCaller: !checkedTransfers, cancellationToken).ConfigureAwait(false);
        if (read != destination.Length)
        {
            throw new InvalidDataException($"{Path}: read {read} bytes at {offset}, expected {destination.Length}.");
        }
    }

    private async Task ReadExactlyAsync(long offset, Memory<byte> destination, bool checkedTransfers, CancellationToken cancellationToken)
    {
        await _manager.WriteGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await ReadPieceAsync(offset, destination, checkedTransfers, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _manager.WriteGate.Release();
        }
    }

    private void Verify(int chunk, ReadOnlySpan<byte> plain) => Check(chunk, XxHash3.HashToUInt64(plain));

    private void Check(int chunk, ulong actual)
    {
        if (actual != Entry.Chunks[chunk])
        {
            var offset = ChunkOffset(chunk);
            throw new InvalidDataException(
                $"{Path}: checksum mismatch in chunk {chunk} (bytes {offset} to {offset + Entry.ChunkLength(chunk)}): XXH3 {actual:x16}, manifest {Entry.Chunks[chunk]:x16}.");
        }
    }
}
