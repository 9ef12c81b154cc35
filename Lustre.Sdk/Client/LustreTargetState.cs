namespace Lustre.Client;

/// <summary>
/// The state flags of a target, as Lustre's statfs reports them (<c>OS_STATFS_*</c>, the same bit values) and
/// <c>lfs df</c> prints them after each row: D, R, N, S, I in every listing, f with <c>-v</c>.
/// </summary>
[Flags]
public enum LustreTargetState
{
    /// <summary>Nothing to report.</summary>
    None = 0,

    /// <summary>D: the storage under the target is degraded (a RAID rebuilding). Not reported here: the servers see no RAID.</summary>
    Degraded = 0x1,

    /// <summary>R: the target's filesystem is mounted read-only.</summary>
    ReadOnly = 0x2,

    /// <summary>N: the target takes no new objects. Not reported here: an OST marked inactive is listed as inactive instead.</summary>
    NoCreate = 0x4,

    /// <summary>S: out of space: an OST with no bytes available, the MDT under the free space it keeps for unlink and rename (creates fail).</summary>
    NoSpace = 0x20,

    /// <summary>I: out of inodes: the OST's filesystem has no free inode left for a new object file.</summary>
    NoInodes = 0x40,

    /// <summary>f: the target's storage is flash (a block device that is not rotational).</summary>
    NonRotational = 0x200,
}
