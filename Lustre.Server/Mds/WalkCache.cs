using System.Collections.Concurrent;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>
/// What a path walk reads of the directories on its way, kept in memory: each directory's entry in its parent (the
/// child directory's FID) and each directory's type, mode and owner (<see cref="InodeAccess"/>). A stat of
/// <c>/a/b/f</c> then reads RocksDB twice (the entry <c>f</c> and its record) instead of seven times. Files are never
/// kept: only what every walk through a directory reads again.
/// <para>
/// Coherence. The MDT's writer loop is the only writer. A change that could make a kept value wrong (a directory's
/// record rewritten other than for its link count and times, a directory's entry or record deleted (rmdir, rename, a
/// directory replaced by a rename), a raw write to the inode or entry key space) is flagged by its <see cref="MdtTransaction"/>; the loop
/// brackets that change's write with <see cref="BeginChange"/> and <see cref="EndChange"/>, each of which empties
/// the cache and advances its generation. From the first until the second, lookups bypass the cache; a reader only
/// adds what it read from RocksDB when the generation is still the one it saw before that read and no change is
/// under way (checked under the lock both brackets take). So a value read before a change can never be added after
/// it, and the changed client is answered (after the group's sync) only once the cache has been emptied.
/// </para>
/// </summary>
internal sealed class WalkCache
{
    /// <summary>Past this many entries (or directories) the cache starts over; a walk then reads RocksDB again.</summary>
    internal const int MaxCount = 1 << 16;

    private readonly ConcurrentDictionary<EntryKey, LustreFid> _entries = new(EntryKeyComparer.Instance);
    private readonly ConcurrentDictionary<EntryKey, LustreFid>.AlternateLookup<EntrySpanKey> _entryLookup;
    private readonly ConcurrentDictionary<LustreFid, InodeAccess> _access = new();
    private readonly Lock _lock = new();
    private long _generation;
    private volatile bool _changing;

    public WalkCache() => _entryLookup = _entries.GetAlternateLookup<EntrySpanKey>();

    /// <summary>The generation to hand back to <see cref="AddDirectory"/> or <see cref="AddAccess"/>; read it before reading RocksDB.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Entries and directories held now (tests and diagnostics).</summary>
    public (int Entries, int Directories) Count => (_entries.Count, _access.Count);

    /// <summary>The directory <paramref name="name"/> of <paramref name="parent"/> names, when kept.</summary>
    public bool TryGetDirectory(LustreFid parent, ReadOnlySpan<char> name, out LustreFid child)
    {
        child = default;
        return !_changing && _entryLookup.TryGetValue(new EntrySpanKey(parent, name), out child);
    }

    /// <summary>The type, mode and owner of directory <paramref name="fid"/>, when kept.</summary>
    public bool TryGetAccess(LustreFid fid, out InodeAccess access)
    {
        access = default;
        return !_changing && _access.TryGetValue(fid, out access);
    }

    /// <summary>Keeps that <paramref name="name"/> of <paramref name="parent"/> is directory <paramref name="child"/>, as read from RocksDB in <paramref name="generation"/>.</summary>
    public void AddDirectory(long generation, LustreFid parent, ReadOnlySpan<char> name, LustreFid child)
    {
        lock (_lock)
        {
            if (generation == _generation && !_changing)
            {
                MakeRoom(_entries.Count);
                _entries.TryAdd(new EntryKey(parent, name.ToString()), child);
            }
        }
    }

    /// <summary>Keeps directory <paramref name="fid"/>'s access bits, as read from RocksDB in <paramref name="generation"/>.</summary>
    public void AddAccess(long generation, LustreFid fid, InodeAccess access)
    {
        if (access.Type != EntryType.Directory)
        {
            return;
        }

        lock (_lock)
        {
            if (generation == _generation && !_changing)
            {
                MakeRoom(_access.Count);
                _access.TryAdd(fid, access);
            }
        }
    }

    /// <summary>Before the writer applies a flagged change: empties the cache and makes lookups bypass it until <see cref="EndChange"/>.</summary>
    public void BeginChange()
    {
        lock (_lock)
        {
            _changing = true;
            Reset();
        }
    }

    /// <summary>After the flagged change is applied (or failed): empties the cache again and lets lookups use it.</summary>
    public void EndChange()
    {
        lock (_lock)
        {
            Reset();
            _changing = false;
        }
    }

    /// <summary>Under <see cref="_lock"/>: a full cache starts over rather than evicting one by one.</summary>
    private void MakeRoom(int count)
    {
        if (count >= MaxCount)
        {
            Reset();
        }
    }

    private void Reset()
    {
        _generation++;
        _entries.Clear();
        _access.Clear();
    }

    private readonly record struct EntryKey(LustreFid Parent, string Name);

    private readonly ref struct EntrySpanKey(LustreFid parent, ReadOnlySpan<char> name)
    {
        public LustreFid Parent { get; } = parent;

        public ReadOnlySpan<char> Name { get; } = name;
    }

    /// <summary>Ordinal names, looked up from a span of the request's path without a string.</summary>
    private sealed class EntryKeyComparer : IEqualityComparer<EntryKey>, IAlternateEqualityComparer<EntrySpanKey, EntryKey>
    {
        public static readonly EntryKeyComparer Instance = new();

        public bool Equals(EntryKey x, EntryKey y) => x.Parent == y.Parent && string.Equals(x.Name, y.Name, StringComparison.Ordinal);

        public int GetHashCode(EntryKey obj) => HashCode.Combine(obj.Parent, string.GetHashCode(obj.Name.AsSpan()));

        public bool Equals(EntrySpanKey alternate, EntryKey other) => alternate.Parent == other.Parent && alternate.Name.SequenceEqual(other.Name);

        public int GetHashCode(EntrySpanKey alternate) => HashCode.Combine(alternate.Parent, string.GetHashCode(alternate.Name));

        public EntryKey Create(EntrySpanKey alternate) => new(alternate.Parent, alternate.Name.ToString());
    }
}
