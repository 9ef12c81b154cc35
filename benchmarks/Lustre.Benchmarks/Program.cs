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
    public static async Task<int> Main(string[] args)
    {
        if (args.Length > 0 && args[0] == "striped")
        {
            return await StripedBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "io500")
        {
            return await Io500Benchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "io500-worker")
        {
            return await WorkerProcessTasks.WorkerMainAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "scale")
        {
            return await Scale.ScaleBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "scale-client")
        {
            return await Scale.ScaleClients.ClientMainAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "dataset-rank")
        {
            return await Dataset.DatasetRankWorker.MainAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "dataset")
        {
            return await DatasetBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "checkpoint") return await Checkpoints.CheckpointBenchmark.RunAsync(args[1..]);

        if (args.Length > 0 && args[0] == "mirror")
        {
            return await Mirrors.MirrorBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "listing")
        {
            return await Listing.ListingBenchmark.RunAsync(args[1..]);
        }

        if (args.Length > 0 && args[0] == "transport")
        {
            return await Transport.TransportBenchmark.RunAsync(args[1..]);
        }

        BenchmarkSwitcher.FromAssembly(typeof(BenchmarkProgram).Assembly).Run(args);
        return 0;
    }
}
