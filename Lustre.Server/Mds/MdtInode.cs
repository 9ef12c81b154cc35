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

    /// <summary>Bytes <see cref="WriteAttributes"/> takes.</summary>
    public int AttributesLength => InodeAttributes.MinEncodedLength + AttributesLayout.Length;

    /// <summary>Writes what <see cref="ToAttributes"/> would give, without making it (a stat's reply).</summary>
    public void WriteAttributes(BodyWriter writer, LustreFid fid, InodeFlags flags) =>
        InodeAttributes.Write(writer, fid, Type, Mode, Uid, Gid, Size, LinkCount, AccessTimeNs, ModifyTimeNs, ChangeTimeNs, AttributesLayout, flags, default);

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
        try
        {
            var reader = new BodyReader(bytes);
            var version = reader.ReadByte("version");
            if (version != FormatVersion)
            {
                throw new InvalidDataException($"Inode record format {version} is not known to this MDS.");
            }

            return new MdtInode(
                (EntryType)reader.ReadByte("type"),
                reader.ReadUInt32("mode"),
                reader.ReadUInt32("uid"),
                reader.ReadUInt32("gid"),
                reader.ReadInt64("size"),
                reader.ReadUInt32("nlink"),
                reader.ReadInt64("atime"),
                reader.ReadInt64("mtime"),
                reader.ReadInt64("ctime"),
                reader.ReadBytes("layout", InodeAttributes.MaxLayoutLength).ToArray(),
                reader.ReadBytes("default_layout", InodeAttributes.MaxLayoutLength).ToArray());
        }
        catch (ProtocolException ex)
        {
            throw new InvalidDataException($"An inode record on the MDT is damaged: {ex.Message}", ex);
        }
    }
}
