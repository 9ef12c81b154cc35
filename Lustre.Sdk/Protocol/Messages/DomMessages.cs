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
