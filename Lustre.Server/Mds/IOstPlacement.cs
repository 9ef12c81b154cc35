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

    /// <summary>Adds the mirrors of <paramref name="template"/> (plain or mirrored) to <paramref name="layout"/>, stale, on OSTs its mirrors do not use.</summary>
    FileLayout AddMirrors(FileLayout layout, FileLayout template, MdtTransaction transaction);

    /// <summary>Re-reads the OSTs and their free space.</summary>
    Task RefreshAsync(CancellationToken cancellationToken);
}
