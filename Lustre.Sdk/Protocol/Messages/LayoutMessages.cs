namespace Lustre.Protocol.Messages;

/// <summary>What a <see cref="LayoutRequest"/> does to the components of a file's layout.</summary>
internal enum LayoutOperation : byte
{
    /// <summary>
    /// Lustre's layout intent write: a write or truncate reaches <see cref="LayoutRequest.End"/>, so every component
    /// that starts below it gets its objects if it has none (ENODATA when the layout ends before it). Two clients asking
    /// at once get one set of objects: the second finds them and changes nothing.
    /// </summary>
    Instantiate = 1,

    /// <summary>
    /// <c>lfs setstripe --component-add</c>: <see cref="LayoutRequest.Template"/> holds the components to append, without
    /// objects, moved to start at offset 0 (a layout must); they go at <see cref="LayoutRequest.End"/>, which must be
    /// where the file's last component ends.
    /// </summary>
    AddComponents = 2,

    /// <summary>
    /// <c>lfs setstripe --component-del</c>: removes the component <see cref="LayoutRequest.ComponentId"/>, or those
    /// <see cref="LayoutRequest.Selection"/> selects, which must be at the end of the layout and have no objects yet.
    /// </summary>
    DeleteComponents = 3,
}

/// <summary>Which components a <see cref="LayoutOperation.DeleteComponents"/> selects by flags, as lfs's <c>--comp-flags</c>.</summary>
internal enum ComponentSelection : byte
{
    /// <summary>By id (<see cref="LayoutRequest.ComponentId"/>).</summary>
    ById = 0,

    /// <summary>Every instantiated component (<c>init</c>).</summary>
    Instantiated = 1,

    /// <summary>Every component without objects (<c>^init</c>).</summary>
    Uninstantiated = 2,
}

/// <summary>Changes the components of the file <paramref name="Fid"/> (<see cref="Opcode.MdsLayout"/>); the reply is its attributes with the new layout.</summary>
/// <param name="Fid">The file.</param>
/// <param name="Operation">What to do.</param>
/// <param name="End">The end of the range a write or truncate reaches (Instantiate); where the added components start (AddComponents).</param>
/// <param name="ComponentId">The component to delete, its <c>lcme_id</c> (DeleteComponents by id).</param>
/// <param name="Selection">How DeleteComponents selects: by id, or by flags.</param>
/// <param name="Template">The components to add, from offset 0 (AddComponents); empty otherwise.</param>
internal readonly record struct LayoutRequest(LustreFid Fid, LayoutOperation Operation, long End, int ComponentId, ComponentSelection Selection, byte[] Template)
{
    public void Write(BodyWriter writer)
    {
        Fid.Write(writer);
        writer.WriteByte((byte)Operation);
        writer.WriteInt64(End);
        writer.WriteUInt32((uint)ComponentId);
        writer.WriteByte((byte)Selection);
        writer.WriteBytes(Template);
    }

    public static LayoutRequest Read(ref BodyReader reader) => new(
        LustreFid.Read(ref reader),
        (LayoutOperation)reader.ReadByte("operation"),
        reader.ReadInt64("end"),
        (int)Math.Min(reader.ReadUInt32("component id"), int.MaxValue),
        (ComponentSelection)reader.ReadByte("selection"),
        reader.ReadBytes("template", InodeAttributes.MaxLayoutLength).ToArray());
}
