using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>
/// A stat's reply written straight from a stored inode record carries exactly what the decoded inode's attributes
/// encode to, and a path walk's permission view of a record is the inode's.
/// </summary>
public sealed class MdtInodeTests
{
    private static readonly LustreFid Fid = new(0x200000401, 9, 0);

    // A file with a layout, a directory with a default layout (which its attributes carry), a file with none.
    private static readonly MdtInode[] Cases =
    [
        new MdtInode(EntryType.File, 0x81A4, 1000, 100, 3901, 1, 11, 22, 33, [1, 2, 3, 4, 5], []),
        new MdtInode(EntryType.Directory, 0x41ED, 0, 0, 0, 3, 44, 55, 66, [], [7, 8, 9]),
        new MdtInode(EntryType.File, 0x8180, 5, 6, 0, 2, 0, 0, 0, [], []),
    ];

    public static TheoryData<int> Inodes => [0, 1, 2];

    [Theory]
    [MemberData(nameof(Inodes))]
    public void A_reply_written_from_the_record_equals_the_decoded_inodes_attributes(int index)
    {
        var inode = Cases[index];
        var record = Encode(inode);
        using var expected = FrameBuffer.Rent();
        inode.ToAttributes(Fid, InodeFlags.OpenForWrite).Write(expected.Body);

        using var written = MdtInode.WriteAttributes(record, Fid, InodeFlags.OpenForWrite);

        // The bodies: the header bytes before them are stamped at send time (a pooled buffer holds old ones until then).
        Assert.Equal(expected.Written[FrameHeader.Size..].ToArray(), written.Written[FrameHeader.Size..].ToArray());
        var reader = new BodyReader(written.Written.Span[FrameHeader.Size..]);
        var attributes = InodeAttributes.Read(ref reader);
        Assert.Equal(inode.Type == EntryType.Directory ? inode.DefaultLayout : inode.Layout, attributes.Layout);
        Assert.Equal(inode.Size, attributes.Size);
    }

    [Theory]
    [MemberData(nameof(Inodes))]
    public void The_access_view_of_a_record_is_the_inodes(int index)
    {
        var inode = Cases[index];
        Assert.Equal(new InodeAccess(inode.Type, inode.Mode, inode.Uid, inode.Gid), MdtInode.DecodeAccess(Encode(inode)));
        Assert.Equal(inode.Access, MdtInode.Decode(Encode(inode)).Access);
    }

    [Fact]
    public void A_damaged_record_is_refused_by_every_reader()
    {
        var record = Encode(new MdtInode(EntryType.File, 0x81A4, 0, 0, 0, 1, 0, 0, 0, [1, 2, 3], []))[..20];

        Assert.Throws<InvalidDataException>(() => MdtInode.DecodeAccess(record));
        Assert.Throws<InvalidDataException>(() => MdtInode.WriteAttributes(record, Fid, InodeFlags.None));
    }

    private static byte[] Encode(MdtInode inode)
    {
        using var frame = FrameBuffer.Rent();
        inode.Write(frame.Body);
        return frame.Written[FrameHeader.Size..].ToArray();
    }
}
