using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>What <c>stat</c> tells about a file or directory.</summary>
public sealed class LustreFileInfo
{
    private readonly byte[] _encodedLayout;
    private FileLayout? _layout;

    internal LustreFileInfo(string path, InodeAttributes attributes, long? glimpsedLength = null)
    {
        Path = path;
        Fid = attributes.Fid;
        IsDirectory = attributes.Type == EntryType.Directory;
        Length = glimpsedLength ?? attributes.Size;
        Mode = (UnixFileMode)(attributes.Mode & 0xFFF);
        UserId = attributes.Uid;
        GroupId = attributes.Gid;
        LinkCount = attributes.LinkCount;
        LastAccessTime = FromNs(attributes.AccessTimeNs);
        LastWriteTime = FromNs(attributes.ModifyTimeNs);
        ChangeTime = FromNs(attributes.ChangeTimeNs);
        _encodedLayout = attributes.Layout;
        IsOpenForWrite = (attributes.Flags & InodeFlags.OpenForWrite) != 0;
    }

    /// <summary>The path it was looked up by.</summary>
    public string Path { get; }

    /// <summary>The last component of <see cref="Path"/>.</summary>
    public string Name => Path == "/" ? "/" : Path[(Path.LastIndexOf('/') + 1)..];

    /// <summary>The file identifier, stable across renames.</summary>
    public LustreFid Fid { get; }

    /// <summary>True for a directory.</summary>
    public bool IsDirectory { get; }

    /// <summary>Size in bytes as the MDS records it (updated when writers flush or close).</summary>
    public long Length { get; }

    /// <summary>Permission bits.</summary>
    public UnixFileMode Mode { get; }

    /// <summary>Owner's user id.</summary>
    public uint UserId { get; }

    /// <summary>Owner's group id.</summary>
    public uint GroupId { get; }

    /// <summary>Number of names (files) or 2 + subdirectories (directories).</summary>
    public uint LinkCount { get; }

    /// <summary>Last access time.</summary>
    public DateTimeOffset LastAccessTime { get; }

    /// <summary>Last data modification time.</summary>
    public DateTimeOffset LastWriteTime { get; }

    /// <summary>Last attribute change time.</summary>
    public DateTimeOffset ChangeTime { get; }

    /// <summary>A file's layout (which OST objects hold its bytes); null for directories.</summary>
    /// <exception cref="InvalidDataException">The layout the metadata server sent is malformed (decoded when first read).</exception>
    public FileLayout? Layout => IsDirectory ? null : DecodedLayout;

    /// <summary>A directory's default layout for new files in it; null when it has none, and for files.</summary>
    /// <exception cref="InvalidDataException">The layout the metadata server sent is malformed (decoded when first read).</exception>
    public FileLayout? DefaultLayout => IsDirectory ? DecodedLayout : null;

    // Decoded when first asked for: most stats want the size and times, and a layout costs more objects than the rest.
    private FileLayout? DecodedLayout => _encodedLayout.Length == 0 ? null : _layout ??= LayoutCodec.Decode(_encodedLayout);

    /// <summary>
    /// True when some client had the file open for write at the time of the stat; <see cref="Length"/> then
    /// comes from the OSTs' object sizes (a glimpse), not only from the MDS.
    /// </summary>
    public bool IsOpenForWrite { get; }

    private static DateTimeOffset FromNs(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);
}
