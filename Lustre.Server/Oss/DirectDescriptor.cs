using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// A second descriptor of an open object with O_DIRECT (Linux), for <see cref="DirectReader"/> and <see cref="DirectWriter"/>:
/// the cached handle stays buffered, and /proc/self/fd reaches the file even if it was unlinked since it was opened.
/// </summary>
internal static partial class DirectDescriptor
{
    public const int ReadOnly = 0;
    public const int WriteOnly = 1;
    private const int ODirect = 0x4000;
    private const int OCloExec = 0x80000;
    private const int ErrnoNoEntry = 2;
    private const int ErrnoInvalid = 22;

    /// <summary>
    /// The new descriptor, opened <paramref name="access"/> (<see cref="ReadOnly"/> or <see cref="WriteOnly"/>) with O_DIRECT;
    /// -1 when the filesystem refuses O_DIRECT (EINVAL) or there is no /proc (ENOENT, some containers). Throws on
    /// any other failure, naming the read or write of <paramref name="length"/> bytes at <paramref name="offset"/>.
    /// Allocates nothing: the path is formatted on the stack, and the message only on failure.
    /// </summary>
    public static unsafe int Open(SafeFileHandle handle, int access, long offset, int length)
    {
        // "/proc/self/fd/" and up to 20 digits, NUL-terminated, in UTF-8.
        Span<byte> path = stackalloc byte[48];
        "/proc/self/fd/"u8.CopyTo(path);
        if (!handle.DangerousGetHandle().TryFormat(path[14..^1], out var digits, provider: System.Globalization.CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("a file descriptor did not fit its path buffer");
        }

        path[14 + digits] = 0;
        int fd;
        fixed (byte* pointer = path)
        {
            fd = Open(pointer, access | ODirect | OCloExec);
        }

        if (fd >= 0)
        {
            return fd;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is ErrnoInvalid or ErrnoNoEntry
            ? -1
            : throw new IOException($"open with O_DIRECT for a {(access == WriteOnly ? "write" : "read")} of {length} bytes at {offset} failed: errno {errno}");
    }

    public static void Close(int fd) => _ = CloseDescriptor(fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true)]
    private static unsafe partial int Open(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptor(int fd);
}
