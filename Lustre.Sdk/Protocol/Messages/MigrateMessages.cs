namespace Lustre.Protocol.Messages;

/// <summary>The steps of a layout migration (<c>lfs migrate</c>), each a <see cref="MigrateRequest"/>.</summary>
internal enum MigrateOperation : byte
{
    /// <summary>
    /// Start: the MDS places new objects for the template (Lustre's volatile file), records them durably and holds the
    /// file for the migrator for a lease; the reply says whether the copy may start (<see cref="MigrateState.Copy"/>)
    /// or writers that have the file open must close first (<see cref="MigrateState.Draining"/>). By path.
    /// </summary>
    Begin = 1,

    /// <summary>Extends the lease and reports the state and the data version (a draining migration may copy once every writer closed).</summary>
    Renew = 2,

    /// <summary>
    /// Gives the file the new objects, keeping its FID, if the data version is still the one quoted and no one has the
    /// file open for writing; the old objects go to the destroy queue in the same batch (Lustre's swap layouts with
    /// <c>SWAP_LAYOUTS_CHECK_DV1</c>).
    /// </summary>
    Swap = 3,

    /// <summary>Gives up: the new objects go to the destroy queue and the file is free again.</summary>
    Abort = 4,
}

/// <summary>How a migration treats writers.</summary>
[Flags]
internal enum MigrateFlags : byte
{
    /// <summary>Writers are held off (their opens wait) from the start of the copy to the swap, as <c>lfs migrate --block</c>.</summary>
    None = 0,

    /// <summary>
    /// <c>lfs migrate --non-block</c>: writers are not held off; the migration is refused when the file is open for
    /// writing and fails when anyone opens it for writing or changes its size before the swap.
    /// </summary>
    NonBlock = 1,
}

/// <summary>Where a migration is.</summary>
internal enum MigrateState : byte
{
    /// <summary>Writers that had the file open when it began have not all closed; new ones wait.</summary>
    Draining = 1,

    /// <summary>The migrator may copy: no writer has the file open.</summary>
    Copy = 2,

    /// <summary>The file has the new layout.</summary>
    Swapped = 3,
}

/// <summary>One step of a layout migration (<see cref="Opcode.MdsMigrate"/>).</summary>
/// <param name="Path">The file (Begin).</param>
/// <param name="Fid">The file (Renew, Swap, Abort).</param>
/// <param name="Operation">The step.</param>
/// <param name="Flags">How writers are treated (Begin).</param>
/// <param name="MigrationId">Which migration, as Begin answered (Renew, Swap, Abort).</param>
/// <param name="DataVersion">The data version the copy started from (Swap).</param>
/// <param name="Template">The new layout without objects; empty for the file's directory default (Begin).</param>
internal readonly record struct MigrateRequest(
    string Path, LustreFid Fid, MigrateOperation Operation, MigrateFlags Flags, ulong MigrationId, ulong DataVersion, byte[] Template)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteString(Path);
        Fid.Write(writer);
        writer.WriteByte((byte)Operation);
        writer.WriteByte((byte)Flags);
        writer.WriteUInt64(MigrationId);
        writer.WriteUInt64(DataVersion);
        writer.WriteBytes(Template);
    }

    public static MigrateRequest Read(ref BodyReader reader) => new(
        reader.ReadString("path", ProtocolLimits.MaxPathLength),
        LustreFid.Read(ref reader),
        (MigrateOperation)reader.ReadByte("operation"),
        (MigrateFlags)reader.ReadByte("flags"),
        reader.ReadUInt64("migration id"),
        reader.ReadUInt64("data version"),
        reader.ReadBytes("template", InodeAttributes.MaxLayoutLength).ToArray());
}

/// <summary>
/// The MDS's answer to a <see cref="MigrateRequest"/>: the state, the migration's id and the file's data version (see
/// docs/consistency.md), the lease the migrator renews within, the file's attributes (before a swap: the old layout,
/// and a capability for the old and the new objects; after: the new layout) and the new layout with its objects.
/// </summary>
internal sealed record MigrateReply(MigrateState State, ulong MigrationId, ulong DataVersion, int LeaseMs, InodeAttributes File, byte[] NewLayout)
{
    public void Write(BodyWriter writer)
    {
        writer.WriteByte((byte)State);
        writer.WriteUInt64(MigrationId);
        writer.WriteUInt64(DataVersion);
        writer.WriteInt32(LeaseMs);
        File.Write(writer);
        writer.WriteBytes(NewLayout);
    }

    public static MigrateReply Read(ref BodyReader reader)
    {
        var state = (MigrateState)reader.ReadByte("state");
        if (state is not (MigrateState.Draining or MigrateState.Copy or MigrateState.Swapped))
        {
            throw new ProtocolException($"Unknown migration state {(byte)state}.");
        }

        return new MigrateReply(
            state,
            reader.ReadUInt64("migration id"),
            reader.ReadUInt64("data version"),
            reader.ReadInt32("lease"),
            InodeAttributes.Read(ref reader),
            reader.ReadBytes("new layout", InodeAttributes.MaxLayoutLength).ToArray());
    }
}
