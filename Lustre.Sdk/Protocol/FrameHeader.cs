using System.Buffers.Binary;

namespace Lustre.Protocol;

/// <summary>
/// The fixed 40-byte little-endian header in front of every frame, request or reply.
/// See docs/protocol.md for the byte layout.
/// </summary>
internal readonly struct FrameHeader : IEquatable<FrameHeader>
{
    public const int Size = 40;

    /// <summary>"LSTR" as bytes on the wire.</summary>
    public const uint Magic = 0x5254534C;

    public const ushort CurrentVersion = 1;

    public FrameHeader(Opcode opcode, FrameFlags flags, int status, ulong xid, int bodyLength, int bulkLength, ulong bulkChecksum)
    {
        Opcode = opcode;
        Flags = flags;
        Status = status;
        Xid = xid;
        BodyLength = bodyLength;
        BulkLength = bulkLength;
        BulkChecksum = bulkChecksum;
    }

    public Opcode Opcode { get; }

    public FrameFlags Flags { get; }

    /// <summary>0 for success, otherwise a <see cref="LustreErrno"/> value; meaningful on replies.</summary>
    public int Status { get; }

    /// <summary>The transfer id that matches a reply to its request.</summary>
    public ulong Xid { get; }

    public int BodyLength { get; }

    public int BulkLength { get; }

    /// <summary>Checksum of the bulk bytes (<see cref="BulkChecksum"/>), 0 when there is no bulk.</summary>
    public ulong BulkChecksum { get; }

    public bool IsReply => (Flags & FrameFlags.Reply) != 0;

    public void Write(Span<byte> destination)
    {
        if (destination.Length < Size)
        {
            throw new ArgumentException("A frame header needs 40 bytes.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[4..], CurrentVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[6..], (ushort)Opcode);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[8..], (ushort)Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[10..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(destination[12..], Status);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[16..], Xid);
        BinaryPrimitives.WriteInt32LittleEndian(destination[24..], BodyLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[28..], BulkLength);
        BinaryPrimitives.WriteUInt64LittleEndian(destination[32..], BulkChecksum);
    }

    /// <summary>
    /// Parses and validates a header. Lengths from the wire are checked against
    /// <paramref name="maxBodyLength"/> and <paramref name="maxBulkLength"/> before anyone trusts them.
    /// </summary>
    public static FrameError TryRead(ReadOnlySpan<byte> source, int maxBodyLength, int maxBulkLength, out FrameHeader header)
    {
        header = default;
        if (source.Length < Size)
        {
            return FrameError.Truncated;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(source) != Magic)
        {
            return FrameError.BadMagic;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(source[4..]) != CurrentVersion)
        {
            return FrameError.BadVersion;
        }

        var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(source[24..]);
        if (bodyLength < 0 || bodyLength > maxBodyLength)
        {
            return FrameError.BodyTooLarge;
        }

        var bulkLength = BinaryPrimitives.ReadInt32LittleEndian(source[28..]);
        if (bulkLength < 0 || bulkLength > maxBulkLength)
        {
            return FrameError.BulkTooLarge;
        }

        if (BinaryPrimitives.ReadUInt16LittleEndian(source[10..]) != 0)
        {
            return FrameError.ReservedNotZero;
        }

        header = new FrameHeader(
            (Opcode)BinaryPrimitives.ReadUInt16LittleEndian(source[6..]),
            (FrameFlags)BinaryPrimitives.ReadUInt16LittleEndian(source[8..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[12..]),
            BinaryPrimitives.ReadUInt64LittleEndian(source[16..]),
            bodyLength,
            bulkLength,
            BinaryPrimitives.ReadUInt64LittleEndian(source[32..]));
        return FrameError.None;
    }

    public bool Equals(FrameHeader other) =>
        Opcode == other.Opcode && Flags == other.Flags && Status == other.Status && Xid == other.Xid &&
        BodyLength == other.BodyLength && BulkLength == other.BulkLength && BulkChecksum == other.BulkChecksum;

    public override bool Equals(object? obj) => obj is FrameHeader other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(Opcode, Flags, Status, Xid, BodyLength, BulkLength, BulkChecksum);

    public static bool operator ==(FrameHeader left, FrameHeader right) => left.Equals(right);

    public static bool operator !=(FrameHeader left, FrameHeader right) => !left.Equals(right);

    public override string ToString() =>
        $"{Opcode} xid={Xid} flags={Flags} status={Status} body={BodyLength} bulk={BulkLength}";
}
