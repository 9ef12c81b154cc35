namespace Lustre.Server.Oss;

/// <summary>
/// How the OSS sends a large read (64 KiB or more) of a range in the page cache when its reply carries no checksum (a
/// client on the servers' host). Which is cheaper depends on the machine, not on the code: see docs/benchmarks.md,
/// "Cached reads: a copy, not a mapping" and "Cached reads chosen by the machine".
/// </summary>
public enum CachedReadMode
{
    /// <summary>
    /// Read into a pooled buffer, then sent from it: two copies per byte (page cache to buffer, buffer to socket), no
    /// mapping per read. On the 2-core VM of 2026-12-04, 20 % less CPU per GB than <see cref="Map"/>.
    /// </summary>
    Copy,

    /// <summary>
    /// From a mapping of the page cache (<see cref="MappedRegion"/>, Linux only): one copy per byte, the kernel's into
    /// the socket, but every read maps, populates and unmaps its range, and an unmap while other threads of the server
    /// run interrupts their cores. Cheaper where that costs less than a copy: on the VMs of 2026-11-26 and 2026-12-05.
    /// </summary>
    Map,

    /// <summary>
    /// Whichever of the two this machine sends faster, measured once per process when the first OSS starts
    /// (<see cref="CachedReadProbe"/>: the same cached bytes sent both ways over a loopback connection, alternating);
    /// <see cref="Map"/> only where it wins by a tenth or more, else <see cref="Copy"/>. The default.
    /// </summary>
    Auto,
}
