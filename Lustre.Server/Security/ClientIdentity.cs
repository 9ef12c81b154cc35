namespace Lustre.Server.Security;

/// <summary>
/// Who a request acts as on the MDS: a user id, a primary group and supplementary groups, as Lustre's nodemap maps a
/// client to them. A client key carries one; server and admin keys, the one shared secret and an unauthenticated
/// loopback cluster act as root.
/// </summary>
internal sealed record ClientIdentity(uint Uid, uint Gid, uint[] Groups)
{
    /// <summary>The id root is squashed to (Lustre's default squash uid and gid, the kernel's <c>nobody</c>).</summary>
    public const uint Nobody = 65534;

    /// <summary>The most supplementary groups a key may carry (NGROUPS_MAX is larger; no real user needs more here).</summary>
    public const int MaxGroups = 64;

    public static readonly ClientIdentity Root = new(0, 0, []);

    /// <summary>What uid 0 of a client key becomes unless the key is trusted (root squash).</summary>
    public static readonly ClientIdentity Squashed = new(Nobody, Nobody, []);

    public bool IsRoot => Uid == 0;

    public bool InGroup(uint gid) => Gid == gid || Array.IndexOf(Groups, gid) >= 0;

    public override string ToString() => $"uid {Uid} gid {Gid}{(Groups.Length > 0 ? $" groups {string.Join(',', Groups)}" : string.Empty)}";
}
