namespace Lustre.Layouts;

/// <summary>The state of one mirror of a file (Lustre's <c>lcme_flags</c>).</summary>
[Flags]
public enum MirrorFlags
{
    /// <summary>In sync: the mirror holds every acknowledged byte and may be read.</summary>
    None = 0,

    /// <summary>Stale: a write did not reach this mirror, so it is not read until a resync copies the file to it.</summary>
    Stale = 1,

    /// <summary>Preferred for reads while in sync (Lustre's <c>prefer</c>).</summary>
    Prefer = 2,
}
