using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>An inode as stored on the MDT: attributes, the file's layout, a directory's default layout.</summary>
internal sealed record MdtInode(
    EntryType Type,
    uint Mode,
    uint Uid,
    uint Gid,
    long Size,
    uint LinkCount,
    long AccessTimeNs,
    long ModifyTimeNs,
    long ChangeTimeNs,
    byte[] Layout,
    byte[] DefaultLayout)
{
    private const byte FormatVersion = 1;

    /// <summary>The wire attributes; a directory reports its default layout in the layout field.</summary>
    public InodeAttributes ToAttributes(LustreFid fid, InodeFlags flags = InodeFlags.None) =>
        new(fid, Type, Mode, Uid, Gid, Size, LinkCount, AccessTimeNs, ModifyTimeNs, ChangeTimeNs, AttributesLayout, flags);

    /// <summary>The layout the wire attributes carry: a directory's default layout, a file's own.</summary>
    private byte[] AttributesLayout => Type == EntryType.Directory ? DefaultLayout : Layout;

    /// <summary>The bytes <see cref="Write(BodyWriter)"/> takes.</summary>
    public static int EncodedLength(MdtInode inode) => 64 + inode.Layout.Length + inode.DefaultLayout.Length;

    /// <summary>Writes the record as the MDT stores it (what <see cref="Decode"/> reads).</summary>
    public void Write(BodyWriter writer) => Write(writer, LinkCount, ModifyTimeNs, ChangeTimeNs);

    /// <summary>Writes the record with another link count, mtime and ctime: what a copy <c>with</c> them would write, without the copy.</summary>
    public void Write(BodyWriter writer, uint linkCount, long modifyTimeNs, long changeTimeNs)
    {
        writer.WriteByte(FormatVersion);
        writer.WriteByte((byte)Type);
        writer.WriteUInt32(Mode);
        writer.WriteUInt32(Uid);
        writer.WriteUInt32(Gid);
        writer.WriteInt64(Size);
        writer.WriteUInt32(linkCount);
        writer.WriteInt64(AccessTimeNs);
        writer.WriteInt64(modifyTimeNs);
        writer.WriteInt64(changeTimeNs);
        writer.WriteBytes(Layout);
        writer.WriteBytes(DefaultLayout);
    }

    public static MdtInode Decode(ReadOnlySpan<byte> bytes)
    {
        var record = Record.Read(bytes);
        return new MdtInode(
            record.Type, record.Mode, record.Uid, record.Gid, record.Size, record.LinkCount, record.AccessTimeNs, record.ModifyTimeNs,
            record.ChangeTimeNs, record.Layout.ToArray(), record.DefaultLayout.ToArray());
    }

    /// <summary>What a path walk needs of a stored record: its type and permission bits, with no inode object.</summary>
    public static InodeAccess DecodeAccess(ReadOnlySpan<byte> bytes) => Record.Read(bytes).Access;

    /// <summary>
    /// What a create's walk needs of a directory on the way: its permission bits and its default layout (an array only
    /// when it has one), with no inode object.
    /// </summary>
    public static (InodeAccess Access, byte[] DefaultLayout) DecodeAccessAndDefault(ReadOnlySpan<byte> bytes)
    {
        var record = Record.Read(bytes);
        return (record.Access, record.DefaultLayout.ToArray());
    }

    /// <summary>
    /// A stat's reply body from a stored record: what <see cref="ToAttributes"/> of the decoded inode would give, written
    /// in place, with no inode object or layout array (a directory reports its default layout).
    /// </summary>
    public static FrameBuffer WriteAttributes(ReadOnlySpan<byte> bytes, LustreFid fid, InodeFlags flags)
    {
        var record = Record.Read(bytes);
        var layout = record.Type == EntryType.Directory ? record.DefaultLayout : record.Layout;
        var body = FrameBuffer.Rent(64 + InodeAttributes.MinEncodedLength + layout.Length);
        InodeAttributes.Write(
            body.Body, fid, record.Type, record.Mode, record.Uid, record.Gid, record.Size, record.LinkCount, record.AccessTimeNs,
            record.ModifyTimeNs, record.ChangeTimeNs, layout, flags, default);
        return body;
    }

    /// <summary>The type and permission bits (what <see cref="Permissions"/> checks).</summary>
    public InodeAccess Access => new(Type, Mode, Uid, Gid);

    /// <summary>A stored record's fields, its layouts left in the record's bytes: the one reader of the format.</summary>
    private readonly ref struct Record
    {
        public EntryType Type { get; init; }

        public uint Mode { get; init; }

        public uint Uid { get; init; }

        public uint Gid { get; init; }

        public long Size { get; init; }

        public uint LinkCount { get; init; }

        public long AccessTimeNs { get; init; }

        public long ModifyTimeNs { get; init; }

        public long ChangeTimeNs { get; init; }

        public ReadOnlySpan<byte> Layout { get; init; }

        public ReadOnlySpan<byte> DefaultLayout { get; init; }

        public InodeAccess Access => new(Type, Mode, Uid, Gid);

        public static Record Read(ReadOnlySpan<byte> bytes)
        {
            try
            {
                var reader = new BodyReader(bytes);
                var version = reader.ReadByte("version");
                if (version != FormatVersion)
                {
                    throw new InvalidDataException($"Inode record format {version} is not known to this MDS.");
                }

                return new Record
                {
                    Type = (EntryType)reader.ReadByte("type"),
                    Mode = reader.ReadUInt32("mode"),
                    Uid = reader.ReadUInt32("uid"),
                    Gid = reader.ReadUInt32("gid"),
                    Size = reader.ReadInt64("size"),
                    LinkCount = reader.ReadUInt32("nlink"),
                    AccessTimeNs = reader.ReadInt64("atime"),
                    ModifyTimeNs = reader.ReadInt64("mtime"),
                    ChangeTimeNs = reader.ReadInt64("ctime"),
                    Layout = reader.ReadBytes("layout", InodeAttributes.MaxLayoutLength),
                    DefaultLayout = reader.ReadBytes("default_layout", InodeAttributes.MaxLayoutLength),
                };
            }
            catch (ProtocolException ex)
            {
                throw new InvalidDataException($"An inode record on the MDT is damaged: {ex.Message}", ex);
            }
        }
    }
}
