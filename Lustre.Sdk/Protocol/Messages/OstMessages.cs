namespace Lustre.Protocol.Messages;

/// <summary>Names one object on one OST; the head of every OST request.</summary>
internal readonly record struct ObjectRef(int OstIndex, ulong ObjectId)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(OstIndex);
        writer.WriteUInt64(ObjectId);
    }

    public static ObjectRef Read(ref BodyReader reader) => new(reader.ReadInt32("ost_index"), reader.ReadUInt64("object_id"));
}

/// <summary>Reads up to <see cref="Length"/> bytes at <see cref="Offset"/>; the reply's bulk holds what exists (short at the object's end).</summary>
internal readonly record struct OstReadRequest(ObjectRef Object, long Offset, int Length)
{
    /// <summary>Encoded bytes: ost_index, object_id, offset, length.</summary>
    public const int Size = 4 + 8 + 8 + 4;

    public void Write(BodyWriter writer)
    {
        Object.Write(writer);
        writer.WriteInt64(Offset);
        writer.WriteInt32(Length);
    }

    public static OstReadRequest Read(ref BodyReader reader) => new(ObjectRef.Read(ref reader), reader.ReadInt64("offset"), reader.ReadInt32("length"));
}

/// <summary>Writes the request's bulk at <see cref="Offset"/>.</summary>
internal readonly record struct OstWriteRequest(ObjectRef Object, long Offset)
{
    public void Write(BodyWriter writer)
    {
        Object.Write(writer);
        writer.WriteInt64(Offset);
    }

    public static OstWriteRequest Read(ref BodyReader reader) => new(ObjectRef.Read(ref reader), reader.ReadInt64("offset"));
}

/// <summary>Sets an object's size (truncate down, or extend with a hole).</summary>
internal readonly record struct OstPunchRequest(ObjectRef Object, long Size)
{
    public void Write(BodyWriter writer)
    {
        Object.Write(writer);
        writer.WriteInt64(Size);
    }

    public static OstPunchRequest Read(ref BodyReader reader) => new(ObjectRef.Read(ref reader), reader.ReadInt64("size"));
}

/// <summary>An object's size and allocated bytes; <see cref="Exists"/> false for an object never written.</summary>
internal readonly record struct OstAttrReply(bool Exists, long Size, long AllocatedBytes)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteBoolean(Exists);
        writer.WriteInt64(Size);
        writer.WriteInt64(AllocatedBytes);
    }

    public static OstAttrReply Read(ref BodyReader reader) => new(reader.ReadBoolean("exists"), reader.ReadInt64("size"), reader.ReadInt64("allocated"));
}

/// <summary>Names one OST (statfs).</summary>
internal readonly record struct OstIndexRequest(int OstIndex)
{
    public void Write(BodyWriter writer) => writer.WriteInt32(OstIndex);

    public static OstIndexRequest Read(ref BodyReader reader) => new(reader.ReadInt32("ost_index"));
}

/// <summary>Destroys many objects of one OST in one request: what the MDS sends for the objects of unlinked files.</summary>
internal readonly record struct OstDestroyObjectsRequest(int OstIndex, ulong[] ObjectIds)
{
    /// <summary>Objects per request at most.</summary>
    public const int MaxObjects = 1024;

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(OstIndex);
        writer.WriteInt32(ObjectIds.Length);
        foreach (var id in ObjectIds)
        {
            writer.WriteUInt64(id);
        }
    }

    public static OstDestroyObjectsRequest Read(ref BodyReader reader)
    {
        var ost = reader.ReadInt32("ost_index");
        var ids = new ulong[reader.ReadCount("object_ids", MaxObjects, sizeof(ulong))];
        for (var i = 0; i < ids.Length; i++)
        {
            ids[i] = reader.ReadUInt64("object_id");
        }

        return new OstDestroyObjectsRequest(ost, ids);
    }
}

/// <summary>One range of an <see cref="OstReadBatchRequest"/>: <see cref="Length"/> bytes of object <see cref="ObjectId"/> at <see cref="Offset"/>.</summary>
internal readonly record struct ObjectRange(ulong ObjectId, long Offset, int Length)
{
    /// <summary>Encoded bytes: object_id, offset, length.</summary>
    public const int Size = 8 + 8 + 4;

    public static ObjectRange Read(ref BodyReader reader) =>
        new(reader.ReadUInt64("object_id"), reader.ReadInt64("offset"), reader.ReadInt32("length"));
}

/// <summary>
/// Reads many ranges of objects of one OST in one request (<see cref="Opcode.OstReadBatch"/>, 3FS's USRBIO batches): a
/// loader of small files pays one round trip per batch instead of one per file. The reply has no body; its bulk is the
/// ranges' bytes back to back, each exactly its length (zeros past an object's end, as a hole reads). On a connection
/// that needs capabilities, one capability field per range follows the ranges, in the same order.
/// </summary>
internal sealed record OstReadBatchRequest(int OstIndex, ObjectRange[] Ranges)
{
    /// <summary>Ranges per request at most.</summary>
    public const int MaxRanges = 1024;

    /// <summary>Bytes of the reply's bulk: the sum of the ranges' lengths.</summary>
    public long TotalLength
    {
        get
        {
            long total = 0;
            foreach (var range in Ranges)
            {
                total += range.Length;
            }

            return total;
        }
    }

    /// <summary>
    /// <see cref="TotalLength"/> of an encoded request, read straight from <paramref name="body"/> with no array of
    /// ranges, so a server can set the reply's memory aside before the handler reads the request. Throws
    /// <see cref="ProtocolException"/> as <see cref="Read"/> does.
    /// </summary>
    public static long TotalLengthOf(ReadOnlySpan<byte> body)
    {
        var reader = new BodyReader(body);
        reader.ReadInt32("ost_index");
        var count = reader.ReadCount("ranges", MaxRanges, ObjectRange.Size);
        long total = 0;
        for (var i = 0; i < count; i++)
        {
            total += ObjectRange.Read(ref reader).Length;
        }

        return total;
    }

    public void Write(BodyWriter writer)
    {
        writer.WriteInt32(OstIndex);
        writer.WriteInt32(Ranges.Length);
        foreach (var range in Ranges)
        {
            writer.WriteUInt64(range.ObjectId);
            writer.WriteInt64(range.Offset);
            writer.WriteInt32(range.Length);
        }
    }

    /// <summary>Reads the ranges; the reader is left at the capability fields, if any.</summary>
    public static OstReadBatchRequest Read(ref BodyReader reader)
    {
        var ost = reader.ReadInt32("ost_index");
        var ranges = new ObjectRange[reader.ReadCount("ranges", MaxRanges, ObjectRange.Size)];
        for (var i = 0; i < ranges.Length; i++)
        {
            ranges[i] = ObjectRange.Read(ref reader);
        }

        return new OstReadBatchRequest(ost, ranges);
    }
}
