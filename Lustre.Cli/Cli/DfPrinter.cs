using System.Globalization;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>
/// Prints <c>lfs df</c>: one row per MDT and OST (<c>UUID 1K-blocks Used Available Use% Mounted on</c>), then
/// <c>filesystem_summary:</c> with the sums over the active OSTs, as Lustre sums the OSTs for space.
/// </summary>
internal static class DfPrinter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Print(TextWriter writer, string fsName, IReadOnlyList<LustreTargetUsage> rows, bool human)
    {
        var mount = "/" + fsName;
        writer.WriteLine(string.Create(Invariant, $"{"UUID",-20} {(human ? "bytes" : "1K-blocks"),12} {"Used",12} {"Available",12} {"Use%",4} Mounted on"));
        long total = 0, used = 0, available = 0;
        foreach (var row in rows)
        {
            var uuid = row.Name + "_UUID";
            if (!row.IsActive)
            {
                writer.WriteLine($"{uuid,-20} : inactive device");
                continue;
            }

            var kind = row.IsMetadataTarget ? "MDT" : "OST";
            writer.WriteLine(string.Create(Invariant, $"{uuid,-20} {Size(row.TotalBytes, human),12} {Size(row.UsedBytes, human),12} {Size(row.AvailableBytes, human),12} {Percent(row.UsedBytes, row.AvailableBytes),3}% {mount}[{kind}:{row.Index}]"));
            if (!row.IsMetadataTarget)
            {
                total += row.TotalBytes;
                used += row.UsedBytes;
                available += row.AvailableBytes;
            }
        }

        writer.WriteLine();
        writer.WriteLine(string.Create(Invariant, $"{"filesystem_summary:",-20} {Size(total, human),12} {Size(used, human),12} {Size(available, human),12} {Percent(used, available),3}% {mount}"));
        writer.WriteLine();
    }

    /// <summary>Kibibytes, or with -h a number with one decimal and a unit, as lfs prints them.</summary>
    public static string Size(long bytes, bool human)
    {
        if (!human)
        {
            return (bytes / 1024).ToString(Invariant);
        }

        const string Units = "BKMGTPE";
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < Units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return string.Create(Invariant, $"{value:0.0}{Units[unit]}");
    }

    /// <summary>Use% rounded up, as lfs rounds it, so a target in use never shows 0%.</summary>
    private static long Percent(long used, long available)
    {
        var sum = used + available;
        return sum <= 0 ? 0 : ((used * 100) + sum - 1) / sum;
    }
}
