using System.Runtime.InteropServices;

namespace Lustre.IO;

/// <summary>
/// Asks Linux to back large buffers with transparent huge pages (2 MiB) before they are first touched, where the
/// host lets a process choose (<c>/sys/kernel/mm/transparent_hugepage/enabled</c> is <c>madvise</c>). Touching a fresh
/// page costs a fault each; a 2 MiB page takes one fault where 4 KiB pages take 512. On a virtual machine whose faults
/// are dear (12 µs each on the 2-core VM of docs/benchmarks.md) that is most of what first use of gigabytes costs.
/// A hint only: a host that refuses, or has no huge page free, maps small pages as before.
/// </summary>
internal static class HugePages
{
    private const int MadvHugePage = 14;
    private const long HugePageSize = 2 << 20;
    private static bool _refused = !OperatingSystem.IsLinux();

    /// <summary>
    /// Advises huge pages for the whole 2 MiB pages inside <paramref name="buffer"/>; call it before the buffer's pages
    /// are first written. Nothing for buffers under 4 MiB (at most one huge page would fit), off Linux, or after the
    /// kernel refused once. The buffer must not move: an array on the pinned or large object heap.
    /// </summary>
    public static void Advise(byte[] buffer)
    {
        if (_refused || buffer.Length < 2 * HugePageSize)
        {
            return;
        }

        var pin = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        try
        {
            var start = (long)pin.AddrOfPinnedObject();
            var first = (start + HugePageSize - 1) & ~(HugePageSize - 1);
            var end = (start + buffer.Length) & ~(HugePageSize - 1);
            if (end > first && madvise((nint)first, (nuint)(end - first), MadvHugePage) != 0)
            {
                _refused = true;
            }
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // A C library without madvise: a hint we cannot give.
            _refused = true;
        }
        finally
        {
            pin.Free();
        }
    }

    // DllImport, not LibraryImport: the SDK compiles without unsafe code, and these arguments need no marshalling.
    [DllImport("libc", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int madvise(nint address, nuint length, int advice);
}
