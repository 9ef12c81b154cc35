using Lustre.Layouts;

namespace Lustre.Server.Mds;

/// <summary>Turns a layout template into a layout with OST objects (chooses OSTs, allocates object ids).</summary>
internal interface IOstPlacement
{
    FileLayout FilesystemDefault();

    FileLayout Instantiate(FileLayout template, MdtTransaction transaction);
}
