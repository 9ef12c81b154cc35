using System.Buffers;
using System.Runtime.InteropServices;

namespace Lustre.Server.Oss;

/// <summary>
/// A read-only mmap of part of an object file, handed to the socket as the reply's bulk: the kernel copies the bytes
/// from the page cache into the socket once, where a read into a buffer would copy them twice. Only the kernel
/// touches the mapping (no hashing here: this path serves replies that carry no checksum), so an object truncated
/// while it is being sent fails that send with EFAULT instead of raising SIGBUS in this process; the connection
/// closes and the client retries. Disposing unmaps it and gives the object's handle lease back.
/// </summary>
internal sealed unsafe partial class MappedRegion : MemoryManager<byte>
{
    private const int ProtRead = 0x1;
    private const int MapShared = 0x01;
    private const int MapPopulate = 0x8000;
    private static readonly long PageSize = Environment.SystemPageSize;

    private readonly HandleCache.Lease _lease;
    private readonly int _length;
    private nint _mapping;
    private nuint _mappedLength;
    private int _skip;

    private MappedRegion(HandleCache.Lease lease, nint mapping, nuint mappedLength, int skip, int length)
    {
        _lease = lease;
        _mapping = mapping;
        _mappedLength = mappedLength;
        _skip = skip;
        _length = length;
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

            return new MappedRegion(lease, mapping, mappedLength, skip, length);
        }
        finally
        {
            if (added)
            {
                lease.Handle.DangerousRelease();
            }
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
                _lease.Dispose();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);
}
