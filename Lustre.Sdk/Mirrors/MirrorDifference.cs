namespace Lustre.Mirrors;

/// <summary>Two in-sync mirrors of a file that hold different bytes.</summary>
/// <param name="MirrorId">The mirror compared with the reference.</param>
/// <param name="ReferenceMirrorId">The mirror every other is compared with: the first in-sync one.</param>
/// <param name="Offset">The first file offset at which they differ.</param>
/// <param name="Length">Bytes from <paramref name="Offset"/> to the end of the last block in which they differ.</param>
public sealed record MirrorDifference(int MirrorId, int ReferenceMirrorId, long Offset, long Length);
