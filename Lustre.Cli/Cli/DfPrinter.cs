using System.Globalization;
using System.Text;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>
/// Prints <c>lfs df</c>: one row per MDT and OST (<c>UUID 1K-blocks Used Available Use% Mounted on</c>, or with -i
/// <c>UUID Inodes IUsed IFree IUse% Mounted on</c>), each followed by its state letters, then
/// <c>filesystem_summary:</c>. As lfs: the space summary sums the active OSTs; the inode summary sums the MDTs and,
/// when the OSTs have fewer free objects than the MDTs free inodes, counts only as many free as the OSTs have.
/// </summary>
internal static class DfPrinter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Lustre's state letters in the order lfs prints them; the error states (all but a and f) show without -v too.</summary>
    private static readonly (LustreTargetState State, char Letter, bool IsError)[] StateLetters =
    [
        (LustreTargetState.Degraded, 'D', true),
        (LustreTargetState.ReadOnly, 'R', true),
        (LustreTargetState.NoCreate, 'N', true),
        (LustreTargetState.NoSpace, 'S', true),
        (LustreTargetState.NoInodes, 'I', true),
        (LustreTargetState.NonRotational, 'f', false),
    ];

    /// <param name="writer">Where to print.</param>
    /// <param name="fsName">The filesystem name: "Mounted on" is <c>/FSNAME</c>.</param>
    /// <param name="rows">Every target's usage, MDT first.</param>
    /// <param name="human">-h: sizes and counts cooked with K, M, G, T (powers of 1024).</param>
    /// <param name="inodes">-i: inodes instead of blocks.</param>
    /// <param name="verbose">-v: every state letter, not only the error states.</param>
    public static void Print(TextWriter writer, string fsName, IReadOnlyList<LustreTargetUsage> rows, bool human, bool inodes, bool verbose)
    {
        var mount = "/" + fsName;
        (string Total, string Used, string Free, string Percent) header = inodes ? ("Inodes", "IUsed", "IFree", "IUse%") : (human ? "bytes" : "1K-blocks", "Used", "Available", "Use%");
        writer.WriteLine(string.Create(Invariant, $"{"UUID",-20} {header.Total,12} {header.Used,12} {header.Free,12} {header.Percent,4} Mounted on"));
        long total = 0, used = 0, available = 0;
        long mdtInodes = 0, mdtFree = 0, ostObjects = 0, ostFree = 0;
        foreach (var row in rows)
        {
            var uuid = row.Name + "_UUID";
            if (!row.IsActive)
            {
                writer.WriteLine($"{uuid,-20} : inactive device");
                continue;
            }

            var kind = row.IsMetadataTarget ? "MDT" : "OST";
            var (rowTotal, rowUsed, rowFree) = inodes ? (row.Objects + row.FreeObjects, row.Objects, row.FreeObjects) : (row.TotalBytes, row.UsedBytes, row.AvailableBytes);
            writer.WriteLine(string.Create(Invariant, $"{uuid,-20} {Value(rowTotal, human, inodes),12} {Value(rowUsed, human, inodes),12} {Value(rowFree, human, inodes),12} {Percent(rowUsed, rowFree),3}% {mount}[{kind}:{row.Index}]{States(row.State, verbose)}"));
            if (row.IsMetadataTarget)
            {
                mdtInodes += row.Objects + row.FreeObjects;
                mdtFree += row.FreeObjects;
            }
            else
            {
                total += row.TotalBytes;
                used += row.UsedBytes;
                available += row.AvailableBytes;
                ostObjects += row.Objects + row.FreeObjects;
                ostFree += row.FreeObjects;
            }
        }

        if (ostObjects > 0 && ostFree < mdtFree)
        {
            mdtInodes = mdtInodes - mdtFree + ostFree;
            mdtFree = ostFree;
        }

        var (sumTotal, sumUsed, sumFree) = inodes ? (mdtInodes, mdtInodes - mdtFree, mdtFree) : (total, used, available);
        writer.WriteLine();
        writer.WriteLine(string.Create(Invariant, $"{"filesystem_summary:",-20} {Value(sumTotal, human, inodes),12} {Value(sumUsed, human, inodes),12} {Value(sumFree, human, inodes),12} {Percent(sumUsed, sumFree),3}% {mount}"));
        writer.WriteLine();
    }

    /// <summary>Bytes as kibibytes, counts as they are; with -h cooked as lfs cooks them.</summary>
    private static string Value(long value, bool human, bool isCount) =>
        human ? Cooked(value) : isCount ? value.ToString(Invariant) : (value / 1024).ToString(Invariant);

    /// <summary>
    /// lfs's -h: a value of 1024 or more with one decimal and a unit (K, M, G, T, P, E: powers of 1024), a smaller
    /// one as it is.
    /// </summary>
    public static string Cooked(long value)
    {
        const string Units = "KMGTPE";
        if (value < 1024)
        {
            return value.ToString(Invariant);
        }

        double cooked = value;
        var unit = -1;
        while (cooked >= 1024 && unit < Units.Length - 1)
        {
            cooked /= 1024;
            unit++;
        }

        return string.Create(Invariant, $"{cooked:0.0}{Units[unit]}");
    }

    /// <summary>Kibibytes, or with <paramref name="human"/> a number with one decimal and a unit from B (cp's sizes and rates).</summary>
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

    /// <summary>The row's state letters after a space, as lfs appends them; without -v only the error states.</summary>
    private static string States(LustreTargetState state, bool verbose)
    {
        var letters = new StringBuilder();
        foreach (var (flag, letter, isError) in StateLetters)
        {
            if ((state & flag) != 0 && (isError || verbose))
            {
                letters.Append(letter);
            }
        }

        return letters.Length == 0 ? string.Empty : " " + letters;
    }

    /// <summary>Use% rounded up, as lfs rounds it, so a target in use never shows 0%.</summary>
    private static long Percent(long used, long available)
    {
        var sum = used + available;
        return sum <= 0 ? 0 : ((used * 100) + sum - 1) / sum;
    }
}
