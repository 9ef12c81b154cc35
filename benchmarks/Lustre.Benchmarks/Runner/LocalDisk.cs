using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Benchmarks.Runner;

/// <summary>The durability calls a local baseline needs that <see cref="FileStream"/> does not offer.</summary>
internal static partial class LocalDisk
{
    private const int ODirectory = 0x10000; // O_RDONLY | O_DIRECTORY on Linux
    private const int OCreateTruncateDirectWrite = 0x1 | 0x40 | 0x200 | 0x4000; // O_WRONLY | O_CREAT | O_TRUNC | O_DIRECT

    /// <summary>Writes every dirty page and inode of every filesystem back (sync(2)).</summary>
    public static void SyncAll() => Sync();

    /// <summary>Opens a directory for <see cref="FsyncDirectory"/>, which .NET's file APIs refuse on a directory.</summary>
    public static SafeFileHandle OpenDirectory(string path)
    {
        var fd = Open(path, ODirectory, 0);
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"open of directory {path} failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Creates (or truncates) <paramref name="path"/> for writes past the page cache (O_DIRECT: aligned buffers, offsets and lengths).</summary>
    public static SafeFileHandle CreateDirect(string path)
    {
        var fd = Open(path, OCreateTruncateDirectWrite, 0x1A4); // mode 0644
        return fd >= 0 ? new SafeFileHandle(fd, ownsHandle: true) : throw new IOException($"open of {path} with O_DIRECT failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>Makes the directory's entries durable (fsync(2) of the directory), as a durable unlink needs.</summary>
    public static void FsyncDirectory(SafeFileHandle directory)
    {
        if (Fsync((int)directory.DangerousGetHandle()) != 0)
        {
            throw new IOException($"fsync of a directory failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "sync")]
    private static partial void Sync();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);
}
