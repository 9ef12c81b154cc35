namespace Lustre.Protocol.Messages;

/// <summary>
/// Reads [<see cref="Offset"/>, <see cref="Offset"/> + <see cref="Length"/>) of a file's Data-on-MDT component
/// (<see cref="Opcode.MdsDomRead"/>). The reply's bulk holds the bytes below the file's size (holes as zeros): a short
/// bulk means the end of the file's bytes on the MDT.
/// </summary>
internal readonly record struct DomReadRequest(LustreFid Fid, long Offset, int Length)
{
    /// <summary>Encoded bytes: fid, offset, length.</summary>
    public const int Size = 16 + 8 + 4;

    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteInt64(Offset);
        writer.WriteInt32(Length);
    }

    public static DomReadRequest Read(ref BodyReader reader) => new(LustreFid.Read(ref reader), reader.ReadInt64("offset"), reader.ReadInt32("length"));
}

/// <summary>
/// Reads ranges of many files' Data-on-MDT components in one request (<see cref="Opcode.MdsDomReadBatch"/>): a loader of
/// small files on the MDT pays one round trip per batch instead of one per file. The reply has no body; its bulk is the
/// ranges' bytes back to back, each exactly its length: zeros past a file's bytes on the MDT, as a hole reads (the
/// caller asks within the sizes its opens gave). One range the MDS refuses (no such file, no Data-on-MDT component,
/// no permission) fails the whole request, naming the file.
/// </summary>
internal sealed record DomReadBatchRequest(DomReadRequest[] Ranges)
{
    /// <summary>Ranges per request at most, as <see cref="OstReadBatchRequest.MaxRanges"/>.</summary>
    public const int MaxRanges = 1024;

    /// <summary>
    /// Bytes of the reply's bulk of an encoded request: the sum of its ranges' lengths (negative lengths count as none;
    /// the MDS refuses them), read straight from <paramref name="body"/> with no array of ranges, so a server can set the
    /// reply's memory aside before the handler reads the request. Throws <see cref="ProtocolException"/> as
    /// <see cref="Read"/> does.
    /// </summary>
    public static long TotalLengthOf(ReadOnlySpan<byte> body)
    {
        var reader = new BodyReader(body);
        var count = reader.ReadCount("ranges", MaxRanges, DomReadRequest.Size);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            total += Math.Max(0, DomReadRequest.Read(ref reader).Length);
        }

        return total;
    }

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(Ranges.Length);
        foreach (var range in Ranges)
        {
            range.Write(writer);
        }
    }

    public static DomReadBatchRequest Read(ref BodyReader reader)
    {
        var ranges = new DomReadRequest[reader.ReadCount("ranges", MaxRanges, DomReadRequest.Size)];
        for (var i = 0; i < ranges.Length; i++)
        {
            ranges[i] = DomReadRequest.Read(ref reader);
        }

        return new DomReadBatchRequest(ranges);
    }
}

/// <summary>
/// Writes the request's bulk at <see cref="Offset"/> of a file's Data-on-MDT component (<see cref="Opcode.MdsDomWrite"/>).
/// The range must lie inside the component; the reply is a <see cref="DomWriteReply"/>.
/// </summary>
internal readonly record struct DomWriteRequest(LustreFid Fid, long Offset)
{
    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteInt64(Offset);
    }

    public static DomWriteRequest Read(ref BodyReader reader) => new(LustreFid.Read(ref reader), reader.ReadInt64("offset"));
}

/// <summary>The file's size on the MDS once a Data-on-MDT write is applied (and durable).</summary>
internal readonly record struct DomWriteReply(long Size)
{
    public void Write(BodyWriter writer) => writer.WriteInt64(Size);

    public static DomWriteReply Read(ref BodyReader reader) => new(reader.ReadInt64("size"));
}
