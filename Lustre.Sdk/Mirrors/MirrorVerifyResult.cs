namespace Lustre.Mirrors;

/// <summary>What <c>lfs mirror verify</c> found: every in-sync mirror compared with the first, byte for byte.</summary>
/// <param name="Path">The file.</param>
/// <param name="Length">The bytes compared: the file's size.</param>
/// <param name="MirrorsCompared">The ids of the in-sync mirrors read.</param>
/// <param name="Differences">One entry per mirror that differs from the reference; empty when all agree.</param>
public sealed record MirrorVerifyResult(string Path, long Length, IReadOnlyList<int> MirrorsCompared, IReadOnlyList<MirrorDifference> Differences)
{
    /// <summary>True when every in-sync mirror holds the same bytes.</summary>
    public bool IsConsistent => Differences.Count == 0;
}
