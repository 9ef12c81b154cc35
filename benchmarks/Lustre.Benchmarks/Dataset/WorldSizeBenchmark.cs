using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Dataset;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// <c>dataset --world-size 1,2,4,8 [--repeat 3] [--quick] [--modes shard,blocks,global] [--compute-us 50] [--markdown FILE] [the
/// dataset runner's sample and reader options]</c>: the samples are written once to an embedded 4-OST cluster in this
/// process; then, for each world size W and repetition, W reader processes of this binary (<see cref="DatasetRankWorker"/>,
/// with <c>RANK</c>, <c>WORLD_SIZE</c> and <c>LOCAL_RANK</c> set as torchrun sets them) each open their own client and
/// reader and read untimed warm-up epochs together until every rank's JIT is quiet (see <see cref="QuietJit"/>), then one
/// timed epoch, then one with a busy-wait of the compute time per sample. The world sizes take turns within each
/// repetition, so a change of the shared machine's load weighs on all of them. Reported per world size: the bytes all ranks fetched over the
/// sample bytes, the read RPCs against W=1's plus one per rank per shuffle window, the aggregate samples/s (median,
/// min and max of the repetitions) against W=1's, and the worst rank's stall with compute. Every epoch is checked:
/// each sample exactly once across the ranks, its bytes right. Exit 1 on a wrong or missing sample; 2 on a missed
/// target with --fail-on-miss.
/// </summary>
internal static class WorldSizeBenchmark
{
    private const double FetchTarget = 1.05;
    private const double RateTarget = 0.8;
    private const double StallTarget = 0.05;

    /// <summary>
    /// A warm-up epoch ends the warm-up when every rank's JIT spent less than this share of the epoch's time compiling.
    /// Tiered compilation re-compiles a process's hot methods (tier 0, instrumented, tier 1) over its first seconds of
    /// work; W processes on 2 cores each get 2/W of the CPU, so they take about W/2 times as many epochs to settle, and
    /// a timed epoch before that measures the JIT rather than the reader (at W=8, 1,000,000 × 4 KiB: ranks compiled
    /// 400–1,000 methods in each of their first four epochs against ~90 for one reader). A training job reads for
    /// hours, far past this.
    /// </summary>
    private const double QuietJit = 0.05;

    /// <summary>The warm-up's bound in epochs, whatever the JIT does.</summary>
    private const int MaxWarmUps = 10;

    public static async Task<int> RunAsync(RunnerArguments args, string[] rawArgs, string worldList)
    {
        var worlds = worldList.Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        if (worlds.Length == 0 || worlds.Any(w => w is < 1 or > 256))
        {
            throw new ArgumentException($"--world-size is a list of world sizes from 1 to 256, not '{worldList}'.", "world-size");
        }

        // Every epoch here reads a warm page cache (--quick turns cold epochs on only for the single-reader run).
        var settings = DatasetSettings.Parse(args, (1_000_000, 50_000, 20_000, 2_000), modes: "shard") with { Cold = false };
        var repeat = args.Int("repeat", settings.Quick ? 1 : 3);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeat, 1, "--repeat");
        var markdown = args.Text("markdown");
        var failOnMiss = args.Flag("fail-on-miss");
        args.ThrowIfUnused();

        var scratch = Path.Combine(settings.Directory, $"lustre-dsworld-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var machine = MachineInfo.Describe(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {machine}; load average {loadBefore}");
        Console.WriteLine($"run: {settings.Describe()}; world sizes {string.Join(", ", worlds)} as reader processes; {repeat} repetitions");
        var rows = new List<WorldRow>();
        var ok = true;
        try
        {
            await using var cluster = await DatasetBenchmark.StartClusterAsync(scratch, settings.DirectReads);
            await using var client = new LustreClient(cluster.Address);
            foreach (var scale in settings.Scales)
            {
                var directory = $"/bench/world-{scale.SampleSize}";
                Console.WriteLine($"== {scale.Describe()}");
                var written = await DatasetBenchmark.WriteAsync(client, directory, scale, new SampleContent(DatasetBenchmark.ContentSeed, scale.SampleSize), settings);
                DatasetBenchmark.Print(written.Phase);
                foreach (var mode in settings.Modes)
                {
                    int windows;
                    await using (var probe = await LustreDataset.OpenAsync(client, directory, DatasetBenchmark.ReaderOptions(settings, mode)))
                    {
                        // The timed epoch is epoch 1 (see RunWorldAsync).
                        probe.SetEpoch(1);
                        windows = probe.ShuffleWindowCount();
                    }

                    for (var r = 0; r < repeat; r++)
                    {
                        foreach (var world in worlds)
                        {
                            var row = await RunWorldAsync(cluster.Address, directory, scale, mode, world, windows, settings, Path.Combine(scratch, "indices"));
                            ok &= row.Wrong == 0 && row.Missing == 0 && row.Duplicates == 0;
                            rows.Add(row);
                            Console.WriteLine(
                                $"  {DatasetBenchmark.Name(mode)}, W={world}, repetition {r + 1}: {row.SamplesPerSecond:N0} samples/s after {row.WarmUps} warm-up epochs (JIT {row.TimedJitShare * 100:0.0} % of the timed epoch), " +
                                $"fetched {row.FetchedRatio:0.000}× the sample bytes in {row.Reads:N0} reads; " +
                                $"with {settings.Compute.TotalMicroseconds:0} µs compute the worst rank waited {row.WorstStallShare * 100:0.0} %; " +
                                $"{(row.Wrong + row.Missing + row.Duplicates == 0 ? "every sample once and right" : $"FAILED: {row.Wrong} wrong, {row.Missing} missing, {row.Duplicates} twice")}");
                        }
                    }
                }

                // Free the page cache and the disk for the next scale.
                foreach (var shard in written.Paths)
                {
                    await client.DeleteFileAsync(shard);
                }
            }
        }
        finally
        {
            Scratch.TryDelete(scratch);
        }

        var judged = !settings.Quick;
        var (text, missed) = Table(rows, judged, settings.Compute);
        Console.WriteLine();
        Console.WriteLine(text);
        await RunDocument.WriteIfAskedAsync(markdown, "dataset", machine, loadBefore, $"{settings.Describe()}; {repeat} repetitions", rawArgs, text);

        if (!ok)
        {
            Console.Error.WriteLine("FAILED: a sample read differs from what was written, or an epoch missed or repeated samples across the ranks.");
            return 1;
        }

        return judged && failOnMiss && missed > 0 ? 2 : 0;
    }

    /// <summary>W rank processes: warm-up epochs until the JIT is quiet, one timed epoch, one with compute; the last two checked across ranks.</summary>
    private static async Task<WorldRow> RunWorldAsync(string address, string directory, DatasetScale scale, DatasetShuffle mode, int world, int windows, DatasetSettings settings, string indexDirectory)
    {
        Directory.CreateDirectory(indexDirectory);
        var r = settings.Reader;
        string[] args =
        [
            "dataset-rank", "--address", address, "--path", directory, "--out", indexDirectory,
            "--sample-size", Text(scale.SampleSize), "--modes", mode switch { DatasetShuffle.ShardWindow => "shard", DatasetShuffle.Blocks => "blocks", _ => "global" },
            "--budget", Text(r.PrefetchBudget), "--reads", Text(r.MaxConcurrentReads), "--gap", Text(r.CoalesceGap), "--max-read", Text(r.MaxReadSize),
            "--prefetch-window", Text(r.PrefetchWindow), "--shuffle-window", Text(r.ShuffleWindow), "--partitions", Text(r.Partitions), "--shuffle-block", Text(r.ShuffleBlock),
            .. (settings.VerifyAll ? (string[])["--verify-all"] : []),
        ];
        var ranks = new List<Process>();
        try
        {
            for (var rank = 0; rank < world; rank++)
            {
                ranks.Add(ChildProcess.Start(args, new Dictionary<string, string>
                {
                    ["RANK"] = Text(rank),
                    ["WORLD_SIZE"] = Text(world),
                    ["LOCAL_RANK"] = Text(rank),
                }));
            }

            foreach (var rank in ranks)
            {
                await ChildProcess.ExpectAsync(rank, "ready", "dataset rank");
            }

            var warmUps = 0;
            RankEpoch[] warm;
            do
            {
                warm = await EpochAsync(ranks, 0, TimeSpan.Zero);
                warmUps++;
            }
            while (warmUps < MaxWarmUps && warm.Any(d => d.Jit > QuietJit * d.Wall));

            var timer = Stopwatch.StartNew();
            var timed = await EpochAsync(ranks, 1, TimeSpan.Zero);
            var wall = timer.Elapsed;
            var computed = await EpochAsync(ranks, 2, settings.Compute);
            var (missing1, twice1) = Check(indexDirectory, world, 1, scale.Count);
            var (missing2, twice2) = Check(indexDirectory, world, 2, scale.Count);
            return new WorldRow(
                scale, mode, world, windows, warmUps,
                TimedJitShare: timed.Max(d => d.Jit / d.Wall),
                Samples: timed.Sum(d => d.Samples),
                Wall: wall,
                BytesRead: timed.Sum(d => d.BytesRead),
                BytesFetched: timed.Sum(d => d.BytesFetched),
                Reads: timed.Sum(d => d.Reads),
                WorstStallShare: computed.Max(d => d.Waited / d.Wall),
                Wrong: timed.Sum(d => d.Wrong) + computed.Sum(d => d.Wrong),
                Missing: missing1 + missing2,
                Duplicates: twice1 + twice2);
        }
        finally
        {
            await ChildProcess.StopAsync(ranks);
            Scratch.TryDelete(indexDirectory);
        }
    }

    private static async Task<RankEpoch[]> EpochAsync(List<Process> ranks, int epoch, TimeSpan compute)
    {
        foreach (var rank in ranks)
        {
            await ChildProcess.SendAsync(rank, string.Create(CultureInfo.InvariantCulture, $"epoch {epoch} {compute.TotalMicroseconds}"));
        }

        var results = new RankEpoch[ranks.Count];
        for (var i = 0; i < ranks.Count; i++)
        {
            results[i] = RankEpoch.Parse(await ChildProcess.ExpectAsync(ranks[i], "done", "dataset rank"));
        }

        return results;
    }

    /// <summary>Every sample of the epoch exactly once across the ranks (the remainder dropped, as the reader's default).</summary>
    private static (long Missing, long Twice) Check(string directory, int world, int epoch, int count)
    {
        var seen = new byte[count];
        long twice = 0;
        long total = 0;
        for (var rank = 0; rank < world; rank++)
        {
            var indices = MemoryMarshal.Cast<byte, long>(File.ReadAllBytes(Path.Combine(directory, $"rank-{rank}-epoch-{epoch}.bin")));
            foreach (var index in indices)
            {
                twice += seen[index]++ > 0 ? 1 : 0;
            }

            total += indices.Length;
        }

        var expected = count - (count % world);
        return (expected - (total - twice), twice);
    }

    private static (string Text, int Missed) Table(List<WorldRow> rows, bool judge, TimeSpan compute)
    {
        string Result(bool pass) => judge ? (pass ? "PASS" : "MISS") : "(quick: not judged)";
        var missed = 0;
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"| samples | shuffle | world size (processes) | bytes fetched / sample bytes | read RPCs | bound: W=1's + W × windows | aggregate samples/s, median (min–max) | vs W=1 | warm-up epochs | worst rank's stall, {compute.TotalMicroseconds:0} µs compute | result |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var group in rows.GroupBy(r => (r.Scale, r.Mode)))
        {
            var byWorld = group.GroupBy(r => r.World).ToDictionary(g => g.Key, g => g.ToList());
            var alone = byWorld.TryGetValue(1, out var one) ? one : null;
            var aloneRate = alone is null ? (double?)null : RepeatSummary.Median([.. alone.Select(r => r.SamplesPerSecond).Order()]);
            var aloneReads = alone is null ? (double?)null : RepeatSummary.Median([.. alone.Select(r => (double)r.Reads).Order()]);
            foreach (var (world, runs) in byWorld)
            {
                var rates = runs.Select(r => r.SamplesPerSecond).Order().ToArray();
                var rate = RepeatSummary.Median(rates);
                var fetched = RepeatSummary.Median([.. runs.Select(r => r.FetchedRatio).Order()]);
                var reads = RepeatSummary.Median([.. runs.Select(r => (double)r.Reads).Order()]);
                var stall = RepeatSummary.Median([.. runs.Select(r => r.WorstStallShare).Order()]);
                var warmUps = runs.Min(r => r.WarmUps) == runs.Max(r => r.WarmUps) ? Text(runs[0].WarmUps) : $"{runs.Min(r => r.WarmUps)}–{runs.Max(r => r.WarmUps)}";
                var bound = aloneReads + (world * runs[0].Windows);
                var vsAlone = aloneRate is { } a ? rate / a : (double?)null;

                // The issue's targets: each byte fetched about once and the reads bounded at every world size above
                // 1 for a windowed order, and at 8 ranks or more the aggregate rate at least 0.8× one rank's.
                var checks = new List<bool>();
                if (world > 1 && group.Key.Mode != DatasetShuffle.Global)
                {
                    checks.Add(fetched <= FetchTarget);
                    checks.Add(bound is not { } b || reads <= b);
                }

                if (world >= 8 && group.Key.Mode != DatasetShuffle.Global && vsAlone is { } v)
                {
                    checks.Add(v >= RateTarget);
                }

                var pass = checks.All(c => c);
                missed += pass ? 0 : 1;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {group.Key.Scale.Describe()} | {DatasetBenchmark.Name(group.Key.Mode)} | {world} | {fetched:0.000}× | {reads:N0} | {(bound is { } x ? x.ToString("N0", CultureInfo.InvariantCulture) : "-")} | " +
                    $"{rate:N0} ({rates[0]:N0}–{rates[^1]:N0}, {runs.Count} runs) | {(vsAlone is { } y ? y.ToString("0.00", CultureInfo.InvariantCulture) + "×" : "-")} | {warmUps} | {stall * 100:0.0} % | {(checks.Count == 0 ? "reference" : Result(pass))} |");
            }
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture,
            $"Targets: for shard-aware and block shuffles at W > 1, bytes fetched ≤ {FetchTarget:0.00}× and read RPCs ≤ W=1's + one per rank per shuffle window; at W ≥ 8, aggregate samples/s ≥ {RateTarget:0.0}× W=1's. The stall (< {StallTarget * 100:0} % on a machine with a core per rank) is reported, not judged: W busy-waiting ranks share this machine's cores. " +
            $"Each repetition times one epoch after warm-up epochs that end when every rank's JIT compiled for less than {QuietJit * 100:0} % of the epoch (at most {MaxWarmUps}).");
        return (text.ToString(), missed);
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    private sealed record WorldRow(
        DatasetScale Scale, DatasetShuffle Mode, int World, int Windows, int WarmUps, double TimedJitShare, long Samples, TimeSpan Wall, long BytesRead, long BytesFetched, long Reads,
        double WorstStallShare, long Wrong, long Missing, long Duplicates)
    {
        public double SamplesPerSecond => Samples / Wall.TotalSeconds;

        public double FetchedRatio => (double)BytesFetched / Math.Max(1, BytesRead);
    }

    private sealed record RankEpoch(long Samples, long BytesRead, long BytesFetched, long Reads, double Stall, double Waited, double Wall, long Wrong, double Jit)
    {
        public static RankEpoch Parse(string line)
        {
            var w = line.Split(' ');
            long L(int i) => long.Parse(w[i], CultureInfo.InvariantCulture);
            double D(int i) => double.Parse(w[i], CultureInfo.InvariantCulture);
            return new RankEpoch(L(0), L(1), L(2), L(3), D(4), D(5), D(6), L(7), D(8));
        }
    }
}
