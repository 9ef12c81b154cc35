using Lustre.Cli;
using Lustre.Client;

namespace Lustre.Tests.Cli;

/// <summary>lfs df's rows, summaries and state letters, printed from usage rows.</summary>
public sealed class DfPrinterTests
{
    private static readonly LustreTargetUsage[] Rows =
    [
        new("lustre-MDT0000", true, 0, true, 100 << 20, 40 << 20, 60 << 20, 1000) { FreeObjects = 9000, State = LustreTargetState.NonRotational },
        new("lustre-OST0000", false, 0, true, 1L << 30, 1L << 29, 1L << 29, 300) { FreeObjects = 2700, State = LustreTargetState.NoSpace | LustreTargetState.NonRotational },
        new("lustre-OST0001", false, 1, true, 1L << 30, 0, 1L << 30, 100) { FreeObjects = 2900, State = LustreTargetState.ReadOnly },
        new("lustre-OST0002", false, 2, false, 0, 0, 0, 0),
    ];

    private static string[] Print(bool human = false, bool inodes = false, bool verbose = false)
    {
        var writer = new StringWriter();
        DfPrinter.Print(writer, "lustre", Rows, human, inodes, verbose);
        return writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    private static string[] Fields(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Inodes_are_used_and_free_per_target_and_the_summary_is_the_MDTs_capped_by_the_OSTs_free_objects()
    {
        var lines = Print(inodes: true);

        Assert.Equal(["UUID", "Inodes", "IUsed", "IFree", "IUse%", "Mounted", "on"], Fields(lines[0]));
        Assert.Equal(["lustre-MDT0000_UUID", "10000", "1000", "9000", "10%", "/lustre[MDT:0]"], Fields(lines[1]));
        Assert.Equal(["lustre-OST0000_UUID", "3000", "300", "2700", "10%", "/lustre[OST:0]", "S"], Fields(lines[2]));
        Assert.Equal(["lustre-OST0001_UUID", "3000", "100", "2900", "4%", "/lustre[OST:1]", "R"], Fields(lines[3]));
        Assert.Equal("lustre-OST0002_UUID  : inactive device", lines[4]);

        // The OSTs have 5600 free objects, fewer than the MDT's 9000 free inodes: as lfs, the summary counts 5600 free.
        Assert.Equal(["filesystem_summary:", "6600", "1000", "5600", "16%", "/lustre"], Fields(lines[5]));
    }

    [Fact]
    public void Space_summary_sums_the_OSTs_and_verbose_adds_the_flash_letter()
    {
        var lines = Print();

        Assert.Equal(["lustre-MDT0000_UUID", "102400", "40960", "61440", "40%", "/lustre[MDT:0]"], Fields(lines[1]));
        Assert.Equal(["filesystem_summary:", "2097152", "524288", "1572864", "25%", "/lustre"], Fields(lines[5]));

        var verbose = Print(verbose: true);
        Assert.Equal("f", Fields(verbose[1])[^1]);
        Assert.Equal("Sf", Fields(verbose[2])[^1]);
        Assert.Equal("R", Fields(verbose[3])[^1]);
    }

    [Fact]
    public void Human_sizes_and_counts_are_cooked_as_lfs()
    {
        Assert.Equal(["lustre-MDT0000_UUID", "100.0M", "40.0M", "60.0M", "40%", "/lustre[MDT:0]"], Fields(Print(human: true)[1]));
        Assert.Equal(["lustre-MDT0000_UUID", "9.8K", "1000", "8.8K", "10%", "/lustre[MDT:0]"], Fields(Print(human: true, inodes: true)[1]));
        Assert.Equal(["1023", "1.0K", "1.5G", "8.0E"], new[] { 1023L, 1024, 3L << 29, long.MaxValue }.Select(DfPrinter.Cooked));
    }
}
