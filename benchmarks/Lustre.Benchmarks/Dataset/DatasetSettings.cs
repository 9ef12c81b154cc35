using Lustre.Benchmarks.Runner;
using Lustre.Dataset;

namespace Lustre.Benchmarks.Dataset;

/// <summary>One sample size and how many samples of it the run writes and reads.</summary>
internal sealed record DatasetScale(int SampleSize, int Count)
{
    public string Describe() => $"{Count:N0} × {ResultTable.FormatBytes(SampleSize)}";
}

/// <summary>The parameters of one <c>dataset</c> run; <see cref="Describe"/> prints them beside the table.</summary>
internal sealed record DatasetSettings
{
    public required IReadOnlyList<DatasetScale> Scales { get; init; }

    public required IReadOnlyList<DatasetShuffle> Modes { get; init; }

    /// <summary>The modes whose epoch is read again with the simulated compute (default: the first mode; all in --quick or with --compute-all).</summary>
    public required IReadOnlyList<DatasetShuffle> ComputeModes { get; init; }

    /// <summary>Simulated compute per sample (busy-wait) in the stall phases.</summary>
    public required TimeSpan Compute { get; init; }

    public required bool Quick { get; init; }

    /// <summary>Compare every byte of every sample with the pattern (default in --quick), not only its stamp, key and length.</summary>
    public required bool VerifyAll { get; init; }

    public required string Directory { get; init; }

    public required long TargetShardSize { get; init; }

    public required LustreDatasetOptions Reader { get; init; }

    /// <summary>Also run every epoch from a cold page cache (shards evicted before each), as a dataset larger than memory reads.</summary>
    public required bool Cold { get; init; }

    /// <summary>The OSTs read ranges of 64 KiB or more that are not in the page cache past it (on unless --no-direct-reads).</summary>
    public required bool DirectReads { get; init; }

    /// <summary>Epochs read in a row by one reader in the rate phase, each against the local baseline in the same order (default 1).</summary>
    public required int Epochs { get; init; }

    /// <summary>Reads the options; <paramref name="counts"/> replaces the default sample counts (small, large; in --quick and not), <paramref name="modes"/> the default --modes.</summary>
    public static DatasetSettings Parse(RunnerArguments args, (int Small, int Large, int QuickSmall, int QuickLarge)? counts = null, string modes = "shard,global")
    {
        var quick = args.Flag("quick");
        var smallSize = (int)args.Size("small-size", 4 << 10);
        var largeSize = (int)args.Size("large-size", 100 << 10);

        // 50,000 × 100 KiB (4.9 GiB) rather than 100,000: the OST objects and the local copy must both stay in the
        // page cache (24 GiB, shared), or the comparison measures which copy the kernel happened to evict.
        var (small, large, quickSmall, quickLarge) = counts ?? (1_000_000, 50_000, 20_000, 400);
        var smallCount = args.Int("small-count", quick ? quickSmall : small);
        var largeCount = args.Int("large-count", quick ? quickLarge : large);
        var only = args.Text("only");
        var scales = new List<DatasetScale>();
        if (only is null or "small")
        {
            scales.Add(new DatasetScale(smallSize, smallCount));
        }

        if (only is null or "large")
        {
            scales.Add(new DatasetScale(largeSize, largeCount));
        }

        if (scales.Count == 0)
        {
            throw new ArgumentException($"--only is small or large, not '{only}'.", "only");
        }

        var shuffles = (args.Text("modes") ?? modes).Split(',').Select(m => m switch
        {
            "shard" => DatasetShuffle.ShardWindow,
            "global" => DatasetShuffle.Global,
            "blocks" => DatasetShuffle.Blocks,
            _ => throw new ArgumentException($"--modes is a list of shard, blocks and global, not '{m}'.", "modes"),
        }).ToList();

        var defaults = new LustreDatasetOptions();
        var reader = new LustreDatasetOptions
        {
            Seed = 20240611,
            // 256 MiB, not the default 64: a shard-aware shuffle window is bounded by a quarter of the budget, so 64 MiB
            // lets the whole 16,384-sample window of 4 KiB samples (and 655 samples of 100 KiB) shuffle together.
            PrefetchBudget = args.Size("budget", 256L << 20),
            MaxConcurrentReads = args.Int("reads", defaults.MaxConcurrentReads),
            CoalesceGap = (int)args.Size("gap", defaults.CoalesceGap),
            MaxReadSize = (int)args.Size("max-read", defaults.MaxReadSize),
            PrefetchWindow = args.Int("prefetch-window", defaults.PrefetchWindow),
            ShuffleWindow = args.Int("shuffle-window", defaults.ShuffleWindow),
            Partitions = args.Int("partitions", defaults.Partitions),
            ShuffleBlock = args.Int("shuffle-block", defaults.ShuffleBlock),
        };

        var epochs = args.Int("epochs", 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(epochs, 1, "--epochs");
        foreach (var scale in scales)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(scale.SampleSize, 16, "--small-size/--large-size");
            ArgumentOutOfRangeException.ThrowIfGreaterThan(scale.SampleSize, 16 << 20, "--small-size/--large-size");
            ArgumentOutOfRangeException.ThrowIfLessThan(scale.Count, 1, "--small-count/--large-count");
        }

        return new DatasetSettings
        {
            Scales = scales,
            Modes = shuffles,
            ComputeModes = quick || args.Flag("compute-all") ? shuffles : shuffles.Take(1).ToList(),
            Compute = TimeSpan.FromMicroseconds(args.Double("compute-us", 50)),
            Quick = quick,
            VerifyAll = quick || args.Flag("verify-all"),
            Directory = args.Text("dir") ?? Path.GetTempPath(),
            TargetShardSize = args.Size("shard-size", quick ? 8L << 20 : 256L << 20),
            Reader = reader,
            Cold = quick || args.Flag("cold"),
            DirectReads = !args.Flag("no-direct-reads"),
            Epochs = epochs,
        };
    }

    public string Describe()
    {
        var r = Reader;
        return $"samples {string.Join(" and ", Scales.Select(s => s.Describe()))}{(Epochs > 1 ? $", {Epochs} epochs per reader" : string.Empty)}; shards of {ResultTable.FormatBytes(TargetShardSize)} " +
            $"(DatasetWriter, indexed format, 4 MiB stripes over all 4 OSTs); one client; reader: prefetch budget {ResultTable.FormatBytes(r.PrefetchBudget)}, " +
            $"{r.MaxConcurrentReads} reads in flight, coalesce gap {ResultTable.FormatBytes(r.CoalesceGap)}, max read {ResultTable.FormatBytes(r.MaxReadSize)}, " +
            $"prefetch window {r.PrefetchWindow} samples, shard-aware shuffle window {r.ShuffleWindow} samples or {ResultTable.FormatBytes(r.PrefetchBudget / 4)} in {r.Partitions} partitions (blocks of {r.ShuffleBlock}); " +
            $"OSTs {(DirectReads ? "with" : "without")} direct reads of uncached ranges; simulated compute {Compute.TotalMicroseconds:0} µs per sample (busy-wait); page cache {(Cold ? "warm, then cold (evicted before each epoch)" : "warm")}; verify {(VerifyAll ? "every byte" : "stamp, key and length")} of every sample";
    }
}
