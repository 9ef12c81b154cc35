using System.Runtime.InteropServices;
using Lustre.Client;

namespace Lustre.Server.Storage;

/// <summary>
/// What <c>lfs df</c> reports of the local filesystem a target's files live on, beyond its bytes: free inodes and
/// whether it is read-only (statvfs), and whether its device is not rotational (Linux's
/// <c>/sys/dev/block/MAJ:MIN/queue/rotational</c> of the device mounted there). Linux, 64-bit only; elsewhere unknown.
/// </summary>
internal static partial class LocalVolume
{
    private const ulong ReadOnlyFlag = 1; // ST_RDONLY

    /// <summary>
    /// The free inodes of the filesystem at <paramref name="path"/> (null: unknown) and the state flags it gives a
    /// target on it: <see cref="LustreTargetState.ReadOnly"/> when mounted read-only,
    /// <see cref="LustreTargetState.NonRotational"/> on flash.
    /// </summary>
    public static (long? FreeInodes, LustreTargetState State) Probe(string path)
    {
        var state = IsNonRotational(path) == true ? LustreTargetState.NonRotational : LustreTargetState.None;
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess || StatVfs(path, out var stat) != 0)
        {
            return (null, state);
        }

        // f_favail: inodes an unprivileged process can use, as f_bavail is for blocks.
        state |= (stat.Flags & ReadOnlyFlag) != 0 ? LustreTargetState.ReadOnly : LustreTargetState.None;
        return ((long)Math.Min(stat.FilesAvailable, long.MaxValue), state);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool?> Rotational = new(StringComparer.Ordinal);

    /// <summary>
    /// True when the block device mounted at <paramref name="path"/> is not rotational (flash); null when unknown (no
    /// block device, another OS). Looked up once per path: a target's device does not change while it runs.
    /// </summary>
    private static bool? IsNonRotational(string path) => Rotational.GetOrAdd(path, FindNonRotational);

    private static bool? FindNonRotational(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            if (DeviceOf(Path.GetFullPath(path)) is not { } device)
            {
                return null;
            }

            // A partition's queue is its disk's: /sys/dev/block/8:1 links to .../sda/sda1.
            var node = new DirectoryInfo($"/sys/dev/block/{device}");
            if (!node.Exists)
            {
                return null;
            }

            var resolved = node.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? node.FullName;
            foreach (var candidate in new[] { Path.Combine(resolved, "queue", "rotational"), Path.Combine(Path.GetDirectoryName(resolved) ?? resolved, "queue", "rotational") })
            {
                if (File.Exists(candidate))
                {
                    return File.ReadAllText(candidate).Trim() == "0";
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Not visible in this container: unknown.
        }

        return null;
    }

    /// <summary>MAJ:MIN of the mount that holds <paramref name="path"/>: the longest mount point in /proc/self/mountinfo that is a prefix of it.</summary>
    private static string? DeviceOf(string path)
    {
        string? device = null;
        var longest = -1;
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS ... (spaces in paths are written \040)
            var fields = line.Split(' ');
            if (fields.Length < 5)
            {
                continue;
            }

            var mount = fields[4].Replace("\\040", " ", StringComparison.Ordinal);
            var under = mount == "/" || path == mount || path.StartsWith(mount.TrimEnd('/') + "/", StringComparison.Ordinal);
            if (under && mount.Length > longest)
            {
                longest = mount.Length;
                device = fields[2];
            }
        }

        return device;
    }

    [LibraryImport("libc", EntryPoint = "statvfs", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int StatVfs(string path, out StatVfsBuffer buffer);

    /// <summary>struct statvfs of 64-bit Linux (glibc and musl agree on these fields).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct StatVfsBuffer
    {
        public ulong BlockSize;
        public ulong FragmentSize;
        public ulong Blocks;
        public ulong BlocksFree;
        public ulong BlocksAvailable;
        public ulong Files;
        public ulong FilesFree;
        public ulong FilesAvailable;
        public ulong FilesystemId;
        public ulong Flags;
        public ulong NameMax;
        private readonly int _spare0;
        private readonly int _spare1;
        private readonly int _spare2;
        private readonly int _spare3;
        private readonly int _spare4;
        private readonly int _spare5;
    }
}
