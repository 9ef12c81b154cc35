using Lustre.Protocol;
using Lustre.Server.Rpc;
using Lustre.Server.Security;

namespace Lustre.Server.Mds;

/// <summary>What an operation needs of an inode's mode bits.</summary>
[Flags]
internal enum Access
{
    Execute = 1,
    Write = 2,
    Read = 4,
}

/// <summary>
/// POSIX permission checks on the MDS: the owner's, the group's or everyone else's mode bits, whichever class the
/// caller falls in; root passes every check. Each refusal is EACCES (or EPERM for what only an owner may do) naming
/// the path, what it needs and who asked, thrown before anything changes.
/// </summary>
internal static class Permissions
{
    private const uint StickyBit = 0x200;
    private const uint SetGidBit = 0x400;

    public static bool Allows(MdtInode inode, ClientIdentity who, Access want) => Allows(inode.Access, who, want);

    public static bool Allows(InodeAccess inode, ClientIdentity who, Access want)
    {
        if (who.IsRoot)
        {
            return true;
        }

        var bits = who.Uid == inode.Uid ? (inode.Mode >> 6) & 7 : who.InGroup(inode.Gid) ? (inode.Mode >> 3) & 7 : inode.Mode & 7;
        return (bits & (uint)want) == (uint)want;
    }

    public static void Require(MdtInode inode, ClientIdentity who, Access want, string path)
    {
        if (!Allows(inode, who, want))
        {
            throw Denied(inode, who, want, path);
        }
    }

    /// <summary>As <see cref="Require(MdtInode, ClientIdentity, Access, string)"/> for a file named by its FID, formatted only for the refusal.</summary>
    public static void Require(MdtInode inode, ClientIdentity who, Access want, LustreFid fid)
    {
        if (!Allows(inode, who, want))
        {
            throw Denied(inode, who, want, fid.ToString());
        }
    }

    public static RpcStatusException Denied(MdtInode inode, ClientIdentity who, Access want, string path) => Denied(inode.Access, who, want, path);

    public static RpcStatusException Denied(InodeAccess inode, ClientIdentity who, Access want, string path) =>
        new(LustreErrno.EACCES, $"permission denied: '{path}' needs {Describe(want)} permission, which {who} does not have there (mode {Convert.ToString(inode.Mode & 0xFFF, 8).PadLeft(4, '0')}, owner {inode.Uid}:{inode.Gid})");

    /// <summary>
    /// Adding or removing an entry of <paramref name="directory"/>: write and search on it. Its path (the parent of
    /// <paramref name="childPath"/>) is made only for the refusal, so a create or unlink allocates nothing here.
    /// </summary>
    public static void RequireChange(MdtInode directory, ClientIdentity who, string childPath)
    {
        if (!Allows(directory, who, Access.Write | Access.Execute))
        {
            throw Denied(directory, who, Access.Write | Access.Execute, Namespace.LustrePath.Parent(childPath));
        }
    }

    /// <summary>Only the owner or root may change a mode, a directory's default layout or (to their own groups) a group.</summary>
    public static void RequireOwner(MdtInode inode, ClientIdentity who, string what, string path)
    {
        if (!who.IsRoot && who.Uid != inode.Uid)
        {
            throw new RpcStatusException(LustreErrno.EPERM, $"operation not permitted: only the owner (uid {inode.Uid}) or root may {what} '{path}'; this is {who}");
        }
    }

    /// <summary>
    /// Removing or replacing <paramref name="victim"/> in <paramref name="directory"/>: write and search on the directory
    /// and, when it is sticky (as /tmp), ownership of the directory or of the entry.
    /// </summary>
    public static void RequireRemove(MdtInode directory, MdtInode victim, ClientIdentity who, string path)
    {
        RequireChange(directory, who, path);
        if ((directory.Mode & StickyBit) != 0 && !who.IsRoot && who.Uid != directory.Uid && who.Uid != victim.Uid)
        {
            throw new RpcStatusException(LustreErrno.EPERM, $"operation not permitted: '{Namespace.LustrePath.Parent(path)}' is sticky, and '{path}' belongs to uid {victim.Uid}, not to {who}");
        }
    }

    /// <summary>The group a new entry gets: its directory's when the directory is set-group-id, else the creator's.</summary>
    public static uint NewGroup(MdtInode directory, ClientIdentity who) => (directory.Mode & SetGidBit) != 0 ? directory.Gid : who.Gid;

    private static string Describe(Access want) => string.Join(" and ", new[] { (Access.Read, "read"), (Access.Write, "write"), (Access.Execute, "search/execute") }.Where(a => (want & a.Item1) != 0).Select(a => a.Item2));
}
