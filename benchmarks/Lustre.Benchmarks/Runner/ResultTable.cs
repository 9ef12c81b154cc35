using System.Globalization;
using System.Text;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// The run's results: comparisons (ours against a same-run baseline, with a target ratio) and every measured phase
/// with its cost, printed for the console and written as Markdown.
/// </summary>
internal sealed class ResultTable
{
    private readonly List<Comparison> _comparisons = [];
    private readonly List<PhaseResult> _phases = [];

    public IReadOnlyList<Comparison> Comparisons => _comparisons;

    /// <summary>Rates in GiB/s and kIOPS (IO500's units) instead of GB/s and kop/s.</summary>
    public bool BinaryUnits { get; init; }

    public void Add(PhaseResult phase) => _phases.Add(phase);

    /// <summary>Adds <paramref name="result"/> and prints its line (rate, wall, CPU, cores busy, allocations, cost per unit) as it comes.</summary>
    public PhaseResult Report(PhaseResult result)
    {
        Add(result);
        var cost = result.Cost;
        Console.WriteLine($"  {result.Name}: {result.FormatRate(BinaryUnits)} ({cost.Wall.TotalSeconds:0.00} s, CPU {cost.Cpu.TotalSeconds:0.00} s = {cost.CoresBusy:0.00} cores, allocated {FormatBytes(cost.AllocatedBytes)}; {result.FormatUnitCost()})");
        return result;
    }

    public void Compare(string name, PhaseResult ours, PhaseResult baseline, string baselineName, double? targetRatio) =>
        _comparisons.Add(new Comparison(name, ours, baseline, baselineName, targetRatio));

    public string ToMarkdown(bool judge)
    {
        var text = new StringBuilder();
        text.AppendLine("| phase | ours | baseline | ratio | target | result |");
        text.AppendLine("|---|---:|---:|---:|---:|---|");
        foreach (var c in _comparisons)
        {
            var result = c.TargetRatio is null ? "reference" : judge ? (c.Passed ? "PASS" : "MISS") : "(quick: not judged)";
            var target = c.TargetRatio is { } t ? string.Create(CultureInfo.InvariantCulture, $"≥ {t:0.0#}×") : "—";
            text.AppendLine(CultureInfo.InvariantCulture, $"| {c.Name} | {c.Ours.FormatRate(BinaryUnits)} | {c.Baseline.FormatRate(BinaryUnits)} ({c.BaselineName}) | {c.Ratio:0.00}× | {target} | {result} |");
        }

        text.AppendLine();
        text.AppendLine("| measured phase | rate | wall | CPU | cores busy | allocated | GCs (0/1/2) | per unit |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var p in _phases)
        {
            var cost = p.Cost;
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {p.Name} | {p.FormatRate(BinaryUnits)} | {cost.Wall.TotalSeconds:0.00} s | {cost.Cpu.TotalSeconds:0.00} s | {cost.CoresBusy:0.00} | {FormatBytes(cost.AllocatedBytes)} | {cost.Gen0}/{cost.Gen1}/{cost.Gen2} | {p.FormatUnitCost()} |");
        }

        return text.ToString();
    }

    public static string FormatBytes(long bytes) => bytes switch
    {
        >= 1L << 30 => $"{bytes / (double)(1L << 30):0.00} GiB",
        >= 1L << 20 => $"{bytes / (double)(1L << 20):0.0} MiB",
        >= 1L << 10 => $"{bytes / 1024.0:0.0} KiB",
        _ => $"{bytes} B",
    };
}
