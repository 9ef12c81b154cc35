namespace Lustre.Benchmarks.Runner;

/// <summary>One measured quantity: a rate (bytes/s or operations/s), how long it took and what it cost the process.</summary>
internal sealed record PhaseResult(string Name, double Rate, RateUnit Unit, PhaseCost Cost)
{
    /// <summary>GB/s or kop/s; with <paramref name="binary"/>, GiB/s and kIOPS as IO500 reports them.</summary>
    public string FormatRate(bool binary = false) => (Unit, binary) switch
    {
        (RateUnit.BytesPerSecond, false) => $"{Rate / 1e9:0.00} GB/s",
        (RateUnit.BytesPerSecond, true) => $"{Rate / (1L << 30):0.000} GiB/s",
        (_, false) => $"{Rate / 1e3:0.0} kop/s",
        _ => $"{Rate / 1e3:0.00} kIOPS",
    };

    /// <summary>What one unit of work cost in CPU and allocations, which stays comparable when the machine is busy and wall time is not.</summary>
    public string FormatUnitCost()
    {
        var units = Rate * Cost.Wall.TotalSeconds;
        if (units <= 0)
        {
            return "-";
        }

        return Unit switch
        {
            RateUnit.BytesPerSecond => $"{Cost.Cpu.TotalSeconds / (units / 1e9):0.00} CPU s/GB, {Cost.AllocatedBytes / (units / (1 << 20)):0} B/MiB",
            _ => $"{Cost.Cpu.TotalMicroseconds / units:0.0} CPU µs/op, {Cost.AllocatedBytes / units:0} B/op",
        };
    }
}

/// <summary>How a rate is expressed.</summary>
internal enum RateUnit
{
    BytesPerSecond,
    OperationsPerSecond,
}

/// <summary>
/// What a phase cost the whole process (client, servers and baseline peers all live in it): wall time, CPU time
/// (user + system, all threads), bytes allocated and collections.
/// </summary>
internal readonly record struct PhaseCost(TimeSpan Wall, TimeSpan Cpu, long AllocatedBytes, int Gen0, int Gen1, int Gen2)
{
    /// <summary>CPU time over wall time: 2.0 means both cores of a 2-core machine were busy all along.</summary>
    public double CoresBusy => Wall > TimeSpan.Zero ? Cpu / Wall : 0;
}

/// <summary>
/// A row of the result table: our phase against its baseline, and the ratio the issue asks for (null: no target,
/// the row is printed for reference and never judged).
/// </summary>
internal sealed record Comparison(string Name, PhaseResult Ours, PhaseResult Baseline, string BaselineName, double? TargetRatio)
{
    public double Ratio => Baseline.Rate > 0 ? Ours.Rate / Baseline.Rate : 0;

    public bool Passed => TargetRatio is not { } target || Ratio >= target;
}
