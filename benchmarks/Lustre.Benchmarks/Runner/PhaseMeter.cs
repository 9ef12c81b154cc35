using System.Diagnostics;

namespace Lustre.Benchmarks.Runner;

/// <summary>Measures one phase: wall clock, process CPU time, allocations and GC counts between start and stop.</summary>
internal sealed class PhaseMeter
{
    private readonly Stopwatch _wall = Stopwatch.StartNew();
    private readonly TimeSpan _cpu = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly long _allocated = GC.GetTotalAllocatedBytes(precise: true);
    private readonly int _gen0 = GC.CollectionCount(0);
    private readonly int _gen1 = GC.CollectionCount(1);
    private readonly int _gen2 = GC.CollectionCount(2);

    public TimeSpan Elapsed => _wall.Elapsed;

    public PhaseCost Stop()
    {
        var wall = _wall.Elapsed;
        using var process = Process.GetCurrentProcess();
        return new PhaseCost(
            wall,
            process.TotalProcessorTime - _cpu,
            GC.GetTotalAllocatedBytes(precise: true) - _allocated,
            GC.CollectionCount(0) - _gen0,
            GC.CollectionCount(1) - _gen1,
            GC.CollectionCount(2) - _gen2);
    }

    public static PhaseResult Bytes(string name, long bytes, PhaseCost cost) =>
        new(name, bytes / cost.Wall.TotalSeconds, RateUnit.BytesPerSecond, cost);

    public static PhaseResult Operations(string name, long operations, PhaseCost cost) =>
        new(name, operations / cost.Wall.TotalSeconds, RateUnit.OperationsPerSecond, cost);
}
