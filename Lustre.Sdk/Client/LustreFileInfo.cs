using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>What <c>stat</c> tells about a file or directory.</summary>
public sealed class LustreFileInfo
{
    // The decoded reply, which the properties read: a stat keeps that one object instead of copying every field into this one.
    private readonly InodeAttributes _attributes;
    private FileLayout? _layout;

    internal LustreFileInfo(string path, InodeAttributes attributes, long? glimpsedLength = null)
    {
        Path = path;
        _attributes = attributes;
        Length = glimpsedLength ?? attributes.Size;
    }

    /// <summary>The path it was looked up by.</summary>
    public string Path { get; }

    /// <summary>The last component of <see cref="Path"/>.</summary>
    public string Name => Path == "/" ? "/" : Path[(Path.LastIndexOf('/') + 1)..];

    /// <summary>The file identifier, stable across renames.</summary>
    public LustreFid Fid => _attributes.Fid;

    /// <summary>True for a directory.</summary>
    public bool IsDirectory => _attributes.Type == EntryType.Directory;

    /// <summary>Size in bytes as the MDS records it (updated when writers flush or close).</summary>
    public long Length { get; }

    /// <summary>Permission bits.</summary>
    public UnixFileMode Mode => (UnixFileMode)(_attributes.Mode & 0xFFF);

    /// <summary>Owner's user id.</summary>
    public uint UserId => _attributes.Uid;

    /// <summary>Owner's group id.</summary>
    public uint GroupId => _attributes.Gid;

    /// <summary>Number of names (files) or 2 + subdirectories (directories).</summary>
    public uint LinkCount => _attributes.LinkCount;

    /// <summary>Last access time.</summary>
    public DateTimeOffset LastAccessTime => FromNs(_attributes.AccessTimeNs);

    /// <summary>Last data modification time.</summary>
    public DateTimeOffset LastWriteTime => FromNs(_attributes.ModifyTimeNs);

    /// <summary>Last attribute change time.</summary>
    public DateTimeOffset ChangeTime => FromNs(_attributes.ChangeTimeNs);

    /// <summary>A file's layout (which OST objects hold its bytes); null for directories.</summary>
    /// <exception cref="InvalidDataException">The layout the metadata server sent is malformed (decoded when first read).</exception>
    public FileLayout? Layout => IsDirectory ? null : DecodedLayout;

    /// <summary>A directory's default layout for new files in it; null when it has none, and for files.</summary>
    /// <exception cref="InvalidDataException">The layout the metadata server sent is malformed (decoded when first read).</exception>
    public FileLayout? DefaultLayout => IsDirectory ? DecodedLayout : null;

    // Decoded when first asked for: most stats want the size and times, and a layout costs more objects than the rest.
    private FileLayout? DecodedLayout => _attributes.Layout.Length == 0 ? null : _layout ??= LayoutCodec.Decode(_attributes.Layout);

    /// <summary>
    /// True when some client had the file open for write at the time of the stat; <see cref="Length"/> then
    /// comes from the OSTs' object sizes (a glimpse), not only from the MDS.
    /// </summary>
    public bool IsOpenForWrite => (_attributes.Flags & InodeFlags.OpenForWrite) != 0;

    private static DateTimeOffset FromNs(long ns) => DateTimeOffset.UnixEpoch.AddTicks(ns / 100);
}
