using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// Drops files' clean pages from the page cache (posix_fadvise DONTNEED; no root needed), so a read that follows
/// comes from the disk, as a restart reading a checkpoint written long ago, or by another node, does.
/// </summary>
internal static partial class PageCache
{
    private const int PosixFadvDontNeed = 4;

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(int fd, long offset, long length, int advice);

    /// <summary>
    /// Evicts every file under <paramref name="directory"/>, except under <paramref name="except"/> (fsync'd data only:
    /// dirty pages stay); returns the bytes they hold.
    /// </summary>
    public static long Evict(string directory, string? except = null)
    {
        long bytes = 0;
        foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            if (except is not null && path.StartsWith(except + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var error = PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed);
            if (error != 0)
            {
                throw new IOException($"posix_fadvise(DONTNEED) failed on {path}: errno {error}");
            }

            bytes += RandomAccess.GetLength(handle);
        }

        return bytes;
    }

    /// <summary>
    /// Reads a cluster's files under <paramref name="clusterDirectory"/> into the page cache (untimed), for a phase that
    /// reads from the cache as the local one does after direct writes left our objects out of it; returns the line to print.
    /// </summary>
    public static string WarmAfterDirectWrites(string clusterDirectory, byte[] buffer) =>
        $"our objects read into the page cache (untimed; direct writes leave them out): {ReadAll(clusterDirectory, buffer) >> 20} MiB";

    private static long ReadAll(string directory, byte[] buffer)
    {
        long bytes = 0;
        foreach (var path in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            bytes += ReadWhole(handle, buffer);
        }

        return bytes;
    }

    /// <summary>Reads the whole file through the page cache with <paramref name="buffer"/>; returns the bytes read.</summary>
    public static long ReadWhole(SafeFileHandle handle, byte[] buffer)
    {
        long at = 0;
        int read;
        while ((read = RandomAccess.Read(handle, buffer, at)) > 0)
        {
            at += read;
        }

        return at;
    }
}
