using System.Buffers.Binary;
using System.Text;
using Lustre.Protocol;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDT's key space in RocksDB, one prefix byte per kind of record. Integers are big-endian so keys sort
/// numerically; directory entries sort by name bytes under their parent, which is what readdir pages walk.
/// </summary>
internal static class MdtKeys
{
    public const byte Inode = (byte)'I';
    public const byte Entry = (byte)'D';
    public const byte ObjectSequence = (byte)'S';
    public const byte DestroyQueue = (byte)'Q';
    public const byte Meta = (byte)'M';

    /// <summary>A file with a stale mirror, for the MDS's resync agent (<see cref="MirrorResyncAgent"/>): 'F' + fid, no value.</summary>
    public const byte StaleMirrors = (byte)'F';

    /// <summary>A client's recorded result (<see cref="ReplyRecords"/>).</summary>
    public const byte Reply = (byte)'R';

    /// <summary>
    /// A file being migrated (<see cref="LayoutMigrations"/>): 'V' + fid, value the new layout with its objects (Lustre's
    /// volatile file), so objects a migration placed are destroyed even when its migrator or the MDS dies.
    /// </summary>
    public const byte Migration = (byte)'V';

    /// <summary>
    /// A chunk of a file's Data-on-MDT bytes (<see cref="DataOnMdt"/>): 'B' + fid + u32 chunk index, value the chunk's
    /// bytes from its start up to the last one written (shorter than a chunk when the rest is a hole or past the end).
    /// </summary>
    public const byte Data = (byte)'B';

    /// <summary>
    /// The MDT's counters, one record of 16 bytes: the next FID number and the number of inodes (<c>lfs df -i</c>),
    /// little-endian, written in the batch of every change that allocates a FID or creates or deletes an inode (one
    /// key per create, not one per counter). An MDT written before the count shared this record holds the FID alone
    /// here (8 bytes), and the count under <see cref="InodeCountKey"/> or nowhere; it is brought to 16 bytes when it opens.
    /// </summary>
    public static readonly byte[] CountersKey = Encoding.ASCII.GetBytes("M/next-fid");

    public static readonly byte[] CommitKey = Encoding.ASCII.GetBytes("M/commit");

    /// <summary>Where an MDT written before <see cref="CountersKey"/> held both counters kept its inode count: read once when it opens, then deleted.</summary>
    public static readonly byte[] InodeCountKey = Encoding.ASCII.GetBytes("M/inodes");

    /// <summary>Present in a backup until an MDS first starts on it: the counters must then skip ahead.</summary>
    public static readonly byte[] RestoredKey = Encoding.ASCII.GetBytes("M/restored");

    /// <summary>Written and deleted when the MDT opens, to switch WAL files (<see cref="MdtStore"/>'s WAL prewrite); never read.</summary>
    public static readonly byte[] WalPrewriteKey = Encoding.ASCII.GetBytes("M/wal-prewrite");

    /// <summary>The length of a key that is a prefix byte and a FID (an inode's, a directory's entry prefix).</summary>
    public const int FidKeyLength = 17;

    /// <summary>The longest entry key: a name is at most <see cref="ProtocolLimits.MaxNameLength"/> UTF-8 bytes (paths are checked before any walk).</summary>
    public const int MaxEntryKeyLength = FidKeyLength + ProtocolLimits.MaxNameLength;

    public static byte[] InodeKey(LustreFid fid)
    {
        var key = new byte[FidKeyLength];
        WriteInodeKey(key, fid);
        return key;
    }

    /// <summary>Writes the inode key of <paramref name="fid"/> into <paramref name="key"/> (<see cref="FidKeyLength"/> bytes).</summary>
    public static void WriteInodeKey(Span<byte> key, LustreFid fid)
    {
        key[0] = Inode;
        WriteFid(key[1..], fid);
    }

    /// <summary>
    /// The first key past every key that starts with <paramref name="prefix"/> (its last byte below 0xFF raised by one,
    /// the 0xFF bytes after it dropped), or null when there is none (the prefix is all 0xFF): an iterator's upper bound.
    /// </summary>
    public static byte[]? PrefixEnd(ReadOnlySpan<byte> prefix)
    {
        for (var i = prefix.Length - 1; i >= 0; i--)
        {
            if (prefix[i] != 0xFF)
            {
                var end = prefix[..(i + 1)].ToArray();
                end[i]++;
                return end;
            }
        }

        return null;
    }

    public static byte[] EntryPrefix(LustreFid parent)
    {
        var key = new byte[17];
        key[0] = Entry;
        WriteFid(key.AsSpan(1), parent);
        return key;
    }

    /// <summary>The length of the key of entry <paramref name="name"/>: at most <see cref="MaxEntryKeyLength"/> for a checked name, so it fits on the stack.</summary>
    public static int EntryKeyLength(ReadOnlySpan<char> name) => FidKeyLength + Encoding.UTF8.GetByteCount(name);

    public static byte[] EntryKey(LustreFid parent, ReadOnlySpan<char> name)
    {
        var key = new byte[EntryKeyLength(name)];
        WriteEntryKey(key, parent, name);
        return key;
    }

    /// <summary>Writes the key of entry <paramref name="name"/> of <paramref name="parent"/> at the start of <paramref name="key"/>; returns its length.</summary>
    public static int WriteEntryKey(Span<byte> key, LustreFid parent, ReadOnlySpan<char> name)
    {
        key[0] = Entry;
        WriteFid(key[1..], parent);
        return FidKeyLength + Encoding.UTF8.GetBytes(name, key[FidKeyLength..]);
    }

    public static string EntryName(ReadOnlySpan<byte> key) => Encoding.UTF8.GetString(key[17..]);

    /// <summary>The length of an OST's object id counter key.</summary>
    public const int SequenceKeyLength = 5;

    public static void WriteSequenceKey(Span<byte> key, int ostIndex)
    {
        key[0] = ObjectSequence;
        BinaryPrimitives.WriteInt32BigEndian(key[1..], ostIndex);
    }

    public static byte[] StaleMirrorsKey(LustreFid fid)
    {
        var key = new byte[17];
        key[0] = StaleMirrors;
        WriteFid(key.AsSpan(1), fid);
        return key;
    }

    public static byte[] MigrationKey(LustreFid fid)
    {
        var key = new byte[17];
        key[0] = Migration;
        WriteFid(key.AsSpan(1), fid);
        return key;
    }

    public const int DataKeyLength = 21;

    public static byte[] DataKey(LustreFid fid, uint chunk)
    {
        var key = new byte[DataKeyLength];
        WriteDataKey(key, fid, chunk);
        return key;
    }

    /// <summary>Writes the key of chunk <paramref name="chunk"/> of <paramref name="fid"/>'s Data-on-MDT bytes (<see cref="DataKeyLength"/> bytes).</summary>
    public static void WriteDataKey(Span<byte> key, LustreFid fid, uint chunk)
    {
        key[0] = Data;
        WriteFid(key[1..], fid);
        BinaryPrimitives.WriteUInt32BigEndian(key[17..], chunk);
    }

    /// <summary>A key after every chunk of <paramref name="fid"/>: the exclusive end of a range delete of them all.</summary>
    public static byte[] DataEndKey(LustreFid fid)
    {
        var key = new byte[22];
        key[0] = Data;
        WriteFid(key.AsSpan(1), fid);
        key.AsSpan(17).Fill(0xFF);
        return key;
    }

    public const int DestroyKeyLength = 13;

    /// <summary>Writes the destroy-queue key of object <paramref name="objectId"/> of OST <paramref name="ostIndex"/> (<see cref="DestroyKeyLength"/> bytes).</summary>
    public static void WriteDestroyKey(Span<byte> key, int ostIndex, ulong objectId)
    {
        key[0] = DestroyQueue;
        BinaryPrimitives.WriteInt32BigEndian(key[1..], ostIndex);
        BinaryPrimitives.WriteUInt64BigEndian(key[5..], objectId);
    }

    public static (int OstIndex, ulong ObjectId) ParseDestroyKey(ReadOnlySpan<byte> key) =>
        (BinaryPrimitives.ReadInt32BigEndian(key[1..]), BinaryPrimitives.ReadUInt64BigEndian(key[5..]));

    public static void WriteFid(Span<byte> destination, LustreFid fid)
    {
        BinaryPrimitives.WriteUInt64BigEndian(destination, fid.Sequence);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], fid.ObjectId);
        BinaryPrimitives.WriteUInt32BigEndian(destination[12..], fid.Version);
    }

    public static LustreFid ReadFid(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt64BigEndian(source),
        BinaryPrimitives.ReadUInt32BigEndian(source[8..]),
        BinaryPrimitives.ReadUInt32BigEndian(source[12..]));

    /// <summary>The length of an entry's value: the child's FID and its type.</summary>
    public const int EntryValueLength = 17;

    public static void WriteEntryValue(Span<byte> value, LustreFid child, Protocol.Messages.EntryType type)
    {
        WriteFid(value, child);
        value[16] = (byte)type;
    }

    public static (LustreFid Fid, Protocol.Messages.EntryType Type) ParseEntryValue(ReadOnlySpan<byte> value)
    {
        if (value.Length != EntryValueLength)
        {
            throw new InvalidDataException($"A directory entry value has {value.Length} bytes, not {EntryValueLength}: the MDT is damaged.");
        }

        return (ReadFid(value), (Protocol.Messages.EntryType)value[16]);
    }
}
