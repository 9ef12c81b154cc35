namespace Lustre.Layouts;

/// <summary>
/// One mirror of a file with file-level redundancy (Lustre's FLR): a complete copy of the file, laid out as a plain
/// or PFL layout of its own, on OSTs that no other mirror of the file uses. Instances are immutable.
/// </summary>
public sealed class LayoutMirror
{
    /// <summary>The largest mirror id: 15 bits, as in Lustre's component ids (mirror id, shifted left 16, or the component number).</summary>
    public const int MaxId = 0x7FFF;

    /// <summary>Creates a mirror.</summary>
    /// <param name="id">The mirror id, 1 to <see cref="MaxId"/>, unique within the file (Lustre's <c>lcme_mirror_id</c>).</param>
    /// <param name="layout">The mirror's own layout; it must not be mirrored itself.</param>
    /// <param name="flags">Stale and preferred.</param>
    /// <exception cref="ArgumentOutOfRangeException">The id or flags are out of range.</exception>
    /// <exception cref="ArgumentException">The layout is mirrored itself.</exception>
    public LayoutMirror(int id, FileLayout layout, MirrorFlags flags = MirrorFlags.None)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(id, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(id, MaxId);
        ArgumentNullException.ThrowIfNull(layout);
        if ((flags & ~(MirrorFlags.Stale | MirrorFlags.Prefer)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(flags), flags, "Only the Stale and Prefer flags are known.");
        }

        if (layout.IsMirrored)
        {
            throw new ArgumentException("A mirror's layout cannot have mirrors of its own.", nameof(layout));
        }

        Id = id;
        Layout = layout;
        Flags = flags;
    }

    /// <summary>The mirror id, unique within the file.</summary>
    public int Id { get; }

    /// <summary>Where this mirror's copy of the bytes lives.</summary>
    public FileLayout Layout { get; }

    /// <summary>Stale and preferred.</summary>
    public MirrorFlags Flags { get; }

    /// <summary>True when a write missed this mirror: it is not read until resynced.</summary>
    public bool IsStale => (Flags & MirrorFlags.Stale) != 0;

    /// <summary>True when reads go to this mirror first while it is in sync.</summary>
    public bool IsPreferred => (Flags & MirrorFlags.Prefer) != 0;

    /// <summary>Returns a copy with other flags.</summary>
    /// <param name="flags">The new flags.</param>
    /// <returns>The mirror.</returns>
    public LayoutMirror WithFlags(MirrorFlags flags) => new(Id, Layout, flags);

    /// <summary>Returns a copy with another layout (for example, the template with its objects allocated).</summary>
    /// <param name="layout">The new layout.</param>
    /// <returns>The mirror.</returns>
    public LayoutMirror WithLayout(FileLayout layout) => new(Id, layout, Flags);

    /// <summary>Returns the mirror as text: id, flags and its layout.</summary>
    /// <returns>The mirror as text.</returns>
    public override string ToString() => $"mirror {Id}{(IsStale ? " stale" : string.Empty)}{(IsPreferred ? " prefer" : string.Empty)}: {Layout}";
}
