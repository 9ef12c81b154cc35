using Lustre.Layouts;

namespace Lustre.Server.Mds;

/// <summary>Turns a layout template into a layout with OST objects (chooses OSTs, allocates object ids).</summary>
internal interface IOstPlacement
{
    FileLayout FilesystemDefault();

    FileLayout Instantiate(FileLayout template, MdtTransaction transaction);

    /// <summary>Re-reads the OSTs and their free space.</summary>
    Task RefreshAsync(CancellationToken cancellationToken);
}
