using Lustre.Layouts;

namespace Lustre.Server.Mds;

/// <summary>Turns a layout template into a layout with OST objects (chooses OSTs, allocates object ids).</summary>
internal interface IOstPlacement
{
    FileLayout FilesystemDefault();

    /// <summary>The OSTs as last refreshed: which are up, and their space.</summary>
    IReadOnlyList<OstUsage> Usage { get; }

    /// <summary>Allocates the template's objects; each mirror of a mirrored template on OSTs of its own.</summary>
    FileLayout Instantiate(FileLayout template, MdtTransaction transaction);

    /// <summary>
    /// Allocates the objects of every component of <paramref name="layout"/> (not mirrored) that starts below
    /// <paramref name="end"/> and has none yet; the others are left as they are. Returns the same instance when none needed any.
    /// </summary>
    FileLayout InstantiateBelow(FileLayout layout, long end, MdtTransaction transaction);

    /// <summary>Adds the mirrors of <paramref name="template"/> (plain or mirrored) to <paramref name="layout"/>, stale, on OSTs its mirrors do not use.</summary>
    FileLayout AddMirrors(FileLayout layout, FileLayout template, MdtTransaction transaction);

    /// <summary>
    /// What is wrong with the pools a client's layout names (a pool that does not exist or has no OSTs, a stripe
    /// count larger than the pool, a stripe offset outside it), as the configuration last read says; null when nothing.
    /// </summary>
    string? CheckPools(FileLayout layout);

    /// <summary>Re-reads the OSTs and their free space.</summary>
    ValueTask RefreshAsync(CancellationToken cancellationToken);
}
