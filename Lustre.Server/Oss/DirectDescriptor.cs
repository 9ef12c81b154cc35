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
    /// any other failure, naming <paramref name="what"/>.
    /// </summary>
    public static int Open(SafeFileHandle handle, int access, string what)
    {
        var fd = Open($"/proc/self/fd/{handle.DangerousGetHandle()}", access | ODirect | OCloExec);
        if (fd >= 0)
        {
            return fd;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno is ErrnoInvalid or ErrnoNoEntry ? -1 : throw new IOException($"open with O_DIRECT for {what} failed: errno {errno}");
    }

    public static void Close(int fd) => _ = CloseDescriptor(fd);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int CloseDescriptor(int fd);
}
