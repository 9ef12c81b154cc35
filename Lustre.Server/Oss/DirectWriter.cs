using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lustre.Server.Rpc;
using Lustre.Threading;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// Writes the page-aligned middle of large writes with O_DIRECT (Linux), as Lustre's OSS sends bulk writes to its
/// disk without the page cache: the disk takes the bytes from an aligned buffer of ours, so no dirty pages wait for
/// writeback and a flush has only the file's metadata and the disk's own cache left to sync. On this machine's virtual
/// disk, 1 GiB in 4 MiB writes took 1.9 CPU s through the page cache and fsync (0.19–0.31 GB/s) against 0.14–0.17 CPU s
/// with O_DIRECT (0.65–1.1 GB/s).
/// <para>
/// The cost: the kernel drops the cached pages a direct write covers, so a read right after it comes from the disk.
/// A page that stays cached anyway (mapped by a read being sent at that moment, which the kernel cannot drop) would
/// hold the bytes from before the write; the store then writes the range again through the cache (<see cref="ObjectStore"/>).
/// </para>
/// </summary>
internal sealed partial class DirectWriter : IDisposable
{
    /// <summary>Writes whose aligned middle is at least this large go past the cache; smaller ones, and the unaligned head and tail, through it.</summary>
    internal const int MinimumLength = 1 << 20;

    internal const int Alignment = 4096;

    /// <summary>Buffers come in whole pieces of this size, so writes of nearly the same length share them.</summary>
    private const int PieceLength = 1 << 20;

    private const int ErrnoInterrupted = 4;
    private const int ErrnoNoSpace = 28;

    private readonly AlignedPool _pool = new(retainedBytes: 128L << 20);
    private volatile bool _unsupported;

    /// <summary>False once a direct open failed for want of support: every write then uses the page cache.</summary>
    public bool Supported => !_unsupported && OperatingSystem.IsLinux();

    /// <summary>The page-aligned part of [offset, offset + length): its start rounded up and its end rounded down (end ≤ start: none).</summary>
    public static (long Start, long End) AlignedPart(long offset, int length) =>
        ((offset + Alignment - 1) / Alignment * Alignment, (offset + length) / Alignment * Alignment);

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/> (both multiples of <see cref="Alignment"/>) past the
    /// page cache, through a second descriptor of the open file. False, with nothing written, when the filesystem
    /// refuses O_DIRECT: the caller writes through the cache.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<bool> WriteAsync(SafeFileHandle handle, long offset, ReadOnlyMemory<byte> data)
    {
        if (offset % Alignment != 0 || data.Length % Alignment != 0)
        {
            throw new ArgumentException($"a direct write needs {Alignment}-byte alignment; got {data.Length} bytes at {offset}");
        }

        var fd = DirectDescriptor.Open(handle, DirectDescriptor.WriteOnly, offset, data.Length);
        if (fd < 0)
        {
            _unsupported = true;
            return false;
        }

        var capacity = (data.Length + PieceLength - 1) / PieceLength * PieceLength;
        var buffer = _pool.Rent(capacity);
        try
        {
            Copy(data.Span, buffer);
            await BlockingCall.RunAsync(static w => WriteAll(w.Fd, w.Buffer, w.Length, w.Offset), (Fd: fd, Buffer: buffer, data.Length, Offset: offset)).ConfigureAwait(false);
        }
        finally
        {
            DirectDescriptor.Close(fd);
            _pool.Return(buffer, capacity);
        }

        return true;
    }

    public void Dispose() => _pool.Dispose();

    private static unsafe void Copy(ReadOnlySpan<byte> data, nint buffer) => data.CopyTo(new Span<byte>((void*)buffer, data.Length));

    private static void WriteAll(int fd, nint buffer, int length, long offset)
    {
        var done = 0;
        while (done < length)
        {
            var wrote = Pwrite(fd, buffer + done, (nuint)(length - done), offset + done);
            if (wrote < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno == ErrnoInterrupted)
                {
                    continue;
                }

                // The errno as the HResult's low bits, as .NET's own IOExceptions carry it: the store maps ENOSPC.
                throw new IOException(
                    errno == ErrnoNoSpace
                        ? $"No space left on device: direct write of {length} bytes at {offset}"
                        : $"direct write of {length} bytes at {offset} failed: errno {errno}",
                    errno);
            }

            if (wrote == 0)
            {
                throw new IOException($"direct write of {length} bytes at {offset} wrote nothing after {done} bytes");
            }

            done += (int)wrote;
        }
    }

    [LibraryImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static partial nint Pwrite(int fd, nint buffer, nuint count, long offset);
}
