using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>The writes of one metadata operation, applied together as one RocksDB batch or not at all.</summary>
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

    /// <summary>Object id counters advanced by this operation but not yet applied.</summary>
    public Dictionary<int, ulong> PendingCounters { get; } = [];

    /// <summary>The inode count after this operation's creates and deletes so far, before it is applied; null: unchanged.</summary>
    public ulong? PendingInodeCount { get; set; }

    public byte[]? Get(byte[] key) => _store.Get(key);

    public void Put(byte[] key, byte[] value) => _batch.Put(key, value);

    public void Delete(byte[] key) => _batch.Delete(key);

    /// <summary>Deletes every key from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive), in one range tombstone.</summary>
    public void DeleteRange(byte[] start, byte[] end) => _batch.DeleteRange(start, (ulong)start.Length, end, (ulong)end.Length);
}
