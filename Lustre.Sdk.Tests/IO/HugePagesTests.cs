using System.Globalization;
using System.Runtime.InteropServices;
using Lustre.IO;

namespace Lustre.Tests.IO;

/// <summary>The huge page advice on large fresh buffers reaches the kernel for the buffer's own pages.</summary>
public sealed class HugePagesTests
{
    private const long HugePage = 2 << 20;

    [Fact]
    public void A_large_buffer_is_advised_huge_pages_where_the_kernel_has_them()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(16 << 20, pinned: true);
        HugePages.Advise(buffer);
        buffer.AsSpan().Fill(1);

        if (!OperatingSystem.IsLinux() || !File.Exists("/sys/kernel/mm/transparent_hugepage/enabled"))
        {
            // No transparent huge pages to ask for: the advice is a no-op and the buffer is as written.
            Assert.All(buffer, b => Assert.Equal(1, b));
            return;
        }

        // The first whole 2 MiB page inside the buffer lies in a mapping the kernel marks "hg" (MADV_HUGEPAGE).
        var start = (long)Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
        var firstHugePage = (start + HugePage - 1) & ~(HugePage - 1);
        Assert.Contains("hg", VmFlagsAt(firstHugePage));
    }

    /// <summary>The VmFlags of the mapping holding <paramref name="address"/>, from /proc/self/smaps.</summary>
    private static string[] VmFlagsAt(long address)
    {
        var inside = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            var dash = line.IndexOf('-', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (dash > 0 && space > dash && long.TryParse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var from)
                && long.TryParse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var to))
            {
                inside = address >= from && address < to;
            }
            else if (inside && line.StartsWith("VmFlags:", StringComparison.Ordinal))
            {
                return line["VmFlags:".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        throw new InvalidOperationException($"No mapping in /proc/self/smaps holds 0x{address:x}.");
    }
}
