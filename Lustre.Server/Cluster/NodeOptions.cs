using System.Net;
using Lustre.Server.Security;

namespace Lustre.Server.Cluster;

/// <summary>What one server process runs: which roles, where its data lives, where it listens, which MGS it joins.</summary>
internal sealed class NodeOptions
{
    public required string DataDirectory { get; init; }

    public bool RunMgs { get; init; }

    public bool RunMds { get; init; }

    public bool RunOss { get; init; }

    public IPEndPoint Listen { get; init; } = new(IPAddress.Loopback, 0);

    /// <summary>
    /// The address other hosts reach this node at, registered with the MGS; null for the bound address (a wildcard
    /// bind is then advertised as loopback, which only works on one machine). Port 0 means the bound port.
    /// </summary>
    public IPEndPoint? Advertise { get; init; }

    /// <summary>The MGS to join; null when this node runs the MGS itself.</summary>
    public IPEndPoint? Mgs { get; init; }

    public string FsName { get; init; } = "lustre";

    /// <summary>Index of this node's first OST.</summary>
    public int FirstOstIndex { get; init; }

    public int OstCount { get; init; } = 1;

    public long DefaultStripeSize { get; init; } = Layouts.LayoutDefaults.DefaultStripeSize;

    public int DefaultStripeCount { get; init; } = 1;

    public byte[]? Secret { get; init; }

    /// <summary>A quota per OST in bytes (statfs reports it; writes past it fail with ENOSPC); null for the disk's own space.</summary>
    public long? OstCapacityBytes { get; init; }

    /// <summary>
    /// OSTs read ranges of 64 KiB or more that are not all in the page cache with O_DIRECT, past the cache (Linux;
    /// <see cref="Oss.DirectReader"/>). For data sets larger than the servers' memory: less CPU per byte, and no page
    /// cache filled with data that is evicted before it is read again. Off by default, as Lustre's OSS caches reads.
    /// </summary>
    public bool DirectReads { get; init; }

    /// <summary>
    /// OSTs write the page-aligned part of writes of 1 MiB or more with O_DIRECT, past the page cache (Linux;
    /// <see cref="Oss.DirectWriter"/>). For checkpoints and other large durable writes: the disk's speed for a fraction
    /// of the CPU, and a flush with little left to sync; reads of just-written data then come from the disk. On by
    /// default; false writes everything through the page cache.
    /// </summary>
    public bool DirectWrites { get; init; } = true;

    /// <summary>How OSTs send large reads of cached ranges without a checksum (<see cref="Oss.CachedReadMode"/>); by default whichever this machine sends faster (<see cref="Oss.CachedReadMode.Auto"/>).</summary>
    public Oss.CachedReadMode CachedReads { get; init; } = Oss.CachedReadMode.Auto;

    /// <summary>
    /// Named keys with roles (a key file) instead of <see cref="Secret"/>: clients prove one of them, and this node
    /// proves its first server key to the other servers.
    /// </summary>
    public IReadOnlyList<Security.NamedKey>? Keys { get; init; }

    /// <summary>
    /// How long an OST capability the MDS issues with an open stays good (default an hour); clients renew theirs
    /// before then. Only a cluster with a key file issues and checks capabilities.
    /// </summary>
    public TimeSpan CapabilityLifetime { get; init; } = Security.CapabilityKeys.DefaultLifetime;

    /// <summary>Accept plain TCP from peers off this host (<see cref="Rpc.RpcServerOptions.AllowPlainRemote"/>); by default they must use TLS.</summary>
    public bool AllowPlainRemote { get; init; }

    /// <summary>The default <see cref="MemoryBudget"/>: 1 GiB.</summary>
    public const long DefaultMemoryBudget = 1L << 30;

    /// <summary>
    /// Bytes of request and reply bulk all connections may hold at once (<see cref="Rpc.RpcServerOptions.MemoryBudget"/>);
    /// one connection may hold a sixteenth of it, at most 64 MiB.
    /// </summary>
    public long MemoryBudget { get; init; } = DefaultMemoryBudget;

    /// <summary>A connection whose replies go unread this long is closed (<see cref="Rpc.RpcServerOptions.SendTimeout"/>; default 30 s).</summary>
    public TimeSpan SendTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a layout migration (<c>lfs migrate</c>) holds a file without hearing from its migrator, which renews
    /// every third of it; then writers are let in again and its new objects destroyed. Default a minute.
    /// </summary>
    public TimeSpan MigrationLease { get; init; } = Mds.LayoutMigrations.DefaultLease;

    /// <summary>
    /// How long a statahead lease lasts (<see cref="Mds.StatAheadLeases"/>): a client answers stats from a batch it
    /// prefetched for this long, and a change on the MDT waits at most this long for the leases to end. Zero grants
    /// none (every stat asks the MDS). Default 100 ms, at most 10 s.
    /// </summary>
    public TimeSpan StatAheadLease { get; init; } = Mds.StatAheadLeases.DefaultDuration;

    /// <summary>How long the MDT must have gone without a change before it grants a statahead lease. Default 100 ms.</summary>
    public TimeSpan StatAheadQuiet { get; init; } = Mds.StatAheadLeases.DefaultQuiet;

    /// <summary>
    /// The largest Data-on-MDT component the MDS accepts (Lustre's <c>dom_stripesize</c>; <c>--dom-stripesize</c>): 0 to
    /// 1 GiB in steps of 64 KiB, 0 for none; default 1 MiB, as Lustre's.
    /// </summary>
    public long DataOnMdtLimit { get; init; } = Layouts.LayoutDefaults.DefaultDataOnMdtLimit;

    /// <summary>
    /// How far the MDT writes each of its two recycled WAL files when it opens, so group commits overwrite disk blocks
    /// instead of growing a file (Lustre's MDT has a journal of fixed size for the same reason); 0: not at all. Default
    /// 64 MiB each, skipped when the filesystem has no room for them.
    /// </summary>
    public long MdtWalPrewriteBytes { get; init; } = Mds.MdtStore.DefaultWalPrewriteBytes;

    /// <summary>How often the MDS re-reads the target list and OST free space.</summary>
    public TimeSpan RefreshInterval { get; init; } = TimeSpan.FromSeconds(2);
}
