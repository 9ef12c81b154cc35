using System.Buffers.Binary;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>
/// The writes of one metadata operation, applied together as one RocksDB batch or not at all. The MDT's writer loop
/// reuses one for every operation in turn (<see cref="Reset"/>).
/// </summary>
internal sealed class MdtTransaction
{
    private readonly MdtStore _store;
    private readonly WriteBatch _batch;

    public MdtTransaction(MdtStore store, WriteBatch batch)
    {
        _store = store;
        _batch = batch;
    }

    public MdtStore Store => _store;

    /// <summary>The inode count after this operation's creates and deletes so far, before it is applied; null: unchanged.</summary>
    public ulong? PendingInodeCount { get; set; }

    /// <summary>This operation allocated a FID or counted an inode: the writer loop writes the counters record once, with its batch.</summary>
    public bool CountersChanged { get; set; }

    /// <summary>
    /// This operation may change what <see cref="WalkCache"/> keeps: it rewrites a directory's record (other than
    /// through <see cref="PutChangedDirectory"/>), deletes a directory or a directory's entry, or writes raw keys of the
    /// inode or entry space. The writer loop empties the cache around its write.
    /// </summary>
    public bool WalkChanged { get; private set; }

    /// <summary>Forgets what the last operation advanced, for the next one on the same (cleared) batch.</summary>
    public void Reset()
    {
        PendingInodeCount = null;
        CountersChanged = false;
        WalkChanged = false;
    }

    public byte[]? Get(byte[] key) => _store.Get(key);

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        WalkChanged |= InWalkSpace(key);
        _batch.Put(key, value);
    }

    public void Delete(ReadOnlySpan<byte> key)
    {
        WalkChanged |= InWalkSpace(key);
        _batch.Delete(key);
    }

    /// <summary>Writes <paramref name="inode"/> as the record of <paramref name="fid"/>, its key on the stack and its bytes in a pooled buffer.</summary>
    public void PutInode(LustreFid fid, MdtInode inode)
    {
        WalkChanged |= inode.Type == EntryType.Directory;
        PutInode(fid, inode, inode.LinkCount, inode.ModifyTimeNs, inode.ChangeTimeNs);
    }

    /// <summary>
    /// Writes directory <paramref name="directory"/> after an entry of it was added or removed: <paramref name="linkCount"/>
    /// links, mtime and ctime <paramref name="now"/>; the record as <c>directory with { ... }</c> would give, with no copy of it.
    /// </summary>
    public void PutChangedDirectory(LustreFid fid, MdtInode directory, uint linkCount, long now) => PutInode(fid, directory, linkCount, now, now);

    private void PutInode(LustreFid fid, MdtInode inode, uint linkCount, long modifyTimeNs, long changeTimeNs)
    {
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        using var buffer = FrameBuffer.Rent(MdtInode.EncodedLength(inode));
        inode.Write(buffer.Body, linkCount, modifyTimeNs, changeTimeNs);
        _batch.Put(key, buffer.Written.Span[FrameHeader.Size..]);
    }

    /// <summary>Deletes the record of <paramref name="fid"/>, an inode of type <paramref name="type"/>.</summary>
    public void DeleteInode(LustreFid fid, EntryType type)
    {
        WalkChanged |= type == EntryType.Directory;
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        _batch.Delete(key);
    }

    /// <summary>Writes entry <paramref name="name"/> of <paramref name="parent"/>, naming <paramref name="child"/>.</summary>
    public void PutEntry(LustreFid parent, ReadOnlySpan<char> name, LustreFid child, EntryType type)
    {
        var length = MdtKeys.EntryKeyLength(name);
        Span<byte> key = length <= MdtKeys.MaxEntryKeyLength ? stackalloc byte[MdtKeys.MaxEntryKeyLength] : new byte[length];
        Span<byte> value = stackalloc byte[MdtKeys.EntryValueLength];
        MdtKeys.WriteEntryValue(value, child, type);
        _batch.Put(key[..MdtKeys.WriteEntryKey(key, parent, name)], value);
    }

    /// <summary>Deletes entry <paramref name="name"/> of <paramref name="parent"/>, which names an inode of type <paramref name="type"/>.</summary>
    public void DeleteEntry(LustreFid parent, ReadOnlySpan<char> name, EntryType type)
    {
        WalkChanged |= type == EntryType.Directory;
        var length = MdtKeys.EntryKeyLength(name);
        Span<byte> key = length <= MdtKeys.MaxEntryKeyLength ? stackalloc byte[MdtKeys.MaxEntryKeyLength] : new byte[length];
        _batch.Delete(key[..MdtKeys.WriteEntryKey(key, parent, name)]);
    }

    /// <summary>Writes a counter (a little-endian u64) under <paramref name="key"/>.</summary>
    public void PutCounter(ReadOnlySpan<byte> key, ulong value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(ulong)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _batch.Put(key, bytes);
    }

    /// <summary>Deletes every key from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive), in one range tombstone.</summary>
    public void DeleteRange(byte[] start, byte[] end)
    {
        // Conservative: any range that does not stay inside one other key space counts as touching the walk's.
        WalkChanged |= start.Length == 0 || end.Length == 0 || start[0] != end[0] || InWalkSpace(start);
        _batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length);
    }

    /// <summary>Keys of inode records and directory entries: what <see cref="WalkCache"/> keeps is read from them.</summary>
    private static bool InWalkSpace(ReadOnlySpan<byte> key) => key.IsEmpty || key[0] is MdtKeys.Inode or MdtKeys.Entry;
}
