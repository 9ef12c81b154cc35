namespace Lustre.Protocol;

/// <summary>
/// A file identifier, as Lustre's FID: a 64-bit sequence, a 32-bit object id within it and a 32-bit version.
/// Stable across renames; printed as Lustre prints it, <c>[0x200000007:0x1:0x0]</c>.
/// </summary>
/// <param name="Sequence">The sequence the MDT allocated the identifier from.</param>
/// <param name="ObjectId">The object number inside the sequence.</param>
/// <param name="Version">The version (0 for current objects).</param>
public readonly record struct LustreFid(ulong Sequence, uint ObjectId, uint Version)
{
    /// <summary>The root directory's FID, the same as Lustre's.</summary>
    public static LustreFid Root { get; } = new(0x200000007, 1, 0);

    /// <summary>Formats as <c>[0xSEQ:0xOID:0xVER]</c>.</summary>
    public override string ToString() => $"[0x{Sequence:x}:0x{ObjectId:x}:0x{Version:x}]";

    internal void Write(BodyWriter writer)
    {
        writer.WriteUInt64(Sequence);
        writer.WriteUInt32(ObjectId);
        writer.WriteUInt32(Version);
    }

    internal static LustreFid Read(ref BodyReader reader) =>
        new(reader.ReadUInt64("fid.seq"), reader.ReadUInt32("fid.oid"), reader.ReadUInt32("fid.ver"));
}
