namespace Lustre.Client;

/// <summary>One target's space and object usage: a row of <c>lfs df</c>.</summary>
/// <param name="Name">Lustre's target name, e.g. <c>lustre-OST0002</c>.</param>
/// <param name="IsMetadataTarget">True for the MDT, false for an OST.</param>
/// <param name="Index">The target index.</param>
/// <param name="IsActive">False for an OST marked inactive (it gets no new objects) or one that did not answer.</param>
/// <param name="TotalBytes">Capacity of the target's storage.</param>
/// <param name="UsedBytes">Bytes in use.</param>
/// <param name="AvailableBytes">Bytes available for new data.</param>
/// <param name="Objects">Inodes (MDT) or objects (OST) in use: <c>lfs df -i</c>'s IUsed.</param>
public sealed record LustreTargetUsage(
    string Name, bool IsMetadataTarget, int Index, bool IsActive, long TotalBytes, long UsedBytes, long AvailableBytes, long Objects)
{
    /// <summary>
    /// How many more inodes (MDT) or objects (OST) fit: <c>lfs df -i</c>'s IFree. An OST's objects are files, so its
    /// filesystem's free inodes; the MDT has no inode table, so an estimate from its free space (see <c>lfs df</c>).
    /// 0 when the target does not say (an older server, another OS).
    /// </summary>
    public long FreeObjects { get; init; }

    /// <summary>The target's state flags, as <c>lfs df</c> prints them after each row.</summary>
    public LustreTargetState State { get; init; }
}
