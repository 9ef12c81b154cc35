using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// A read that is served only from the page cache: <c>preadv2(RWF_NOWAIT)</c> on Linux, which returns what is cached
/// and never waits for the disk. A small read of cached bytes then costs one syscall on the calling thread instead of
/// a hop to the thread pool and back; a miss (or any other platform) falls back to the ordinary async read.
/// </summary>
internal static unsafe partial class CachedRead
{
    private const int RwfNoWait = 0x8;

    /// <summary>
    /// Bytes read from the cache at the start of <paramref name="destination"/> (0: none cached, or not supported);
    /// -1 when <paramref name="offset"/> is at or past the end of the file.
    /// </summary>
    public static int TryRead(SafeFileHandle handle, Span<byte> destination, long offset)
    {
        if (!OperatingSystem.IsLinux() || destination.IsEmpty)
        {
            return 0;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            fixed (byte* buffer = destination)
            {
                var vector = new IoVector { Base = buffer, Length = (nuint)destination.Length };
                var read = PReadV2((int)handle.DangerousGetHandle(), &vector, 1, offset, RwfNoWait);
                // EAGAIN (not cached), EOPNOTSUPP (no NOWAIT on this filesystem) and the rest: the caller reads normally.
                return read < 0 ? 0 : read == 0 ? -1 : (int)read;
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [LibraryImport("libc", EntryPoint = "preadv2", SetLastError = true)]
    private static partial nint PReadV2(int fd, IoVector* vectors, int count, long offset, int flags);
}
