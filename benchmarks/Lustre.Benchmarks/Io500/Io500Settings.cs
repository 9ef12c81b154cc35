using System.Globalization;
using System.Text.Json;
using Lustre.Benchmarks.Runner;
using Lustre.Cli;
using Lustre.Layouts;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// The scale of one <c>io500</c> run, read from the parameter file (<c>benchmarks/io500.json</c>: a <c>full</c> and a
/// <c>quick</c> section) and printed beside the table.
/// </summary>
internal sealed record Io500Settings
{
    public required int Tasks { get; init; }

    public required int OstCount { get; init; }

    public required long StripeSize { get; init; }

    public required long IorEasyBytesPerTask { get; init; }

    public required int IorEasyTransferSize { get; init; }

    public required int IorHardRecordSize { get; init; }

    public required int IorHardSegmentsPerTask { get; init; }

    public required int MdtestEasyFilesPerTask { get; init; }

    public required int MdtestHardFileSize { get; init; }

    public required int MdtestHardFilesPerTask { get; init; }

    /// <summary>mdtest-hard's directory keeps this many bytes of each file on the MDT (Data-on-MDT); 0: files on OSTs only.</summary>
    public required long MdtestHardDataOnMdt { get; init; }

    public required string FindNameContains { get; init; }

    public required TimeSpan DurableCommitDuration { get; init; }

    public required bool Quick { get; init; }

    /// <summary>Where the parameters came from.</summary>
    public required string Source { get; init; }

    /// <summary>The file next to the binary (copied from <c>benchmarks/io500.json</c> at build).</summary>
    public static string DefaultFile => Path.Combine(AppContext.BaseDirectory, "io500.json");

    public static Io500Settings Load(string file, bool quick, int? tasks)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(file));
        var sectionName = quick ? "quick" : "full";
        if (!document.RootElement.TryGetProperty(sectionName, out var section))
        {
            throw new ArgumentException($"{file} has no \"{sectionName}\" section.", nameof(file));
        }

        var settings = new Io500Settings
        {
            Tasks = tasks ?? Int(section, "tasks"),
            OstCount = Int(section, "ostCount"),
            StripeSize = Size(section, "stripeSize"),
            IorEasyBytesPerTask = Size(section, "iorEasyBytesPerTask"),
            IorEasyTransferSize = checked((int)Size(section, "iorEasyTransferSize")),
            IorHardRecordSize = Int(section, "iorHardRecordSize"),
            IorHardSegmentsPerTask = Int(section, "iorHardSegmentsPerTask"),
            MdtestEasyFilesPerTask = Int(section, "mdtestEasyFilesPerTask"),
            MdtestHardFileSize = Int(section, "mdtestHardFileSize"),
            MdtestHardFilesPerTask = Int(section, "mdtestHardFilesPerTask"),
            MdtestHardDataOnMdt = section.TryGetProperty("mdtestHardDataOnMdt", out _) ? Size(section, "mdtestHardDataOnMdt") : 0,
            FindNameContains = section.GetProperty("findNameContains").GetString() ?? "01",
            DurableCommitDuration = TimeSpan.FromSeconds(section.GetProperty("durableCommitSeconds").GetDouble()),
            Quick = quick,
            Source = $"{file} ({sectionName})",
        };
        settings.Validate();
        return settings;
    }

    private static int Int(JsonElement section, string name) =>
        section.TryGetProperty(name, out var value) ? value.GetInt32() : throw new ArgumentException($"The io500 parameters lack \"{name}\".", name);

    private static long Size(JsonElement section, string name) =>
        section.TryGetProperty(name, out var value)
            ? value.ValueKind == JsonValueKind.Number ? value.GetInt64() : SizeParser.Parse(value.GetString() ?? string.Empty, name)
            : throw new ArgumentException($"The io500 parameters lack \"{name}\".", name);

    private void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Tasks, 1, "tasks");
        ArgumentOutOfRangeException.ThrowIfLessThan(OstCount, 1, "ostCount");
        if (IorEasyTransferSize <= 0 || IorEasyTransferSize % TestPattern.BlockSize != 0 || IorEasyBytesPerTask % IorEasyTransferSize != 0)
        {
            throw new ArgumentException($"iorEasyTransferSize must be a multiple of 1 MiB dividing iorEasyBytesPerTask ({IorEasyTransferSize}, {IorEasyBytesPerTask}).", "iorEasyTransferSize");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(IorHardRecordSize, RecordPattern.HeaderSize, "iorHardRecordSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(MdtestHardFileSize, RecordPattern.HeaderSize, "mdtestHardFileSize");
        ArgumentOutOfRangeException.ThrowIfLessThan(IorHardSegmentsPerTask, 1, "iorHardSegmentsPerTask");
        ArgumentOutOfRangeException.ThrowIfLessThan(MdtestEasyFilesPerTask, 1, "mdtestEasyFilesPerTask");
        ArgumentOutOfRangeException.ThrowIfLessThan(MdtestHardFilesPerTask, 1, "mdtestHardFilesPerTask");
        if (MdtestHardDataOnMdt < 0 || MdtestHardDataOnMdt % LayoutDefaults.StripeAlignment != 0 || MdtestHardDataOnMdt > LayoutDefaults.MaxDataOnMdtSize)
        {
            throw new ArgumentException($"mdtestHardDataOnMdt must be 0 (off) or a multiple of 64 KiB up to {LayoutDefaults.MaxDataOnMdtSize}, got {MdtestHardDataOnMdt}.", "mdtestHardDataOnMdt");
        }
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Tasks} tasks, {OstCount} OSTs; ior-easy {ResultTable.FormatBytes(IorEasyBytesPerTask)} per task in {ResultTable.FormatBytes(IorEasyTransferSize)} transfers, " +
        $"striped over all OSTs ({ResultTable.FormatBytes(StripeSize)} stripes); ior-hard {IorHardSegmentsPerTask} × {IorHardRecordSize} B records per task in one shared file; " +
        $"mdtest-easy {MdtestEasyFilesPerTask} empty files per task; mdtest-hard {MdtestHardFilesPerTask} × {MdtestHardFileSize} B files per task in one directory {HardFilesWhere}; " +
        $"find: names containing \"{FindNameContains}\" of {MdtestHardFileSize} B; parameters from {Source}");

    private string HardFilesWhere => MdtestHardDataOnMdt > 0 ? $"with Data-on-MDT (first {ResultTable.FormatBytes(MdtestHardDataOnMdt)} on the MDT)" : "on OSTs";
}
