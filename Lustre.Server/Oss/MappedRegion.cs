using System.Buffers;
using System.Runtime.InteropServices;
using Lustre.Protocol;
using Microsoft.Extensions.ObjectPool;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// A read-only mmap of part of an object file, handed to the socket as the reply's bulk: the kernel copies the bytes
/// from the page cache into the socket once, where a read into a buffer would copy them twice. Only the kernel
/// touches the mapping (no hashing here: this path serves replies that carry no checksum), so an object truncated
/// while it is being sent fails that send with EFAULT instead of raising SIGBUS in this process; the connection
/// closes and the client retries. Disposing unmaps it, gives the object's handle lease back and the region object to
/// a pool, so a read served this way allocates nothing; nothing may use a region after its Dispose.
/// </summary>
internal sealed unsafe partial class MappedRegion : MemoryManager<byte>
{
    private const int ProtRead = 0x1;
    private const int MapShared = 0x01;
    private const int MapPopulate = 0x8000;
    private static readonly long PageSize = Environment.SystemPageSize;
    private static readonly ObjectPool<MappedRegion> Pool = ReusedObjects.Pool(() => new MappedRegion(), 256);

    private HandleCache.Lease _lease;
    private int _length;
    private nint _mapping;
    private nuint _mappedLength;
    private int _skip;

    private MappedRegion()
    {
    }

    public int Length => _length;

    /// <summary>Maps [offset, offset + length) of the leased object's file; the region owns the lease from here on.</summary>
    public static MappedRegion Map(HandleCache.Lease lease, long offset, int length)
    {
        var aligned = offset - (offset % PageSize);
        var skip = (int)(offset - aligned);
        var mappedLength = (nuint)(skip + length);
        var added = false;
        lease.Handle!.DangerousAddRef(ref added);
        try
        {
            // Populated at map time: one call fills the page tables instead of a fault per page during the send.
            var mapping = Mmap(0, mappedLength, ProtRead, MapShared | MapPopulate, (int)lease.Handle.DangerousGetHandle(), aligned);
            if (mapping == -1)
            {
                throw new IOException($"mmap of {length} bytes at {offset} failed: errno {Marshal.GetLastPInvokeError()}");
            }

            var region = Pool.Get();
            region._lease = lease;
            region._mapping = mapping;
            region._mappedLength = mappedLength;
            region._skip = skip;
            region._length = length;
            return region;
        }
        finally
        {
            if (added)
            {
                lease.Handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Whether every page of [offset, offset + length) of the file is in the page cache (mincore over a mapping that is
    /// not populated, so nothing is read): the test for serving a read from the cache or past it.
    /// </summary>
    public static bool IsCached(SafeFileHandle handle, long offset, int length) => Resident(handle, offset, length, every: true);

    /// <summary>Whether any page of [offset, offset + length) of the file is in the page cache, tested as <see cref="IsCached"/> does.</summary>
    public static bool AnyCached(SafeFileHandle handle, long offset, int length) => Resident(handle, offset, length, every: false);

    /// <summary>With <paramref name="every"/>, whether every page of the range is cached; without, whether any is.</summary>
    private static bool Resident(SafeFileHandle handle, long offset, int length, bool every)
    {
        var aligned = offset - (offset % PageSize);
        var mappedLength = (nuint)(offset - aligned + length);
        var mapping = Mmap(0, mappedLength, ProtRead, MapShared, (int)handle.DangerousGetHandle(), aligned);
        if (mapping == -1)
        {
            throw new IOException($"mmap of {length} bytes at {offset} failed: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            var pages = (int)((mappedLength + (nuint)PageSize - 1) / (nuint)PageSize);
            var resident = pages <= 4096 ? stackalloc byte[pages] : new byte[pages];
            fixed (byte* vector = resident)
            {
                if (Mincore(mapping, mappedLength, vector) != 0)
                {
                    throw new IOException($"mincore of {length} bytes at {offset} failed: errno {Marshal.GetLastPInvokeError()}");
                }
            }

            foreach (var page in resident)
            {
                if (((page & 1) != 0) != every)
                {
                    return !every;
                }
            }

            return every;
        }
        finally
        {
            _ = Munmap(mapping, mappedLength);
        }
    }

    public override Span<byte> GetSpan() => new((byte*)_mapping + _skip, _length);

    public override MemoryHandle Pin(int elementIndex = 0) => new((byte*)_mapping + _skip + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        var mapping = Interlocked.Exchange(ref _mapping, 0);
        if (mapping != 0)
        {
            _ = Munmap(mapping, _mappedLength);
            _mappedLength = 0;
            _skip = 0;
            if (disposing)
            {
                var lease = _lease;
                _lease = default;
                lease.Dispose();
                Pool.Return(this);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "mincore", SetLastError = true)]
    private static partial int Mincore(nint address, nuint length, byte* vector);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
