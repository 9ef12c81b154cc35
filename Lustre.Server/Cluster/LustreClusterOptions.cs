using Microsoft.Extensions.Logging;

namespace Lustre.Server.Cluster;

/// <summary>Settings of an embedded all-in-one cluster (MGS + MDS + OSTs in this process, on loopback).</summary>
public sealed class LustreClusterOptions
{
    /// <summary>Where the cluster keeps its data. Default: a new folder under the system temp folder, deleted on dispose.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>Number of OSTs (default 4).</summary>
    public int OstCount { get; set; } = 4;

    /// <summary>TCP port on 127.0.0.1; 0 (the default) picks a free one.</summary>
    public int Port { get; set; }

    /// <summary>Filesystem name, 1 to 8 characters as in Lustre (default "lustre").</summary>
    public string FsName { get; set; } = "lustre";

    /// <summary>Default stripe size of new files (default 4 MiB).</summary>
    public long DefaultStripeSize { get; set; } = Layouts.LayoutDefaults.DefaultStripeSize;

    /// <summary>Default stripe count of new files (default 1, -1 for all OSTs).</summary>
    public int DefaultStripeCount { get; set; } = 1;

    /// <summary>Shared secret clients must prove; null for none (loopback only).</summary>
    public byte[]? SharedSecret { get; set; }

    /// <summary>
    /// A capacity limit per OST in bytes, for testing full OSTs: each OST reports it as its size, and writes that would
    /// take its objects past it fail with ENOSPC. Null (the default): the OSTs share the local disk's space.
    /// </summary>
    public long? OstCapacityBytes { get; set; }

    /// <summary>
    /// OSTs read ranges of 64 KiB or more that are not all in the page cache with O_DIRECT, past the cache (Linux). For
    /// data sets larger than memory: less CPU per byte read from disk, and the page cache keeps what is read again.
    /// Off by default: reads fill the page cache, as Lustre's OSS does.
    /// </summary>
    public bool DirectReads { get; set; }

    /// <summary>
    /// OSTs write the page-aligned part of writes of 1 MiB or more with O_DIRECT, past the page cache (Linux), as
    /// Lustre's OSS sends bulk writes to its disk: durable writes at the disk's speed for a fraction of the CPU, at the
    /// price of reads of just-written large ranges coming from the disk. On by default; false writes everything
    /// through the page cache (written pages stay cached, for data read back soon after it is written).
    /// </summary>
    public bool DirectWrites { get; set; } = true;

    /// <summary>
    /// How OSTs send large reads of ranges in the page cache when the reply carries no checksum (a client on the
    /// servers' host): through a pooled buffer (<see cref="Oss.CachedReadMode.Copy"/>: two copies) or from a mapping of
    /// the page cache (<see cref="Oss.CachedReadMode.Map"/>: one copy, but a mapping set up and torn down per read).
    /// Which is cheaper depends on the machine, so by default the machine is asked once per process
    /// (<see cref="Oss.CachedReadMode.Auto"/>).
    /// </summary>
    public Oss.CachedReadMode CachedReads { get; set; } = Oss.CachedReadMode.Auto;

    /// <summary>
    /// The largest Data-on-MDT component the MDS accepts, Lustre's <c>dom_stripesize</c> (default 1 MiB; 0 accepts none;
    /// at most 1 GiB, a multiple of 64 KiB). Files whose layout asks for a larger one are refused with EFBIG.
    /// </summary>
    public long DataOnMdtLimit { get; set; } = Layouts.LayoutDefaults.DefaultDataOnMdtLimit;

    /// <summary>Delete the data folder when the cluster is disposed (default: only when the cluster made the folder).</summary>
    public bool? DeleteDataOnDispose { get; set; }

    /// <summary>Where the servers log; default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(OstCount, 1, nameof(OstCount));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(OstCount, 256, nameof(OstCount));
        ArgumentOutOfRangeException.ThrowIfNegative(Port, nameof(Port));
        if (OstCapacityBytes is { } capacity)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity, nameof(OstCapacityBytes));
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535, nameof(Port));
        Mds.MdtNamespace.ValidateDataOnMdtLimit(DataOnMdtLimit, nameof(DataOnMdtLimit));
        if (string.IsNullOrEmpty(FsName) || FsName.Length > 8 || !FsName.All(char.IsAsciiLetterOrDigit))
        {
            throw new ArgumentException($"FsName '{FsName}' must be 1 to 8 ASCII letters or digits, as Lustre's fsname.", nameof(FsName));
        }
    }
}
