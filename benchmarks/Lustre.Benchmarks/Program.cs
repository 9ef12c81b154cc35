using BenchmarkDotNet.Running;
using Lustre.Benchmarks.Striped;

namespace Lustre.Benchmarks;

/// <summary>
/// <c>striped [options]</c> runs the striped-IO benchmark with its same-run baselines (a plain runner, one pass,
/// a table of ratios); anything else goes to BenchmarkDotNet's switcher for the microbenchmarks.
/// </summary>
internal static class BenchmarkProgram
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "striped")
        {
            return await StripedBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "checkpoint") return await Checkpoints.CheckpointBenchmark.RunAsync(args[1..]);

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
