using System.Globalization;
using System.Text;

namespace Lustre.Benchmarks.Runner;

/// <summary>
/// The comparisons of several repetitions inside one command, each ratio as the median of its repetitions with the
/// minimum and maximum beside it, and judged on the median: a single lucky or unlucky run decides nothing.
/// </summary>
internal static class RepeatSummary
{
    public static string ToMarkdown(IReadOnlyList<ResultTable> runs, bool judge)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| phase | ratio, {runs.Count} repetitions | median | min | max | target | result |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---|");
        foreach (var name in runs[0].Comparisons.Select(c => c.Name))
        {
            var ratios = runs.Select(r => r.Comparisons.First(c => c.Name == name)).ToList();
            var sorted = ratios.Select(c => c.Ratio).Order().ToArray();
            var median = Median(sorted);
            var target = ratios[0].TargetRatio;
            var result = target is null ? "reference" : judge ? (median >= target ? "PASS" : "MISS") : "(quick: not judged)";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} (vs {ratios[0].BaselineName}) | {string.Join(", ", ratios.Select(c => c.Ratio.ToString("0.00", CultureInfo.InvariantCulture)))} | {median:0.00}× | {sorted[0]:0.00}× | {sorted[^1]:0.00}× | {(target is { } t ? string.Create(CultureInfo.InvariantCulture, $"≥ {t:0.0#}×") : "—")} | {result} |");
        }

        return text.ToString();
    }

    /// <summary>True when every judged comparison's median meets its target.</summary>
    public static bool AllPassed(IReadOnlyList<ResultTable> runs) =>
        runs[0].Comparisons.All(c => c.TargetRatio is not { } target || Median([.. runs.Select(r => r.Comparisons.First(x => x.Name == c.Name).Ratio).Order()]) >= target);

    /// <summary>The median of values already in ascending order.</summary>
    public static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}
