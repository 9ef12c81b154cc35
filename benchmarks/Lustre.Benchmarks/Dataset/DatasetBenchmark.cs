using System.Diagnostics;
using System.Globalization;
using System.Text;
using Lustre.Benchmarks.Baselines;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Server.Cluster;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// <c>dataset [--quick] [--markdown FILE] [--only small|large] [--small-count N] [--large-count N] [--small-size 4K]
/// [--large-size 100K] [--modes shard,global] [--compute-us 50] [--shard-size 256M] [--budget B] [--reads N] [--gap B]
/// [--max-read B] [--prefetch-window N] [--shuffle-window N] [--dir DIR] [--verify-all] [--no-direct-reads] [--epochs N] [--fail-on-miss]</c>
/// (<c>--folder</c>: one file per sample, <see cref="FolderBenchmark"/>; <c>--world-size</c>: several ranks, <see cref="WorldSizeBenchmark"/>):
/// samples written with DatasetWriter into indexed shards on an embedded 4-OST cluster, then one shuffled epoch with
/// one client, against the same order read with local <see cref="RandomAccess"/> reads of byte-identical shard files
/// on the same disk; then the same epoch with a busy-wait of the compute time per sample, for the consumer's stall.
/// With <c>--epochs N</c> (N ≥ 3) each epoch is a repetition inside the one command and each case is judged on the
/// median of its epochs' ratios, printed with the minimum and maximum. Exit 1 when a sample is wrong or missing; 2 on a missed target with --fail-on-miss.
/// </summary>
internal static class DatasetBenchmark
{
    /// <summary>The seed of every sample's bytes (<see cref="SampleContent"/>), the same in the rank processes.</summary>
    internal const int ContentSeed = 20240611;

    internal const int OstCount = 4;
    private const double RateTarget = 0.8;
    private const double StallTarget = 0.05;

    public static async Task<int> RunAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        if (args.Flag("folder"))
        {
            return await FolderBenchmark.RunAsync(args, rawArgs);
        }

        if (args.Text("world-size") is { } worlds)
        {
            return await WorldSizeBenchmark.RunAsync(args, rawArgs, worlds);
        }

        var settings = DatasetSettings.Parse(args);
        var markdown = args.Text("markdown");
        var failOnMiss = args.Flag("fail-on-miss");
        args.ThrowIfUnused();

        var scratch = Path.Combine(settings.Directory, $"lustre-dsbench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var machine = MachineInfo.Describe(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {machine}; load average {loadBefore}");
        Console.WriteLine($"run: {settings.Describe()}");
        var rates = new List<(DatasetScale Scale, DatasetShuffle Mode, string Shuffle, bool Cold, EpochResult Ours, EpochResult Local)>();
        var stalls = new List<(DatasetScale Scale, DatasetShuffle Mode, bool Cold, EpochResult Ours, double? DiskRate)>();
        var phases = new List<(string Name, string Rate, PhaseCost Cost, string Note)>();
        var ok = true;
        try
        {
            foreach (var scale in settings.Scales)
            {
                var folder = Path.Combine(scratch, $"{scale.SampleSize}");
                ok &= await RunScaleAsync(scale, folder, settings, rates, stalls, phases);

                // Free the page cache and the disk for the next scale.
                Scratch.TryDelete(folder);
            }
        }
        finally
        {
            Scratch.TryDelete(scratch);
        }

        var judged = !settings.Quick;
        var text = Table(rates, stalls, phases, judged, settings.Compute);
        Console.WriteLine();
        Console.WriteLine(text);
        await RunDocument.WriteIfAskedAsync(markdown, "dataset", machine, loadBefore, settings.Describe(), rawArgs, text);

        if (!ok)
        {
            Console.Error.WriteLine("FAILED: a sample read differs from what was written, or an epoch missed samples.");
            return 1;
        }

        var missed = rates.GroupBy(r => (r.Scale, r.Mode, r.Cold)).Count(g => RepeatSummary.Median([.. g.Select(r => Ratio(r.Ours, r.Local)).Order()]) < RateTarget)
            + stalls.Count(s => s.Ours.WaitedShare >= StallTarget);
        return judged && failOnMiss && missed > 0 ? 2 : 0;
    }

    private static async Task<bool> RunScaleAsync(
        DatasetScale scale,
        string folder,
        DatasetSettings settings,
        List<(DatasetScale Scale, DatasetShuffle Mode, string Shuffle, bool Cold, EpochResult Ours, EpochResult Local)> rates,
        List<(DatasetScale Scale, DatasetShuffle Mode, bool Cold, EpochResult Ours, double? DiskRate)> stalls,
        List<(string Name, string Rate, PhaseCost Cost, string Note)> phases)
    {
        var ok = true;
        var content = new SampleContent(ContentSeed, scale.SampleSize);
        await using var cluster = await StartClusterAsync(folder, settings.DirectReads);
        await using var client = new LustreClient(cluster.Address);
        const string directory = "/bench/dataset";
        Console.WriteLine($"== {scale.Describe()}");

        // Write: the samples in index order, one field each.
        var shards = await WriteAsync(client, directory, scale, content, settings);
        phases.Add(shards.Phase);
        Print(shards.Phase);
        var localFolder = Path.Combine(folder, "local");
        using var local = await CopyAsync(client, shards.Paths, localFolder, phases);

        // Warm: both sides read shards the writes and the copy left in the page cache. Cold (--cold): each epoch starts
        // with both copies evicted, as an epoch over a dataset larger than memory reads from the disk.
        foreach (var cold in settings.Cold ? new[] { false, true } : [false])
        {
            var cache = cold ? ", cold page cache" : string.Empty;
            foreach (var mode in settings.Modes)
            {
                // One reader for every epoch, as a training loop keeps it (--epochs N); each epoch is a new order.
                var opening = Stopwatch.StartNew();
                await using var dataset = await LustreDataset.OpenAsync(client, directory, ReaderOptions(settings, mode));
                var open = opening.Elapsed;
                for (var epoch = 0; epoch < settings.Epochs; epoch++)
                {
                    var shuffle = settings.Epochs > 1 ? $"{Name(mode)}, epoch {epoch}" : Name(mode);
                    var order = dataset.GetSampleOrder();
                    EvictIf(cold, localFolder);
                    var baseline = DatasetEpoch.Local($"local RandomAccess, {shuffle}, {scale.Describe()}{cache}", local, order, content, settings.VerifyAll, TimeSpan.Zero);
                    ok &= Check(baseline, phases);
                    EvictIf(cold, cluster.DataDirectory);
                    var ours = await DatasetEpoch.ReadEpochAsync($"ours LustreDataset, {shuffle}, {scale.Describe()}{cache}", dataset, epoch == 0 ? open : TimeSpan.Zero, content, settings.VerifyAll, TimeSpan.Zero);
                    ok &= Check(ours, phases);
                    rates.Add((scale, mode, shuffle, cold, ours, baseline));
                }
            }

            var computed = new List<(DatasetShuffle Mode, EpochResult Ours)>();
            foreach (var mode in settings.ComputeModes)
            {
                var options = ReaderOptions(settings, mode);
                EvictIf(cold, cluster.DataDirectory);
                var ours = await DatasetEpoch.RunAsync($"ours LustreDataset + {settings.Compute.TotalMicroseconds:0} µs compute/sample, {Name(mode)}, {scale.Describe()}{cache}", client, directory, options, content, settings.VerifyAll, settings.Compute);
                ok &= Check(ours, phases);
                computed.Add((mode, ours));
            }

            // Cold, the disk can bound the stall: read the same objects back cold with nothing else running, right after
            // the epochs (as near as it gets to their state of the host's cache behind the virtual disk).
            double? diskRate = null;
            if (cold)
            {
                var (direct, buffered) = ColdReadBaseline.Run(cluster.DataDirectory);
                diskRate = Math.Max(direct.Rate, buffered.Rate);
                foreach (var disk in new[] { direct, buffered })
                {
                    var phase = (disk.Name, disk.FormatRate(), disk.Cost, disk.Rate == diskRate ? "the faster: the disk-bound estimate" : "-");
                    phases.Add(phase);
                    Print(phase);
                }
            }

            foreach (var (mode, ours) in computed)
            {
                stalls.Add((scale, mode, cold, ours, diskRate));
            }
        }

        return ok;
    }

    private static void EvictIf(bool cold, string folder)
    {
        if (cold)
        {
            PageCache.Evict(folder);
        }
    }

    internal static LustreDatasetOptions ReaderOptions(DatasetSettings settings, DatasetShuffle mode)
    {
        var r = settings.Reader;
        return new LustreDatasetOptions
        {
            Shuffle = mode,
            Seed = r.Seed,
            Epoch = 0,
            Rank = 0,
            WorldSize = 1,
            PrefetchBudget = r.PrefetchBudget,
            MaxConcurrentReads = r.MaxConcurrentReads,
            CoalesceGap = r.CoalesceGap,
            MaxReadSize = r.MaxReadSize,
            PrefetchWindow = r.PrefetchWindow,
            ShuffleWindow = r.ShuffleWindow,
            Partitions = r.Partitions,
            ShuffleBlock = r.ShuffleBlock,
        };
    }

    internal static async Task<(IReadOnlyList<string> Paths, (string, string, PhaseCost, string) Phase)> WriteAsync(LustreClient client, string directory, DatasetScale scale, SampleContent content, DatasetSettings settings)
    {
        var buffer = new byte[scale.SampleSize];
        var meter = new PhaseMeter();
        IReadOnlyList<string> shards;
        await using (var writer = await DatasetWriter.CreateAsync(client, directory, new DatasetWriterOptions { TargetShardSize = settings.TargetShardSize }))
        {
            for (var i = 0; i < scale.Count; i++)
            {
                content.Fill(buffer, i);
                await writer.WriteAsync(SampleContent.Key(i), "data", buffer);
            }

            await writer.CompleteAsync();
            shards = [.. writer.Shards];
        }

        var cost = meter.Stop();
        var bytes = (long)scale.Count * scale.SampleSize;
        var rate = $"{scale.Count / cost.Wall.TotalSeconds:N0} samples/s, {bytes / cost.Wall.TotalSeconds / 1e9:0.00} GB/s";
        return (shards, ($"ours DatasetWriter write + flush, {scale.Describe()}", rate, cost, $"{shards.Count} shards"));
    }

    private static async Task<LocalShards> CopyAsync(LustreClient client, IReadOnlyList<string> shards, string folder, List<(string, string, PhaseCost, string)> phases)
    {
        var meter = new PhaseMeter();
        var local = await LocalShards.CopyAsync(client, shards, folder);
        var phase = ("copy shards to local files + fsync (untimed setup)", "-", meter.Stop(), $"{local.Count:N0} samples indexed");
        phases.Add(phase);
        Print(phase);
        meter = new PhaseMeter();
        var bytes = local.Warm();
        phase = ("read the local copies once (untimed setup: page cache, as the copy did for ours)", "-", meter.Stop(), ResultTable.FormatBytes(bytes));
        phases.Add(phase);
        Print(phase);
        return local;
    }

    private static bool Check(EpochResult result, List<(string, string, PhaseCost, string)> phases)
    {
        var stats = result.Reader is { } s
            ? $"waited {result.Waited.TotalSeconds:0.00} s; {s.Reads:N0} reads, fetched {ResultTable.FormatBytes(s.BytesFetched)} for {ResultTable.FormatBytes(s.BytesRead)} ({(double)s.BytesFetched / Math.Max(1, s.BytesRead):0.00}×); reader stall {s.StallTime.TotalSeconds:0.00} s; open {result.Open.TotalMilliseconds:0} ms"
            : $"in reads {result.Waited.TotalSeconds:0.00} s";
        var phase = (result.Name, $"{result.SamplesPerSecond:N0} samples/s", result.Cost, stats);
        phases.Add(phase);
        Print(phase);
        var ok = result.Wrong == 0 && result.Missing == 0;
        Console.WriteLine($"  verify {result.Samples:N0} samples: {(ok ? "OK" : $"FAILED ({result.Wrong} wrong, {result.Missing} missing)")}");
        return ok;
    }

    internal static void Print((string Name, string Rate, PhaseCost Cost, string Note) phase) =>
        Console.WriteLine($"  {phase.Name}: {phase.Rate} ({phase.Cost.Wall.TotalSeconds:0.00} s, CPU {phase.Cost.Cpu.TotalSeconds:0.00} s = {phase.Cost.CoresBusy:0.00} cores, allocated {ResultTable.FormatBytes(phase.Cost.AllocatedBytes)}; {phase.Note})");

    /// <summary>
    /// The share of a cold epoch the consumer would wait if the reader got its bytes at the disk-only rate measured
    /// right after (<see cref="ColdReadBaseline"/>): the epoch would last fetched bytes ÷ that rate, of which the
    /// consumer computes for samples × compute. An estimate: the host's cache behind the virtual disk speeds up bytes
    /// read recently, so the rate moves between runs and an epoch can beat it.
    /// </summary>
    private static double DiskBound(EpochResult ours, TimeSpan compute, double diskRate)
    {
        var fromDisk = (ours.Reader?.BytesFetched ?? 0) / diskRate;
        var computing = ours.Samples * compute.TotalSeconds;
        return fromDisk <= computing ? 0 : 1 - (computing / fromDisk);
    }

    private static double Ratio(EpochResult ours, EpochResult local) => ours.SamplesPerSecond / local.SamplesPerSecond;

    internal static string Name(DatasetShuffle mode) => mode switch
    {
        DatasetShuffle.ShardWindow => "shard-aware shuffle",
        DatasetShuffle.Blocks => "block shuffle",
        _ => "global shuffle",
    };

    private static string Table(
        List<(DatasetScale Scale, DatasetShuffle Mode, string Shuffle, bool Cold, EpochResult Ours, EpochResult Local)> rates,
        List<(DatasetScale Scale, DatasetShuffle Mode, bool Cold, EpochResult Ours, double? DiskRate)> stalls,
        List<(string Name, string Rate, PhaseCost Cost, string Note)> phases,
        bool judge,
        TimeSpan compute)
    {
        string Result(bool pass) => judge ? (pass ? "PASS" : "MISS") : "(quick: not judged)";
        var text = new StringBuilder();
        string Cache(bool cold) => cold ? "cold" : "warm";
        text.AppendLine("| samples | shuffle | page cache | ours (LustreDataset) | local RandomAccess | ratio | target | result |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---|");
        foreach (var (scale, _, shuffle, cold, ours, local) in rates)
        {
            var ratio = Ratio(ours, local);
            text.AppendLine(CultureInfo.InvariantCulture, $"| {scale.Describe()} | {shuffle} | {Cache(cold)} | {ours.SamplesPerSecond:N0} samples/s | {local.SamplesPerSecond:N0} samples/s | {ratio:0.00}× | ≥ {RateTarget:0.0}× | {Result(ratio >= RateTarget)} |");
        }

        // With --epochs N every epoch is a repetition inside this one command: judge each case on the median.
        var repeated = rates.GroupBy(r => (r.Scale, r.Mode, r.Cold)).Where(g => g.Count() > 1).ToList();
        if (repeated.Count > 0)
        {
            text.AppendLine();
            text.AppendLine("| samples | shuffle | page cache | ratio per epoch | median | min | max | target | result |");
            text.AppendLine("|---|---|---|---|---:|---:|---:|---:|---|");
            foreach (var group in repeated)
            {
                var ratios = group.Select(r => Ratio(r.Ours, r.Local)).ToArray();
                var sorted = ratios.Order().ToArray();
                var median = RepeatSummary.Median(sorted);
                text.AppendLine(CultureInfo.InvariantCulture, $"| {group.Key.Scale.Describe()} | {Name(group.Key.Mode)} | {Cache(group.Key.Cold)} | {string.Join(", ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))} | {median:0.00}× | {sorted[0]:0.00}× | {sorted[^1]:0.00}× | ≥ {RateTarget:0.0}× | {Result(median >= RateTarget)} |");
            }
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| samples | shuffle | page cache | epoch with {compute.TotalMicroseconds:0} µs compute/sample | samples/s | consumer waited | share of epoch | share if disk-bound | target | result |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (scale, mode, cold, ours, diskRate) in stalls)
        {
            var diskBound = diskRate is { } rate ? $"{DiskBound(ours, compute, rate) * 100:0.0} % ({rate / 1e9:0.00} GB/s)" : "-";
            text.AppendLine(CultureInfo.InvariantCulture, $"| {scale.Describe()} | {Name(mode)} | {Cache(cold)} | {ours.Cost.Wall.TotalSeconds:0.00} s | {ours.SamplesPerSecond:N0} | {ours.Waited.TotalSeconds:0.000} s | {ours.WaitedShare * 100:0.0} % | {diskBound} | < {StallTarget * 100:0} % | {Result(ours.WaitedShare < StallTarget)} |");
        }

        AppendPhases(text, phases);
        return text.ToString();
    }

    /// <summary>The embedded 4-OST cluster the dataset runners read from, its data under <paramref name="scratch"/>.</summary>
    internal static Task<LustreCluster> StartClusterAsync(string scratch, bool directReads) => LustreCluster.StartAsync(new LustreClusterOptions
    {
        OstCount = OstCount,
        DataDirectory = Path.Combine(scratch, "cluster"),
        DeleteDataOnDispose = true,

        // A training set is on a parallel filesystem because it is larger than memory: the OSTs read what is not
        // cached past the page cache, as a server for such data sets is set up (docs/benchmarks.md).
        DirectReads = directReads,
    });

    /// <summary>The table of every measured phase's cost, after a blank line.</summary>
    internal static void AppendPhases(StringBuilder text, List<(string Name, string Rate, PhaseCost Cost, string Note)> phases)
    {
        text.AppendLine();
        text.AppendLine("| measured phase | rate | wall | CPU | cores busy | allocated | GCs (0/1/2) | notes |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (name, rate, cost, note) in phases)
        {
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {rate} | {cost.Wall.TotalSeconds:0.00} s | {cost.Cpu.TotalSeconds:0.00} s | {cost.CoresBusy:0.00} | {ResultTable.FormatBytes(cost.AllocatedBytes)} | {cost.Gen0}/{cost.Gen1}/{cost.Gen2} | {note} |");
        }
    }
}
