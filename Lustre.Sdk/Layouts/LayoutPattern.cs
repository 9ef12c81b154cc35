namespace Lustre.Layouts;

/// <summary>Where a layout component keeps its bytes, as Lustre's <c>lmm_pattern</c> (<c>lfs setstripe -L</c>).</summary>
public enum LayoutPattern
{
    /// <summary>Striped over OST objects (RAID0), Lustre's <c>raid0</c>: every component of a layout but a Data-on-MDT one.</summary>
    Raid0 = 0,

    /// <summary>
    /// Data-on-MDT, Lustre's <c>mdt</c>: the component's bytes live on the metadata target with the file's inode, so a
    /// small file is created, written and read without any OST. Only the first component of a layout can be one.
    /// </summary>
    Mdt = 1,
}
