namespace Lustre.Server.Oss;

/// <summary>
/// How the OSS sends a large read (64 KiB or more) of a range in the page cache when its reply carries no checksum (a
/// client on the servers' own host). Which is cheaper depends on the machine, not on the code: see
/// docs/benchmarks.md, "Cached reads: a copy, not a mapping".
/// </summary>
public enum CachedReadMode
{
    /// <summary>
    /// Read into a pooled buffer, then sent from it: two copies per byte (page cache to buffer, buffer to socket), no
    /// mapping per read. The default: on the 2-core VMs these figures come from, 20 % less CPU per GB than
    /// <see cref="Map"/>.
    /// </summary>
    Copy,

    /// <summary>
    /// From a mapping of the page cache (<see cref="MappedRegion"/>, Linux only): one copy per byte, the kernel's into
    /// the socket, but every read maps, populates and unmaps its range, and an unmap while other threads of the server
    /// run interrupts their cores. Cheaper where that costs less than a copy.
    /// </summary>
    Map,
}
