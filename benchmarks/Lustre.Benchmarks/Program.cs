using BenchmarkDotNet.Running;
using Lustre.Benchmarks.Dataset;
using Lustre.Benchmarks.Io500;
using Lustre.Benchmarks.Striped;

namespace Lustre.Benchmarks;

/// <summary>
/// <c>striped [options]</c> runs the striped-IO benchmark, <c>io500 [options]</c> the IO500 phases, <c>dataset [options]</c> a shuffled dataset epoch
/// <c>mirror [options]</c> the cost of mirrored files, <c>listing [options]</c> the cost of an <c>ls -l</c>, <c>transport [options]</c> the cost of TLS and
/// <c>scale [options]</c> many OSS and client processes at once, each with its
/// same-run baselines (a plain runner, one pass, a table of ratios); <c>io500-worker</c> is a child process of
/// <c>io500 --processes N</c>, <c>dataset-rank</c> one rank of <c>dataset --world-size N</c> and <c>scale-client</c> one client of <c>scale</c>;
/// anything else goes to BenchmarkDotNet's switcher for the microbenchmarks.
/// </summary>
internal static class BenchmarkProgram
{
    private static readonly Dictionary<string, Func<string[], Task<int>>> Runners = new()
    {
        ["striped"] = StripedBenchmark.RunAsync,
        ["io500"] = Io500Benchmark.RunAsync,
        ["io500-worker"] = WorkerProcessTasks.WorkerMainAsync,
        ["scale"] = Scale.ScaleBenchmark.RunAsync,
        ["scale-client"] = Scale.ScaleClients.ClientMainAsync,
        ["dataset-rank"] = Dataset.DatasetRankWorker.MainAsync,
        ["dataset"] = DatasetBenchmark.RunAsync,
        ["checkpoint"] = Checkpoints.CheckpointBenchmark.RunAsync,
        ["mirror"] = Mirrors.MirrorBenchmark.RunAsync,
        ["listing"] = Listing.ListingBenchmark.RunAsync,
        ["transport"] = Transport.TransportBenchmark.RunAsync,
    };

    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && Runners.TryGetValue(args[0], out var run))
        {
            try
            {
                return await run(args[1..]);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException)
            {
                // A bad option or parameter (a size or a mode is a FormatException from the CLI's parsers): say which, not a stack trace.
                await Console.Error.WriteLineAsync($"{args[0]}: {ex.Message} The options are in docs/benchmarks.md.");
                return 2;
            }
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
