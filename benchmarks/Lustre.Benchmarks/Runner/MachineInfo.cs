using System.Runtime.InteropServices;

namespace Lustre.Benchmarks.Runner;

/// <summary>What the numbers were measured on: they mean nothing without it.</summary>
internal sealed record MachineInfo(int Cores, string Cpu, string Memory, string Os, string Runtime, string Disk)
{
    public static MachineInfo Describe(string dataDirectory) => new(
        Environment.ProcessorCount,
        ReadProc("/proc/cpuinfo", "model name") ?? RuntimeInformation.ProcessArchitecture.ToString(),
        ReadProc("/proc/meminfo", "MemTotal") is { } kb ? FormatKiB(kb) : "?",
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        DescribeDisk(dataDirectory));

    /// <summary>The 1-minute load average: the machine is shared, and a figure measured at load 12 on 2 cores is not one measured idle.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    public override string ToString() => $"{Cores} cores ({Cpu}), {Memory} RAM, {Os}, {Runtime}; data on {Disk}";

    private static string? ReadProc(string file, string key)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        foreach (var line in File.ReadLines(file))
        {
            if (line.StartsWith(key, StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is var colon and > 0)
            {
                return line[(colon + 1)..].Trim();
            }
        }

        return null;
    }

    private static string FormatKiB(string text) =>
        long.TryParse(text.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture, out var kib) ? $"{kib / (1024.0 * 1024):0.0} GiB" : text;

    /// <summary>The device of the mount holding the folder (e.g. /dev/vda); null without /proc/mounts.</summary>
    public static string? DeviceOf(string directory) => MountOf(Path.GetFullPath(directory))?.Device;

    /// <summary>The mount holding the folder and its filesystem type.</summary>
    private static string DescribeDisk(string directory)
    {
        var full = Path.GetFullPath(directory);
        return MountOf(full) is { } mount ? $"{mount.Device} ({mount.Type}, mounted at {mount.Point}), folder {full}" : full;
    }

    /// <summary>The longest mount point in /proc/mounts that holds <paramref name="full"/>; null without /proc/mounts.</summary>
    private static (string Point, string Device, string Type)? MountOf(string full)
    {
        if (!File.Exists("/proc/mounts"))
        {
            return null;
        }

        var best = (Point: string.Empty, Device: "?", Type: "?");
        foreach (var line in File.ReadLines("/proc/mounts"))
        {
            var parts = line.Split(' ');
            if (parts.Length >= 3 && full.StartsWith(parts[1], StringComparison.Ordinal) && parts[1].Length > best.Point.Length)
            {
                best = (parts[1], parts[0], parts[2]);
            }
        }

        return best;
    }
}
