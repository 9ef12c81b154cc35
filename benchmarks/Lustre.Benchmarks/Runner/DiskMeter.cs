using System.Diagnostics;
using System.Globalization;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// The reads of one block device between start and stop, from /proc/diskstats (Linux): bytes, requests, and the average
/// number of reads outstanding at the device (iostat's read <c>aqu-sz</c>: time spent by all reads over wall time). It
/// tells a phase limited by the disk's queue (depth near 1 while the device could take more) from one limited by CPU.
/// Whole-device figures: reads of other processes on the same disk count too.
/// </summary>
internal sealed class DiskMeter
{
    private readonly string _device;
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly (long Reads, long Sectors, long Milliseconds) _start;

    private DiskMeter(string device, (long, long, long) start)
    {
        _device = device;
        _start = start;
    }

    /// <summary>A meter of <paramref name="device"/> (a path such as /dev/vda, or its name); null where /proc/diskstats has no such device.</summary>
    public static DiskMeter? Start(string? device)
    {
        var name = device is null ? null : Path.GetFileName(device);
        return name is not null && Read(name) is { } start ? new DiskMeter(name, start) : null;
    }

    /// <summary>What the device read since start, e.g. "vda: 1.07 GB in 263 reads of 3.9 MiB, 1.9 reads queued".</summary>
    public string Stop()
    {
        var wall = _wall.Elapsed;
        if (Read(_device) is not { } end)
        {
            return $"{_device}: gone from /proc/diskstats";
        }

        var reads = end.Reads - _start.Reads;
        var bytes = (end.Sectors - _start.Sectors) * 512;
        var queued = (end.Milliseconds - _start.Milliseconds) / Math.Max(wall.TotalMilliseconds, 1);
        var size = reads > 0 ? $" of {bytes / (double)reads / (1 << 20):0.00} MiB" : string.Empty;
        return string.Create(CultureInfo.InvariantCulture, $"{_device}: {bytes / 1e9:0.00} GB in {reads} reads{size}, {queued:0.0} reads queued");
    }

    /// <summary>Reads completed, sectors read and milliseconds spent reading (fields 4, 6 and 7 of /proc/diskstats).</summary>
    private static (long Reads, long Sectors, long Milliseconds)? Read(string name)
    {
        if (!File.Exists("/proc/diskstats"))
        {
            return null;
        }

        foreach (var line in File.ReadLines("/proc/diskstats"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 7 && fields[2] == name)
            {
                return (long.Parse(fields[3], CultureInfo.InvariantCulture), long.Parse(fields[5], CultureInfo.InvariantCulture), long.Parse(fields[6], CultureInfo.InvariantCulture));
            }
        }

        return null;
    }
}
