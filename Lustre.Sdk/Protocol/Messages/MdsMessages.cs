namespace Lustre.Protocol.Messages;

/// <summary>What a namespace entry is.</summary>
internal enum EntryType : byte
{
    File = 1,
    Directory = 2,
}

/// <summary>The attributes of a file or directory as the MDS keeps them (Lustre's mdt_body).</summary>
internal sealed record InodeAttributes(
    LustreFid Fid,
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
    InodeFlags Flags = InodeFlags.None,
    byte[]? Capability = null)
{
    /// <summary>Largest encoded layout: 64 components of 2000 stripes would be far more; this bounds what a peer may claim.</summary>
    public const int MaxLayoutLength = 512 * 1024;

    /// <summary>Bytes of the encoding with an empty layout and no capability: what a list of attributes counts per item at least.</summary>
    public const int MinEncodedLength = 16 + 1 + 4 + 4 + 4 + 8 + 4 + 8 + 8 + 8 + 4 + 4 + 4;

    /// <summary>Bytes <see cref="Write(BodyWriter)"/> takes.</summary>
    public int EncodedLength => MinEncodedLength + Layout.Length + (Capability?.Length ?? 0);

    public void Write(BodyWriter writer) =>
        Write(writer, Fid, Type, Mode, Uid, Gid, Size, LinkCount, AccessTimeNs, ModifyTimeNs, ChangeTimeNs, Layout, Flags, Capability);

    /// <summary>Writes attributes from their fields: the MDS answers a stat straight from its inode record.</summary>
    public static void Write(
        BodyWriter writer, LustreFid fid, EntryType type, uint mode, uint uid, uint gid, long size, uint linkCount,
        long accessTimeNs, long modifyTimeNs, long changeTimeNs, ReadOnlySpan<byte> layout, InodeFlags flags, ReadOnlySpan<byte> capability)
    {
        fid.Write(writer);
        writer.WriteByte((byte)type);
        writer.WriteUInt32(mode);
        writer.WriteUInt32(uid);
        writer.WriteUInt32(gid);
        writer.WriteInt64(size);
        writer.WriteUInt32(linkCount);
        writer.WriteInt64(accessTimeNs);
        writer.WriteInt64(modifyTimeNs);
        writer.WriteInt64(changeTimeNs);
        writer.WriteBytes(layout);
        writer.WriteUInt32((uint)flags);

        // The OST capability an open was issued (FileCapability), or none.
        writer.WriteBytes(capability);
    }

    public static InodeAttributes Read(ref BodyReader reader)
    {
        var fid = LustreFid.Read(ref reader);
        var type = (EntryType)reader.ReadByte("type");
        if (type is not (EntryType.File or EntryType.Directory))
        {
            throw new ProtocolException($"Unknown entry type {(byte)type}.");
        }

        return new InodeAttributes(
            fid,
            type,
            reader.ReadUInt32("mode"),
            reader.ReadUInt32("uid"),
            reader.ReadUInt32("gid"),
            reader.ReadInt64("size"),
            reader.ReadUInt32("nlink"),
            reader.ReadInt64("atime"),
            reader.ReadInt64("mtime"),
            reader.ReadInt64("ctime"),
            reader.ReadBytes("layout", MaxLayoutLength).ToArray(),
            (InodeFlags)reader.ReadUInt32("flags"),
            reader.ReadBytes("capability", FileCapability.MaxEncodedLength) is { IsEmpty: false } capability ? capability.ToArray() : null);
    }
}

/// <summary>State the MDS reports with attributes.</summary>
[Flags]
internal enum InodeFlags : uint
{
    None = 0,

    /// <summary>Some client has the file open for write: its size on the MDS may be stale, ask the OSTs (glimpse).</summary>
    OpenForWrite = 1,

    /// <summary>This open created the file (so it has no data to truncate).</summary>
    Created = 2,
}

/// <summary>
/// Closes a file opened with <see cref="OpenFlags.Write"/>. A writer that flushed its data sends the size it knows
/// (<see cref="Size"/> &gt;= 0) so the MDS records it durably in the same operation (Lustre's size-on-close): one
/// commit instead of a setattr and a close. <see cref="NoSize"/> closes without touching the size.
/// </summary>
internal readonly record struct CloseRequest(LustreFid Fid, bool Writer, long Size = CloseRequest.NoSize, long ModifyTimeNs = 0)
{
    public const long NoSize = -1;

    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteBoolean(Writer);
        writer.WriteInt64(Size);
        writer.WriteInt64(ModifyTimeNs);
    }

    public static CloseRequest Read(ref BodyReader reader) =>
        new(LustreFid.Read(ref reader), reader.ReadBoolean("writer"), reader.ReadInt64("size"), reader.ReadInt64("mtime"));
}

/// <summary>
/// Asks for fresh OST capabilities for a file already open (<see cref="Opcode.MdsCapability"/>): before the last ones
/// expire, or when its layout gained objects. The MDS checks the caller's permission again, on the file itself.
/// </summary>
internal readonly record struct CapabilityRequest(LustreFid Fid, OpenFlags Flags)
{
    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteUInt32((uint)Flags);
    }

    public static CapabilityRequest Read(ref BodyReader reader) => new(LustreFid.Read(ref reader), (OpenFlags)reader.ReadUInt32("flags"));
}

/// <summary>A request that names one path (getattr, rmdir, unlink).</summary>
internal readonly record struct PathRequest(string Path)
{
    public void Write(BodyWriter writer) => writer.WriteString(Path);

    public static PathRequest Read(ref BodyReader reader) => new(reader.ReadString("path", ProtocolLimits.MaxPathLength));
}

/// <summary>Flags of an open.</summary>
[Flags]
internal enum OpenFlags : uint
{
    None = 0,

    /// <summary>Create the file when it does not exist.</summary>
    Create = 1,

    /// <summary>With <see cref="Create"/>: fail with EEXIST when it exists.</summary>
    Exclusive = 2,

    /// <summary>Opened for writing: until the matching close, stats of the file glimpse the OSTs for its size.</summary>
    Write = 4,

    /// <summary>Opened for reading (an open with neither this nor <see cref="Write"/> is for reading too).</summary>
    Read = 8,
}

/// <summary>
/// Opens (and maybe creates) a file; a new file gets the layout given, else its directory's default, else the
/// filesystem's. <see cref="ReadOnOpen"/> (a trailing field, sent only when above 0) is the most bytes of file data the
/// client takes as the reply's bulk: an open for reading only of a file whose bytes all live in its Data-on-MDT
/// component, no more than that, gets them in the reply (Lustre's read-on-open).
/// </summary>
internal readonly record struct OpenRequest(string Path, OpenFlags Flags, uint Mode, byte[] Layout, int ReadOnOpen = 0)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteUInt32((uint)Flags);
        writer.WriteUInt32(Mode);
        writer.WriteBytes(Layout);
        if (ReadOnOpen > 0)
        {
            writer.WriteInt32(ReadOnOpen);
        }
    }

    /// <summary>True for an open that may get the file's bytes: for reading only (no Write, no Create), asking for some.</summary>
    public bool WantsData => ReadOnOpen > 0 && (Flags & (OpenFlags.Write | OpenFlags.Create)) == 0;

    public static OpenRequest Read(ref BodyReader reader) => new(
        reader.ReadString("path", ProtocolLimits.MaxPathLength),
        (OpenFlags)reader.ReadUInt32("flags"),
        reader.ReadUInt32("mode"),
        reader.ReadBytes("layout", InodeAttributes.MaxLayoutLength).ToArray(),
        reader.Remaining >= sizeof(int) ? reader.ReadInt32("read_on_open") : 0);

    /// <summary>
    /// The bytes of file data an encoded open may get back as bulk (<see cref="ReadOnOpen"/> of an open that
    /// <see cref="WantsData"/>, at most the bulk limit), found by skipping over the path and layout without decoding
    /// them: what the server sets aside before it reads the request. A malformed body counts 0.
    /// </summary>
    public static int ReplyBulkBytes(ReadOnlySpan<byte> body)
    {
        if (body.Length < 2)
        {
            return 0;
        }

        var at = 2 + System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(body);
        if (body.Length < at + 12)
        {
            return 0;
        }

        var flags = (OpenFlags)System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(body[at..]);
        var layout = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body[(at + 8)..]);
        if (layout < 0 || (flags & (OpenFlags.Write | OpenFlags.Create)) != 0 || body.Length - (at + 12) - sizeof(int) < layout)
        {
            return 0;
        }

        return Math.Clamp(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body[(at + 12 + layout)..]), 0, ProtocolLimits.MaxBulkLength);
    }
}

/// <summary>Which fields of a <see cref="SetAttrRequest"/> apply.</summary>
[Flags]
internal enum SetAttrMask : uint
{
    None = 0,

    /// <summary>Set the size exactly (truncate or extend).</summary>
    Size = 1,
    Mode = 2,
    Uid = 4,
    Gid = 8,
    AccessTime = 16,
    ModifyTime = 32,

    /// <summary>Raise the size to at least the value (a writer's close: concurrent writers never shrink a file).</summary>
    SizeAtLeast = 64,
}

/// <summary>Changes attributes of the file or directory with the given FID.</summary>
internal readonly record struct SetAttrRequest(LustreFid Fid, SetAttrMask Mask, long Size, uint Mode, uint Uid, uint Gid, long AccessTimeNs, long ModifyTimeNs)
{
    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteUInt32((uint)Mask);
        writer.WriteInt64(Size);
        writer.WriteUInt32(Mode);
        writer.WriteUInt32(Uid);
        writer.WriteUInt32(Gid);
        writer.WriteInt64(AccessTimeNs);
        writer.WriteInt64(ModifyTimeNs);
    }

    public static SetAttrRequest Read(ref BodyReader reader) => new(
        LustreFid.Read(ref reader),
        (SetAttrMask)reader.ReadUInt32("mask"),
        reader.ReadInt64("size"),
        reader.ReadUInt32("mode"),
        reader.ReadUInt32("uid"),
        reader.ReadUInt32("gid"),
        reader.ReadInt64("atime"),
        reader.ReadInt64("mtime"));
}

/// <summary>Reads one page of a directory, after the name <see cref="Cookie"/> ("" for the first page).</summary>
internal readonly record struct ReadDirRequest(string Path, string Cookie, int MaxEntries)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteString(Cookie);
        writer.WriteInt32(MaxEntries);
    }

    public static ReadDirRequest Read(ref BodyReader reader) => new(
        reader.ReadString("path", ProtocolLimits.MaxPathLength),
        reader.ReadString("cookie", ProtocolLimits.MaxNameLength),
        reader.ReadInt32("max_entries"));
}

/// <summary>One directory entry.</summary>
internal readonly record struct DirEntry(string Name, EntryType Type, LustreFid Fid);

/// <summary>A page of entries in name order; <see cref="End"/> when no more follow.</summary>
internal sealed record ReadDirReply(IReadOnlyList<DirEntry> Entries, bool End)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Entries.Count);
        foreach (var entry in Entries)
        {
            writer.WriteString(entry.Name);
            writer.WriteByte((byte)entry.Type);
            entry.Fid.Write(writer);
        }

        writer.WriteBoolean(End);
    }

    public static ReadDirReply Read(ref BodyReader reader)
    {
        var count = reader.ReadCount("entries", ProtocolLimits.MaxDirectoryPageEntries, 19);
        var entries = new DirEntry[count];
        for (var i = 0; i < count; i++)
        {
            var name = reader.ReadString("name", ProtocolLimits.MaxNameLength);
            var type = (EntryType)reader.ReadByte("type");
            if (type is not (EntryType.File or EntryType.Directory))
            {
                throw new ProtocolException($"Unknown entry type {(byte)type} for '{name}'.");
            }

            entries[i] = new DirEntry(name, type, LustreFid.Read(ref reader));
        }

        return new ReadDirReply(entries, reader.ReadBoolean("end"));
    }
}

/// <summary>
/// Reads one page of a directory with each entry's attributes and layout (readdir-plus, <see cref="Opcode.MdsReadDirPlus"/>),
/// after the name <see cref="Cookie"/> ("" for the first page). The page holds at most <see cref="MaxEntries"/> entries
/// (and never more than <see cref="ProtocolLimits.MaxDirectoryPageEntries"/>) and at most <see cref="MaxBytes"/> body
/// bytes (and never more than <see cref="ProtocolLimits.MaxMetadataPageBytes"/>), except that a page always holds its
/// first entry, whatever its size, so a listing always moves on.
/// </summary>
internal readonly record struct ReadDirPlusRequest(string Path, string Cookie, int MaxEntries, int MaxBytes)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteString(Cookie);
        writer.WriteInt32(MaxEntries);
        writer.WriteInt32(MaxBytes);
    }

    public static ReadDirPlusRequest Read(ref BodyReader reader) => new(
        reader.ReadString("path", ProtocolLimits.MaxPathLength),
        reader.ReadString("cookie", ProtocolLimits.MaxNameLength),
        reader.ReadInt32("max_entries"),
        reader.ReadInt32("max_bytes"));
}

/// <summary>One entry of a readdir-plus page: its name and its attributes as a getattr of it would return them.</summary>
internal sealed record DirEntryPlus(string Name, InodeAttributes Attributes)
{
    /// <summary>Bytes the entry takes in a page.</summary>
    public int EncodedLength => 2 + System.Text.Encoding.UTF8.GetByteCount(Name) + Attributes.EncodedLength;
}

/// <summary>A readdir-plus page in name order; <see cref="End"/> when no more follow.</summary>
internal sealed record ReadDirPlusReply(IReadOnlyList<DirEntryPlus> Entries, bool End)
{
    /// <summary>Bytes of a page besides its entries: the count and the end flag.</summary>
    public const int Overhead = 4 + 1;

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Entries.Count);
        foreach (var entry in Entries)
        {
            writer.WriteString(entry.Name);
            entry.Attributes.Write(writer);
        }

        writer.WriteBoolean(End);
    }

    public static ReadDirPlusReply Read(ref BodyReader reader)
    {
        var count = reader.ReadCount("entries", ProtocolLimits.MaxDirectoryPageEntries, 2 + InodeAttributes.MinEncodedLength);
        var entries = new DirEntryPlus[count];
        for (var i = 0; i < count; i++)
        {
            entries[i] = new DirEntryPlus(reader.ReadString("name", ProtocolLimits.MaxNameLength), InodeAttributes.Read(ref reader));
        }

        return new ReadDirPlusReply(entries, reader.ReadBoolean("end"));
    }
}

/// <summary>
/// The attributes of many paths in one request (<see cref="Opcode.MdsGetAttrBatch"/>), each looked up as its own
/// getattr would be. With <see cref="OpenFlags.Read"/> in <see cref="Flags"/>, each is opened for reading as an
/// <see cref="OpenRequest"/> without create would open it (read permission checked, a capability issued); no other
/// flag is allowed: a batch never changes anything. <see cref="Lease"/> (a trailing field, written only when set) asks
/// for a statahead lease over the answers (<see cref="GetAttrBatchReply.Lease"/>); a server that grants none may then
/// answer only the first path. <see cref="ReadOnOpen"/> (a trailing field after the lease, written only when both are
/// set, with <see cref="OpenFlags.Read"/>) asks for the bytes of each file opened that all live on the MDT and are no
/// more than that many (read-on-open for a whole batch: <see cref="GetAttrBatchReply.ReadData"/>).
/// </summary>
internal sealed record GetAttrBatchRequest(OpenFlags Flags, IReadOnlyList<string> Paths, bool Lease = false, int ReadOnOpen = 0)
{
    /// <summary>
    /// The most bytes of one file a batch may ask for: what a reply's body holds besides
    /// <see cref="GetAttrBatchReply.MaxWithData"/>, so that a batch's first file, always answered, never takes the body past
    /// its limit.
    /// </summary>
    public const int MaxReadOnOpen = ProtocolLimits.MaxBodyLength - GetAttrBatchReply.MaxWithData;

    public void Write(BodyWriter writer)
    {
        writer.WriteUInt32((uint)Flags);
        writer.WriteInt32(Paths.Count);
        foreach (var path in Paths)
        {
            writer.WriteString(path);
        }

        WriteTrailer(writer, Lease, ReadOnOpen);
    }

    private static void WriteTrailer(BodyWriter writer, bool lease, int readOnOpen)
    {
        if (lease)
        {
            writer.WriteBoolean(true);
            if (readOnOpen > 0)
            {
                writer.WriteInt32(readOnOpen);
            }
        }
    }

    public static GetAttrBatchRequest Read(ref BodyReader reader)
    {
        var flags = (OpenFlags)reader.ReadUInt32("flags");
        var count = reader.ReadCount("paths", ProtocolLimits.MaxBatchPaths, 2);
        var paths = new string[count];
        for (var i = 0; i < count; i++)
        {
            paths[i] = reader.ReadString("path", ProtocolLimits.MaxPathLength);
        }

        var lease = reader.Remaining > 0 && reader.ReadBoolean("lease");
        var readOnOpen = lease && reader.Remaining > 0 ? reader.ReadInt32("read_on_open") : 0;
        if (readOnOpen is < 0 or > MaxReadOnOpen)
        {
            throw new ProtocolException($"Field 'read_on_open' must be 0 to {MaxReadOnOpen} bytes, got {readOnOpen}.");
        }

        if (readOnOpen > 0 && (flags & OpenFlags.Read) == 0)
        {
            throw new ProtocolException("Field 'read_on_open' needs the Read flag: only a batch of opens for reading reads files' bytes.");
        }

        return new GetAttrBatchRequest(flags, paths, lease, readOnOpen);
    }

    /// <summary>
    /// Writes what a request of <paramref name="count"/> numbered names with a lease writes: each
    /// <paramref name="prefix"/> followed by <paramref name="first"/>, <paramref name="first"/> + 1, ..., zero-padded to
    /// <paramref name="width"/> digits (0: not padded), built in place with no string each. Stats, or with
    /// <see cref="OpenFlags.Read"/> opens for reading that bring up to <paramref name="readOnOpen"/> bytes of each file.
    /// </summary>
    public static void WriteNumbered(BodyWriter writer, ReadOnlySpan<char> prefix, long first, int count, int width, OpenFlags flags = OpenFlags.None, int readOnOpen = 0)
    {
        writer.WriteUInt32((uint)flags);
        writer.WriteInt32(count);
        Span<char> name = stackalloc char[prefix.Length + 20];
        prefix.CopyTo(name);
        for (var i = 0; i < count; i++)
        {
            var number = first + i;
            var digits = Math.Max(width, Digits(number));
            var end = prefix.Length + digits;
            for (var at = end - 1; at >= prefix.Length; at--)
            {
                name[at] = (char)('0' + (number % 10));
                number /= 10;
            }

            writer.WriteString(name[..end]);
        }

        WriteTrailer(writer, lease: true, readOnOpen);
    }

    /// <summary>Decimal digits of a number at least 0.</summary>
    public static int Digits(long number)
    {
        var digits = 1;
        for (; number >= 10; number /= 10)
        {
            digits++;
        }

        return digits;
    }
}

/// <summary>One path's answer in a <see cref="GetAttrBatchReply"/>: its attributes, or the errno and message its own getattr (or open) would have failed with.</summary>
internal sealed record GetAttrResult(LustreErrno Status, InodeAttributes? Attributes, string Message)
{
    /// <summary>Longest message kept, in UTF-16 code units, as error replies keep theirs.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>Longest message read, in UTF-8 bytes.</summary>
    public const int MaxMessageBytes = 4096;

    public static GetAttrResult Ok(InodeAttributes attributes) => new(0, attributes, string.Empty);

    public static GetAttrResult Failed(LustreErrno status, string message) =>
        new(status, null, message.Length > MaxMessageLength ? message[..MaxMessageLength] : message);

    /// <summary>Bytes the result takes in a reply.</summary>
    public int EncodedLength => 4 + (Attributes?.EncodedLength ?? 2 + System.Text.Encoding.UTF8.GetByteCount(Message));

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32((int)Status);
        if (Status == 0)
        {
            Attributes!.Write(writer);
        }
        else
        {
            writer.WriteString(Message);
        }
    }

    public static GetAttrResult Read(ref BodyReader reader)
    {
        var status = ReadStatus(ref reader);
        return status == 0
            ? Ok(InodeAttributes.Read(ref reader))
            : new GetAttrResult((LustreErrno)status, null, reader.ReadString("message", MaxMessageBytes));
    }

    /// <summary>Reads a result as <see cref="Read"/> does, but gives only its attributes: null for a failure, whose message is skipped.</summary>
    public static InodeAttributes? ReadAttributes(ref BodyReader reader)
    {
        if (ReadStatus(ref reader) == 0)
        {
            return InodeAttributes.Read(ref reader);
        }

        reader.SkipString("message", MaxMessageBytes);
        return null;
    }

    private static int ReadStatus(ref BodyReader reader)
    {
        var status = reader.ReadInt32("status");
        return status >= 0 ? status : throw new ProtocolException($"Field 'status' must be 0 or a positive errno, got {status}.");
    }
}

/// <summary>
/// The answers to the first <see cref="Results"/>.Count paths of a <see cref="GetAttrBatchRequest"/>, in its order. A
/// reply may answer fewer paths than were asked (never none), to stay within
/// <see cref="ProtocolLimits.MaxMetadataPageBytes"/>: the client asks again for the rest. <see cref="Lease"/> (a trailing
/// field, written only when not zero) is the statahead lease granted over the answers: no change applies on the MDT
/// until it has passed since the MDS read them, so the client may answer stats of these paths from them until it has
/// passed since it sent the request. A request that asked for files' bytes (<see cref="GetAttrBatchRequest.ReadOnOpen"/>)
/// gets the lease written even when none was granted (zero), then a byte blob per answered path: the file's bytes, or
/// none (a file not opened, empty, larger than asked, with bytes on OSTs or open for write).
/// </summary>
internal sealed record GetAttrBatchReply(IReadOnlyList<GetAttrResult> Results, TimeSpan Lease = default, ulong LeaseId = 0)
{
    /// <summary>Bytes of a reply besides its results: the count and the lease (its length and id).</summary>
    public const int Overhead = 4 + 4 + 8;

    /// <summary>
    /// The most bytes of a reply that brings files' bytes: results and bytes together, within a frame's body. Only
    /// statahead of opens asks for bytes, and it holds one such reply per stream of names.
    /// </summary>
    public const int MaxWithData = ProtocolLimits.MaxBodyLength - (64 << 10);

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Results.Count);
        foreach (var result in Results)
        {
            result.Write(writer);
        }

        WriteLease(writer, Lease, LeaseId);
    }

    /// <summary>Writes the trailing lease after the results, its length and the id that releases it: nothing for none.</summary>
    public static void WriteLease(BodyWriter writer, TimeSpan lease, ulong id, bool always = false)
    {
        if (lease > TimeSpan.Zero || always)
        {
            writer.WriteUInt32((uint)lease.TotalMicroseconds);
            writer.WriteUInt64(id);
        }
    }

    public static GetAttrBatchReply Read(ref BodyReader reader)
    {
        var count = ReadCount(ref reader);
        var results = new GetAttrResult[count];
        for (var i = 0; i < count; i++)
        {
            results[i] = GetAttrResult.Read(ref reader);
        }

        var (lease, id) = ReadLease(ref reader);
        return new GetAttrBatchReply(results, lease, id);
    }

    /// <summary>Reads the result count, the reply's first field.</summary>
    public static int ReadCount(ref BodyReader reader) =>
        // The smallest result is a failure with an empty message: a status and a string length.
        reader.ReadCount("results", ProtocolLimits.MaxBatchPaths, 4 + 2);

    /// <summary>Reads the trailing lease after the results: zero when there is none.</summary>
    public static (TimeSpan Lease, ulong Id) ReadLease(ref BodyReader reader) =>
        reader.Remaining > 0 ? (TimeSpan.FromMicroseconds(reader.ReadUInt32("lease_us")), reader.ReadUInt64("lease_id")) : (TimeSpan.Zero, 0);

    /// <summary>
    /// Reads the bytes of the <paramref name="count"/> answered files after the lease, each into an array of
    /// <see cref="System.Buffers.ArrayPool{T}.Shared"/> when it is exactly its answer's size (else null); all null when the
    /// server sent none (one that predates them).
    /// </summary>
    public static byte[]?[] ReadData(ref BodyReader reader, int count, int max, InodeAttributes? first, InodeAttributes?[] answers)
    {
        var data = new byte[]?[count];
        if (reader.Remaining == 0)
        {
            return data;
        }

        for (var i = 0; i < count; i++)
        {
            var bytes = reader.ReadBytes("data", max);
            var attributes = i == 0 ? first : answers[i];
            if (bytes.Length > 0 && attributes is not null && attributes.Size == bytes.Length)
            {
                var copy = System.Buffers.ArrayPool<byte>.Shared.Rent(bytes.Length);
                bytes.CopyTo(copy);
                data[i] = copy;
            }
        }

        return data;
    }
}

/// <summary>Ends the statahead lease <see cref="LeaseId"/> (<see cref="Opcode.MdsStatAheadRelease"/>); the reply is empty.</summary>
internal readonly record struct StatAheadReleaseRequest(ulong LeaseId)
{
    public void Write(BodyWriter writer) => writer.WriteUInt64(LeaseId);

    public static StatAheadReleaseRequest Read(ref BodyReader reader) => new(reader.ReadUInt64("lease_id"));
}

/// <summary>Creates a directory.</summary>
internal readonly record struct MkdirRequest(string Path, uint Mode)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteUInt32(Mode);
    }

    public static MkdirRequest Read(ref BodyReader reader) => new(reader.ReadString("path", ProtocolLimits.MaxPathLength), reader.ReadUInt32("mode"));
}

/// <summary>Renames <see cref="From"/> to <see cref="To"/>, replacing a file or empty directory there as POSIX rename does.</summary>
internal readonly record struct RenameRequest(string From, string To)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(From);
        writer.WriteString(To);
    }

    public static RenameRequest Read(ref BodyReader reader) => new(
        reader.ReadString("from", ProtocolLimits.MaxPathLength),
        reader.ReadString("to", ProtocolLimits.MaxPathLength));
}

/// <summary>Sets (or, with an empty layout, removes) a directory's default layout for new files.</summary>
internal readonly record struct SetDirLayoutRequest(string Path, byte[] Layout)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteBytes(Layout);
    }

    public static SetDirLayoutRequest Read(ref BodyReader reader) => new(
        reader.ReadString("path", ProtocolLimits.MaxPathLength),
        reader.ReadBytes("layout", InodeAttributes.MaxLayoutLength).ToArray());
}

/// <summary>
/// Space and inode usage of a target (MDT or OST): the data behind <c>lfs df</c>. <paramref name="FreeObjects"/> and
/// <paramref name="State"/> are trailing fields: a reply from an older server has neither (0 and none).
/// </summary>
internal readonly record struct StatFsReply(long TotalBytes, long AvailableBytes, long UsedBytes, long Objects, long FreeObjects = 0, Client.LustreTargetState State = Client.LustreTargetState.None)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteInt64(TotalBytes);
        writer.WriteInt64(AvailableBytes);
        writer.WriteInt64(UsedBytes);
        writer.WriteInt64(Objects);
        writer.WriteInt64(FreeObjects);
        writer.WriteUInt32((uint)State);
    }

    public static StatFsReply Read(ref BodyReader reader)
    {
        var reply = new StatFsReply(reader.ReadInt64("total"), reader.ReadInt64("available"), reader.ReadInt64("used"), reader.ReadInt64("objects"));
        return reader.Remaining == 0
            ? reply
            : reply with { FreeObjects = reader.ReadInt64("free_objects"), State = (Client.LustreTargetState)reader.ReadUInt32("state") };
    }
}

/// <summary>Asks the MDS for an online backup of the MDT (a RocksDB checkpoint) in its backup folder, under <paramref name="Name"/>.</summary>
internal readonly record struct MdtBackupRequest(string Name)
{
    /// <summary>Backup names are one path component: letters, digits, '.', '-' and '_', not starting with '.'.</summary>
    public const int MaxNameLength = 64;

    public void Write(BodyWriter writer) => writer.WriteString(Name);

    public static MdtBackupRequest Read(ref BodyReader reader) => new(reader.ReadString("name", MaxNameLength));

    public static bool IsValidName(string name)
    {
        if (name.Length is 0 or > MaxNameLength || name[0] == '.')
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '-' or '_'))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>Where the MDS wrote the backup (a folder on the MDS host) and the MDT commit it holds.</summary>
internal readonly record struct MdtBackupReply(string Path, ulong Commit)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        writer.WriteUInt64(Commit);
    }

    public static MdtBackupReply Read(ref BodyReader reader) => new(reader.ReadString("path", ProtocolLimits.MaxPathLength), reader.ReadUInt64("commit"));
}

/// <summary>What a <see cref="MirrorRequest"/> does to a file's mirrors.</summary>
internal enum MirrorOperation : byte
{
    /// <summary>A write missed the mirror: mark it stale (refused when it is the last one in sync).</summary>
    MarkStale = 1,

    /// <summary>A resync copied the file to the mirror: clear its stale flag, if the layout is still at the generation the resync started from and no one has the file open for writing.</summary>
    MarkSynced = 2,

    /// <summary>Remove the mirror and destroy its objects (refused for the last one in sync).</summary>
    Split = 3,

    /// <summary>Add the mirrors of the template in <see cref="MirrorRequest.Template"/>, stale until resynced.</summary>
    Extend = 4,

    /// <summary>
    /// A resync starts: the MDS gives it the file alone (EBUSY while another resync runs or a writer has it open) and a
    /// new generation, which its <see cref="MarkSynced"/> must quote.
    /// </summary>
    BeginResync = 5,

    /// <summary>A resync gave up: the file is free for another.</summary>
    EndResync = 6,
}

/// <summary>Changes the mirrors of the file <paramref name="Fid"/>; the reply is its attributes with the new layout.</summary>
/// <param name="Fid">The file.</param>
/// <param name="Operation">What to do.</param>
/// <param name="MirrorId">The mirror (MarkStale, MarkSynced, Split).</param>
/// <param name="Generation">The layout generation the caller read (MarkSynced).</param>
/// <param name="Template">The layout of the mirrors to add, plain or mirrored, without objects (Extend).</param>
internal readonly record struct MirrorRequest(LustreFid Fid, MirrorOperation Operation, int MirrorId, uint Generation, byte[] Template)
{
    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteByte((byte)Operation);
        writer.WriteUInt32((uint)MirrorId);
        writer.WriteUInt32(Generation);
        writer.WriteBytes(Template);
    }

    public static MirrorRequest Read(ref BodyReader reader) => new(
        LustreFid.Read(ref reader),
        (MirrorOperation)reader.ReadByte("operation"),
        (int)Math.Min(reader.ReadUInt32("mirror id"), int.MaxValue),
        reader.ReadUInt32("generation"),
        reader.ReadBytes("template", InodeAttributes.MaxLayoutLength).ToArray());
}

/// <summary>
/// Opens up to <see cref="MaxFiles"/> files for reading by FID in one request (<see cref="Opcode.MdsOpenBatch"/>), as
/// Lustre's client opens a file it has already looked up (<c>MDS_OPEN_BY_FID</c>): a loader of one-file-per-sample data
/// sets lists the directories once (readdir gives each entry's FID) and then pays one round trip per thousand files
/// instead of one path walk and round trip per file. Each FID gets its own status. As <see cref="Opcode.MdsCapability"/>,
/// the permission checked is the file's own read permission. Only <see cref="OpenFlags.Read"/> may be set: nothing is
/// created or opened for writing, so the request changes nothing and is not recorded for resends.
/// </summary>
internal sealed record OpenBatchRequest(OpenFlags Flags, IReadOnlyList<LustreFid> Fids)
{
    /// <summary>Files per request at most.</summary>
    public const int MaxFiles = 1024;

    /// <summary>Bytes of one encoded FID.</summary>
    private const int FidLength = 16;

    public void Write(BodyWriter writer)
    {
        writer.WriteUInt32((uint)Flags);
        writer.WriteInt32(Fids.Count);
        foreach (var fid in Fids)
        {
            fid.Write(writer);
        }
    }

    public static OpenBatchRequest Read(ref BodyReader reader)
    {
        var flags = (OpenFlags)reader.ReadUInt32("flags");
        var fids = new LustreFid[reader.ReadCount("fids", MaxFiles, FidLength)];
        for (var i = 0; i < fids.Length; i++)
        {
            fids[i] = LustreFid.Read(ref reader);
        }

        return new OpenBatchRequest(flags, fids);
    }
}

/// <summary>One FID's answer in an <see cref="OpenBatchReply"/>: the file's attributes (with a capability), or why it was not opened.</summary>
/// <param name="Status">0, or why the file was not opened (ESTALE: no such FID; EISDIR; EACCES).</param>
/// <param name="Message">The error message (empty on success).</param>
/// <param name="Attributes">The attributes on success, else null.</param>
internal sealed record OpenBatchEntry(LustreErrno Status, string Message, InodeAttributes? Attributes)
{
    /// <summary>Longest error message an entry carries.</summary>
    public const int MaxMessageLength = 1024;

    /// <summary>Bytes this entry takes in a reply (the MDS stops adding entries before the body limit).</summary>
    public int EncodedLength => sizeof(int) + (Attributes?.EncodedLength ?? sizeof(ushort) + System.Text.Encoding.UTF8.GetByteCount(Message));

    public static OpenBatchEntry Failed(LustreErrno status, string message) =>
        new(status, message.Length > MaxMessageLength / 4 ? message[..(MaxMessageLength / 4)] : message, null);

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32((int)Status);
        if (Attributes is { } attributes)
        {
            attributes.Write(writer);
        }
        else
        {
            writer.WriteString(Message);
        }
    }

    public static OpenBatchEntry Read(ref BodyReader reader)
    {
        var status = reader.ReadInt32("status");
        if (status < 0)
        {
            throw new ProtocolException($"Open batch entry status {status} is negative.");
        }

        return status == 0
            ? new OpenBatchEntry(0, string.Empty, InodeAttributes.Read(ref reader))
            : new OpenBatchEntry((LustreErrno)status, reader.ReadString("message", MaxMessageLength), null);
    }
}

/// <summary>
/// The answers to the first <c>Entries.Count</c> FIDs of an <see cref="OpenBatchRequest"/>, in request order. The MDS
/// answers fewer than were asked when the rest would not fit one reply body (always at least one); the client asks
/// again for the rest.
/// </summary>
internal sealed record OpenBatchReply(IReadOnlyList<OpenBatchEntry> Entries)
{
    /// <summary>The body bytes the MDS fills at most, well inside <see cref="ProtocolLimits.MaxBodyLength"/>.</summary>
    public const int MaxBodyBytes = ProtocolLimits.MaxBodyLength - (64 << 10);

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Entries.Count);
        foreach (var entry in Entries)
        {
            entry.Write(writer);
        }
    }

    public static OpenBatchReply Read(ref BodyReader reader)
    {
        // The smallest entry is a failure with an empty message: status and the message's length.
        var entries = new OpenBatchEntry[reader.ReadCount("entries", OpenBatchRequest.MaxFiles, sizeof(int) + sizeof(ushort))];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = OpenBatchEntry.Read(ref reader);
        }

        return new OpenBatchReply(entries);
    }
}
