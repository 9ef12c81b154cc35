using System.Buffers.Binary;
using Lustre.Protocol;
using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>
/// The bytes of files' Data-on-MDT components, in the MDT's RocksDB beside their inodes: chunks of
/// <see cref="ChunkSize"/> keyed by FID and chunk index (<see cref="MdtKeys.Data"/>). A write is a change of the store's
/// writer loop like any metadata change, so its chunks, the inode's new size and mtime and its reply record go in one
/// batch and are durable with the group's WAL sync before any of them is answered: DoM data commits with the metadata,
/// never apart from it. A chunk never holds bytes at or past its file's size (a truncate cuts them in its own batch, and
/// a write raises the size in its own), so a read returns zeros for a hole and stops at the size.
/// </summary>
internal static class DataOnMdt
{
    /// <summary>
    /// Bytes per chunk: a write rewrites the chunks it touches, so this bounds what a small write costs in the log, and a
    /// small file is one value, read with one lookup.
    /// </summary>
    public const int ChunkSize = 64 << 10;

    /// <summary>Above this many chunks a file's are dropped with one range delete instead of one delete each.</summary>
    private const int PointDeletes = 16;

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> in <paramref name="tx"/>, keeping the bytes of the chunks
    /// around it. <paramref name="size"/> is the file's size before the write: a chunk holds no bytes at or past it, so a
    /// chunk that starts there (a new file, an append past the last chunk) is not read, and one whose bytes the write
    /// covers whole is written straight from <paramref name="data"/>, with no array of its own.
    /// </summary>
    public static void Write(MdtTransaction tx, LustreFid fid, long offset, ReadOnlySpan<byte> data, long size)
    {
        Span<byte> key = stackalloc byte[MdtKeys.DataKeyLength];
        var position = offset;
        var end = offset + data.Length;
        while (position < end)
        {
            var chunk = (uint)(position / ChunkSize);
            var start = (long)chunk * ChunkSize;
            var within = (int)(position - start);
            var count = (int)Math.Min(ChunkSize - within, end - position);
            var piece = data.Slice((int)(position - offset), count);
            MdtKeys.WriteDataKey(key, fid, chunk);
            var held = (int)Math.Clamp(size - start, 0, ChunkSize);
            if (within == 0 && count >= held)
            {
                tx.Put(key, piece);
            }
            else
            {
                // Reads what the writer loop applied so far, earlier changes of this group included.
                var existing = held == 0 ? [] : tx.Get(key.ToArray()) ?? [];
                var length = Math.Max(existing.Length, within + count);
                var value = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
                existing.CopyTo(value, 0);
                value.AsSpan(existing.Length, Math.Max(0, within - existing.Length)).Clear();
                piece.CopyTo(value.AsSpan(within));
                tx.Put(key, value.AsSpan(0, length));
                System.Buffers.ArrayPool<byte>.Shared.Return(value);
            }

            position += count;
        }
    }

    /// <summary>Cuts the bytes at and past <paramref name="size"/> of a file that had <paramref name="oldSize"/> bytes.</summary>
    public static void Truncate(MdtTransaction tx, LustreFid fid, long size, long oldSize)
    {
        if (size >= oldSize)
        {
            return;
        }

        var from = (uint)(size / ChunkSize);
        var within = (int)(size - ((long)from * ChunkSize));
        if (within > 0)
        {
            var key = MdtKeys.DataKey(fid, from);
            if (tx.Get(key) is { } existing && existing.Length > within)
            {
                tx.Put(key, existing[..within]);
            }

            from++;
        }

        DeleteFrom(tx, fid, from, oldSize);
    }

    /// <summary>Deletes every chunk of a file of <paramref name="size"/> bytes (an unlink, or a migration off the MDT).</summary>
    public static void Drop(MdtTransaction tx, LustreFid fid, long size) => DeleteFrom(tx, fid, 0, size);

    private static void DeleteFrom(MdtTransaction tx, LustreFid fid, uint from, long size)
    {
        // Chunks exist only below the size: those of a small file are deleted one by one (no range tombstone to
        // slow later reads), a large file's with one range delete.
        var chunks = (uint)((size + ChunkSize - 1) / ChunkSize);
        if (chunks <= from)
        {
            return;
        }

        if (chunks - from <= PointDeletes)
        {
            for (var chunk = from; chunk < chunks; chunk++)
            {
                tx.Delete(MdtKeys.DataKey(fid, chunk));
            }

            return;
        }

        tx.DeleteRange(MdtKeys.DataKey(fid, from), MdtKeys.DataEndKey(fid));
    }

    /// <summary>
    /// Fills the first <paramref name="length"/> bytes of <paramref name="buffer"/> with the file's bytes from
    /// <paramref name="offset"/>, zeros where none were written, as of <paramref name="read"/> (a snapshot taken with the
    /// inode, so the bytes match the size read).
    /// </summary>
    public static void Read(RocksDb db, ReadOptions read, LustreFid fid, long offset, byte[] buffer, int length)
    {
        if (TryReadOneChunk(db, read, fid, offset, buffer, 0, length))
        {
            return;
        }

        using var iterator = db.NewIterator(readOptions: read);
        Read(iterator, fid, offset, buffer.AsSpan(0, length));
    }

    /// <summary>
    /// Reads a range that lies within one chunk, as a small file's whole range does, with a point read: RocksDB's Bloom
    /// filters skip the tables that do not hold the chunk, where an iterator's seek reads a block of every table of
    /// level 0 and of each level below that covers the key. Fills <paramref name="buffer"/>[<paramref name="at"/>,
    /// <paramref name="at"/> + <paramref name="length"/>): the chunk's bytes, zeros past them (all zeros for a hole).
    /// False, having read nothing, when the range spans chunks.
    /// </summary>
    public static bool TryReadOneChunk(RocksDb db, ReadOptions read, LustreFid fid, long offset, byte[] buffer, int at, int length)
    {
        if (length == 0)
        {
            return true;
        }

        var chunk = offset / ChunkSize;
        if ((offset + length - 1) / ChunkSize != chunk)
        {
            return false;
        }

        Span<byte> key = stackalloc byte[MdtKeys.DataKeyLength];
        MdtKeys.WriteDataKey(key, fid, (uint)chunk);
        var copied = db.Get(key, ChunkCopy.Into(buffer, at, (int)(offset - (chunk * ChunkSize)), length), readOptions: read);
        buffer.AsSpan(at + copied, length - copied).Clear();
        return true;
    }

    /// <summary>
    /// Copies part of a chunk from RocksDB's own copy of the value into an array (no array of the value): one per thread,
    /// reused, as a point read runs its deserializer before it returns. Answers the bytes copied; a missing chunk gives 0.
    /// </summary>
    private sealed class ChunkCopy : ISpanDeserializer<int>
    {
        [ThreadStatic]
        private static ChunkCopy? t_copy;

        private byte[] _buffer = [];
        private int _at;
        private int _skip;
        private int _length;

        public static ChunkCopy Into(byte[] buffer, int at, int skip, int length)
        {
            var copy = t_copy ??= new ChunkCopy();
            (copy._buffer, copy._at, copy._skip, copy._length) = (buffer, at, skip, length);
            return copy;
        }

        public int Deserialize(ReadOnlySpan<byte> value)
        {
            var count = Math.Clamp(value.Length - _skip, 0, _length);
            value.Slice(Math.Min(_skip, value.Length), count).CopyTo(_buffer.AsSpan(_at, count));
            _buffer = [];
            return count;
        }
    }

    /// <summary>
    /// As <see cref="Read(RocksDb, ReadOptions, LustreFid, long, byte[], int)"/>, with an iterator (of the snapshot the
    /// inode was read from) that the caller reuses for many files, as a batched read does: one seek per range instead
    /// of an iterator per file.
    /// </summary>
    public static void Read(Iterator iterator, LustreFid fid, long offset, Span<byte> destination)
    {
        // Only what no chunk fills is zeroed (a hole, the end past the file's bytes), not the whole range first.
        var filled = ReadChunks(iterator, fid, offset, destination);
        destination[filled..].Clear();
    }

    /// <summary>Copies the range's chunks into <paramref name="destination"/>, zeroing holes between them; returns the bytes filled from its start.</summary>
    private static int ReadChunks(Iterator iterator, LustreFid fid, long offset, Span<byte> destination)
    {
        var filled = 0;
        if (destination.IsEmpty)
        {
            return filled;
        }

        var end = offset + destination.Length;
        var first = MdtKeys.DataKey(fid, (uint)(offset / ChunkSize));
        for (iterator.Seek(first); iterator.Valid(); iterator.Next())
        {
            var key = iterator.GetKeySpan();
            if (key.Length != first.Length || !key[..17].SequenceEqual(first.AsSpan(0, 17)))
            {
                return filled;
            }

            var start = (long)BinaryPrimitives.ReadUInt32BigEndian(key[17..]) * ChunkSize;
            if (start >= end)
            {
                return filled;
            }

            var value = iterator.GetValueSpan();
            var from = Math.Max(start, offset);
            var to = Math.Min(start + value.Length, end);
            if (to > from)
            {
                // Chunks come in order, so this one starts at or after what is filled.
                var at = (int)(from - offset);
                destination[filled..at].Clear();
                value.Slice((int)(from - start), (int)(to - from)).CopyTo(destination[at..]);
                filled = at + (int)(to - from);
            }

            if (start + ChunkSize >= end)
            {
                // No later chunk holds bytes of the range. Stepping on would read the block of the next key (another
                // file's chunk, up to 64 KiB, that a batch's next seek reads again) only to find it is not this file's.
                return filled;
            }
        }

        return filled;
    }
}
