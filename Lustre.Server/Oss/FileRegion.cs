using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lustre.Protocol;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.Server.Oss;

/// <summary>
/// A cached range of an object file sent as a reply's bulk with sendfile (<see cref="FileBulk"/>, Linux): on a plain
/// local socket the kernel moves the page cache's pages to the client's socket, and the client's receive is the only
/// copy. It holds the object's handle lease until disposed; disposing gives the lease back and the region object to a
/// pool, so a read served this way allocates nothing. Its span, asked for only off that path, is the range read into
/// an array. Nothing may use a region after its Dispose.
/// </summary>
internal sealed unsafe partial class FileRegion : FileBulk
{
    private const int EAgain = 11;
    private const int EIntr = 4;
    private static readonly ObjectPool<FileRegion> Pool = ReusedObjects.Pool(() => new FileRegion(), 256);

    private HandleCache.Lease _lease;
    private long _offset;
    private int _length;
    private byte[]? _copy;
    private int _disposed;

    private FileRegion()
    {
    }

    /// <summary>[offset, offset + length) of the leased object's file; the region owns the lease from here on.</summary>
    public static FileRegion Of(HandleCache.Lease lease, long offset, int length)
    {
        var region = Pool.Get();
        region._lease = lease;
        region._offset = offset;
        region._length = length;
        region._disposed = 0;
        return region;
    }

    public override int SendTo(Socket socket, int start, int count)
    {
        var file = _lease.Handle!;
        bool socketAdded = false, fileAdded = false;
        socket.SafeHandle.DangerousAddRef(ref socketAdded);
        file.DangerousAddRef(ref fileAdded);
        try
        {
            while (true)
            {
                var position = _offset + start;
                var sent = SendFile((int)socket.SafeHandle.DangerousGetHandle(), (int)file.DangerousGetHandle(), ref position, (nuint)count);
                if (sent > 0)
                {
                    return (int)sent;
                }

                if (sent == 0)
                {
                    return -1;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == EAgain)
                {
                    return 0;
                }

                if (errno != EIntr)
                {
                    throw new IOException($"sendfile of {count} bytes at {_offset + start} failed: errno {errno}", new SocketException(errno));
                }
            }
        }
        finally
        {
            if (fileAdded)
            {
                file.DangerousRelease();
            }

            if (socketAdded)
            {
                socket.SafeHandle.DangerousRelease();
            }
        }
    }

    public override void Read(int start, Span<byte> destination)
    {
        if (RandomAccess.Read(_lease.Handle!, destination, _offset + start) != destination.Length)
        {
            throw new IOException($"the object was cut before its {_length} bytes at {_offset} were sent");
        }
    }

    /// <summary>Whether its bytes were read into an array (<see cref="GetSpan"/>): never, where sendfile sent them.</summary>
    internal bool Copied => _copy is not null;

    /// <summary>The range as memory, without reading it (the base class would ask <see cref="GetSpan"/> for its length).</summary>
    public override Memory<byte> Memory => CreateMemory(_length);

    public override Span<byte> GetSpan()
    {
        if (_copy is null)
        {
            var copy = GC.AllocateUninitializedArray<byte>(_length, pinned: true);
            Read(0, copy);
            _copy = copy;
        }

        return _copy;
    }

    public override MemoryHandle Pin(int elementIndex = 0) => new(Unsafe.AsPointer(ref GetSpan()[elementIndex]));

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        var lease = _lease;
        _lease = default;
        _copy = null;
        lease.Dispose();
        if (disposing)
        {
            Pool.Return(this);
        }
    }

    [LibraryImport("libc", EntryPoint = "sendfile", SetLastError = true)]
    private static partial nint SendFile(int outFd, int inFd, ref long offset, nuint count);
}
