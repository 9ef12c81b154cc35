using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Diagnostics;
using Lustre.Layouts;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// <c>dataset --folder [--quick] [--files N] [--min-size 4K] [--max-size 100K] [--classes N] [--compute-us 50]
/// [--budget B] [--reads N] [--prefetch-window N] [--epochs N] [--warm] [--dom] [--dir DIR] [--no-direct-reads] [--verify-all]
/// [--markdown FILE] [--fail-on-miss]</c>: a one-file-per-sample data set (ImageFolder: class folders of files of
/// random sizes) written to an embedded 4-OST cluster and, byte for byte, to local files on the same disk. Each epoch
/// is one shuffled pass through <see cref="LustreDataset"/> with <see cref="DatasetFormat.Folder"/>, against a local
/// loop that opens, reads and closes each file in the same order on one thread; both from a cold page cache (each
/// side's file data evicted just before it reads: the local files, or the OST object files). Then as many epochs of
/// ours again with a busy-wait of the compute time per sample, for the consumer's stall; rate and stall are each judged
/// on their median. With <c>--warm</c> (and in <c>--quick</c>) the same first, from the page cache the
/// writes left: what the software costs without the disk. Judged on the cold rows. Exit 1 when a sample is wrong or
/// missing; 2 on a missed target with --fail-on-miss.
/// </summary>
internal static class FolderBenchmark
{
    private const double RateTarget = 0.8;
    private const double StallTarget = 0.05;
    private const int WritesInFlight = 32;

    /// <summary>With <c>--dom</c>: the end of the files' Data-on-MDT component, Lustre's usual 64 KiB.</summary>
    private const long DomEnd = 64 << 10;

    public static async Task<int> RunAsync(RunnerArguments args, string[] rawArgs)
    {
        var quick = args.Flag("quick");
        var settings = new FolderSettings(
            Files: args.Int("files", quick ? 3000 : 100_000),
            MinSize: (int)args.Size("min-size", 4 << 10),
            MaxSize: (int)args.Size("max-size", 100 << 10),
            Classes: args.Int("classes", quick ? 10 : 100),
            Compute: TimeSpan.FromMicroseconds(args.Double("compute-us", 50)),
            Budget: args.Size("budget", 256L << 20),
            Reads: args.Int("reads", new LustreDatasetOptions().MaxConcurrentReads),
            PrefetchWindow: args.Int("prefetch-window", new LustreDatasetOptions { Format = DatasetFormat.Folder }.PrefetchWindow),
            Epochs: args.Int("epochs", 1),
            VerifyAll: quick || args.Flag("verify-all"),
            DirectReads: !args.Flag("no-direct-reads"),
            Warm: quick || args.Flag("warm"),
            Dom: args.Flag("dom"));
        var directory = args.Text("dir") ?? Path.GetTempPath();
        var markdown = args.Text("markdown");
        var failOnMiss = args.Flag("fail-on-miss");
        args.ThrowIfUnused();
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MinSize, 8, "--min-size");
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxSize, settings.MinSize, "--max-size");
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Files, settings.Classes, "--files");
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Classes, 1, "--classes");
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Epochs, 1, "--epochs");

        var scratch = Path.Combine(directory, $"lustre-folderbench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var machine = MachineInfo.Describe(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {machine}; load average {loadBefore}");
        Console.WriteLine($"run: {settings.Describe()}");
        var rates = new List<(bool Cold, int Epoch, EpochResult Ours, EpochResult Local)>();
        var stalls = new List<(bool Cold, int Epoch, EpochResult Ours)>();
        var phases = new List<(string Name, string Rate, PhaseCost Cost, string Note)>();
        var ok = true;
        try
        {
            ok = await RunAsync(settings, scratch, rates, stalls, phases);
        }
        finally
        {
            Scratch.TryDelete(scratch);
        }

        var text = Table(settings, rates, stalls, phases, judged: !quick);
        Console.WriteLine();
        Console.WriteLine(text);
        await RunDocument.WriteIfAskedAsync(markdown, "dataset", machine, loadBefore, settings.Describe(), rawArgs, text);

        if (!ok)
        {
            Console.Error.WriteLine("FAILED: a file read differs from what was written, or an epoch missed files.");
            return 1;
        }

        var cold = rates.Where(r => r.Cold).Select(r => Ratio(r.Ours, r.Local)).Order().ToArray();
        var coldStalls = stalls.Where(s => s.Cold).Select(s => s.Ours.WaitedShare).Order().ToArray();
        var missed = (RepeatSummary.Median(cold) < RateTarget ? 1 : 0) + (RepeatSummary.Median(coldStalls) >= StallTarget ? 1 : 0);
        return !quick && failOnMiss && missed > 0 ? 2 : 0;
    }

    private static async Task<bool> RunAsync(
        FolderSettings settings,
        string scratch,
        List<(bool Cold, int Epoch, EpochResult Ours, EpochResult Local)> rates,
        List<(bool Cold, int Epoch, EpochResult Ours)> stalls,
        List<(string Name, string Rate, PhaseCost Cost, string Note)> phases)
    {
        var content = new SampleContent(DatasetBenchmark.ContentSeed, settings.MaxSize);
        await using var cluster = await DatasetBenchmark.StartClusterAsync(scratch, settings.DirectReads);
        await using var client = new LustreClient(cluster.Address);
        const string root = "/bench/folder";
        var local = Path.Combine(scratch, "local");
        Add(phases, await WriteAsync(client, root, local, settings, content));

        var ok = true;
        var opening = new PhaseMeter();
        await using var dataset = await LustreDataset.OpenAsync(client, root, new LustreDatasetOptions
        {
            Format = DatasetFormat.Folder,
            Shuffle = DatasetShuffle.Global,
            Seed = 20240611,
            Rank = 0,
            WorldSize = 1,
            PrefetchBudget = settings.Budget,
            MaxConcurrentReads = settings.Reads,
            PrefetchWindow = settings.PrefetchWindow,
        });
        var openCost = opening.Stop();
        Add(phases, ("ours: open (list the class folders, open every file by FID in batches for its size)", $"{settings.Files / openCost.Wall.TotalSeconds:N0} files/s", openCost, $"{dataset.Count:N0} files, {dataset.Classes.Count} classes"));

        // What each sample must hold: its file's number (the name), size and class; the same path below both roots.
        var keys = new string[dataset.Count];
        var numbers = new int[dataset.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = dataset.Shards[i][(root.Length + 1)..];
            numbers[i] = int.Parse(keys[i].AsSpan(keys[i].LastIndexOf('/') + 2, 7), CultureInfo.InvariantCulture);
        }

        bool Check(DatasetSample sample)
        {
            var n = numbers[sample.Index];
            return sample.Fields.Count == 1 && sample.Key == keys[sample.Index] && sample.Label == n % settings.Classes
                && content.Check(sample.Fields[0].Data.Span, n, settings.SizeOf(n), settings.VerifyAll);
        }

        // Warm first (both sides read what the writes left in the page cache), then cold: each side's files evicted
        // just before it reads, as an epoch over a data set larger than memory reads them from the disk.
        foreach (var cold in settings.Warm ? new[] { false, true } : [true])
        {
            var cache = cold ? "cold page cache" : "warm page cache";
            for (var epoch = 0; epoch < settings.Epochs; epoch++)
            {
                var name = settings.Epochs > 1 ? $"global shuffle, epoch {epoch}" : "global shuffle";
                var order = dataset.GetSampleOrder();
                EvictIf(cold, local);
                var baseline = LocalEpoch($"local open + read + close per file, {name}, {settings.Scale}, {cache}", local, order, keys, numbers, content, settings);
                ok &= Report(baseline, phases);
                EvictObjectsIf(cold, cluster.DataDirectory, settings.Dom);
                using var rpcs = new RpcCounter();
                var ours = await DatasetEpoch.ReadEpochAsync($"ours LustreDataset (Folder), {name}, {settings.Scale}, {cache}", dataset, rates.Count == 0 ? openCost.Wall : TimeSpan.Zero, Check, TimeSpan.Zero);
                ok &= Report(ours, phases, rpcs.Describe());
                rates.Add((cold, epoch, ours, baseline));
            }

            // As many epochs with compute as without, so the stall is judged on a median too, not on one epoch's luck.
            for (var epoch = 0; epoch < settings.Epochs; epoch++)
            {
                var name = settings.Epochs > 1 ? $"global shuffle, epoch {epoch}" : "global shuffle";
                EvictObjectsIf(cold, cluster.DataDirectory, settings.Dom);
                using var rpcs = new RpcCounter();
                var stall = await DatasetEpoch.ReadEpochAsync($"ours LustreDataset (Folder) + {settings.Compute.TotalMicroseconds:0} µs compute/file, {name}, {settings.Scale}, {cache}", dataset, TimeSpan.Zero, Check, settings.Compute);
                ok &= Report(stall, phases, rpcs.Describe());
                stalls.Add((cold, epoch, stall));
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

    /// <summary>
    /// Evicts the OST object files, the files' data, and not the MDT's: <c>posix_fadvise</c> drops data pages only, so
    /// the local side keeps its inodes and directory entries cached too, and a cold MDT would make this a benchmark of
    /// RocksDB reads from the disk rather than of reading small files. With <c>--dom</c> the files' first 64 KiB live
    /// in the MDT's RocksDB, so its files are evicted too (its metadata with them: the cold side is then the colder).
    /// </summary>
    private static void EvictObjectsIf(bool cold, string dataDirectory, bool dom)
    {
        if (cold)
        {
            foreach (var target in Directory.EnumerateDirectories(dataDirectory, dom ? "*" : "ost*"))
            {
                PageCache.Evict(target);
            }
        }
    }

    /// <summary>
    /// Writes file n (of a random size, the sample pattern of n) into class folder n mod classes, on the cluster and
    /// locally, 32 at a time; then syncs the local files, so evicting them really empties the page cache (the OST
    /// objects are synced by each file's close).
    /// </summary>
    private static async Task<(string, string, PhaseCost, string)> WriteAsync(LustreClient client, string root, string local, FolderSettings settings, SampleContent content)
    {
        var meter = new PhaseMeter();
        await client.CreateDirectoryAsync("/bench");
        await client.CreateDirectoryAsync(root);
        if (settings.Dom)
        {
            // Lustre's advice for small files: lfs setstripe -E 64K -L mdt -E -1 -c 1. The class folders inherit it.
            await client.SetDirectoryLayoutAsync(root, FileLayout.Composite([LayoutComponent.DataOnMdt(DomEnd), new LayoutComponent(DomEnd, LayoutComponent.Eof, LayoutDefaults.DefaultStripeSize, 1)]));
        }

        for (var c = 0; c < settings.Classes; c++)
        {
            await client.CreateDirectoryAsync($"{root}/{ClassName(c)}");
            Directory.CreateDirectory(Path.Combine(local, ClassName(c)));
        }

        long bytes = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, settings.Files), new ParallelOptions { MaxDegreeOfParallelism = WritesInFlight }, async (n, token) =>
        {
            var data = new byte[settings.SizeOf(n)];
            content.Fill(data, n);
            var name = FileName(n, settings.Classes);
            await using (var file = await client.OpenFileAsync($"{root}/{name}", FileMode.CreateNew, FileAccess.Write, cancellationToken: token))
            {
                await file.WriteAtAsync(0, data, token);
            }

            using (var handle = File.OpenHandle(Path.Combine(local, name), FileMode.CreateNew, FileAccess.Write))
            {
                RandomAccess.Write(handle, data, 0);
            }

            Interlocked.Add(ref bytes, data.Length);
        });
        LocalDisk.SyncAll();
        var cost = meter.Stop();
        return ($"write {settings.Scale}: each file to the cluster (create, write, close) and to a local file, {WritesInFlight} at a time, then sync (untimed setup)", $"{settings.Files / cost.Wall.TotalSeconds:N0} files/s", cost, ResultTable.FormatBytes(bytes) + " each side");
    }

    /// <summary>
    /// The baseline: in the epoch's order, open each local file, read it whole into one reused buffer, close it, check
    /// it — a map-style loader over an image folder with no workers, on the calling thread.
    /// </summary>
    private static EpochResult LocalEpoch(string name, string local, long[] order, string[] keys, int[] numbers, SampleContent content, FolderSettings settings)
    {
        var buffer = GC.AllocateUninitializedArray<byte>(settings.MaxSize, pinned: true);
        var meter = new PhaseMeter();
        long reading = 0;
        long wrong = 0;
        foreach (var id in order)
        {
            var start = Stopwatch.GetTimestamp();
            int read;
            using (var handle = File.OpenHandle(Path.Combine(local, keys[id]), FileMode.Open, FileAccess.Read))
            {
                read = RandomAccess.Read(handle, buffer, 0);
            }

            reading += Stopwatch.GetTimestamp() - start;
            var n = numbers[id];
            if (!content.Check(buffer.AsSpan(0, read), n, settings.SizeOf(n), settings.VerifyAll))
            {
                wrong++;
            }
        }

        var cost = meter.Stop();
        return new EpochResult(name, order.Length, cost, Stopwatch.GetElapsedTime(0, reading), null, wrong, keys.Length - order.Length, TimeSpan.Zero);
    }

    private static bool Report(EpochResult result, List<(string, string, PhaseCost, string)> phases, string? requests = null)
    {
        var note = result.Reader is { } s
            ? $"waited {result.Waited.TotalSeconds:0.00} s; {s.Reads:N0} files, fetched {ResultTable.FormatBytes(s.BytesFetched)}; {requests}"
            : $"in open + read + close {result.Waited.TotalSeconds:0.00} s";
        Add(phases, (result.Name, $"{result.SamplesPerSecond:N0} files/s", result.Cost, note));
        var ok = result.Wrong == 0 && result.Missing == 0;
        Console.WriteLine($"  verify {result.Samples:N0} files: {(ok ? "OK" : $"FAILED ({result.Wrong} wrong, {result.Missing} missing)")}");
        return ok;
    }

    private static void Add(List<(string, string, PhaseCost, string)> phases, (string Name, string Rate, PhaseCost Cost, string Note) phase)
    {
        phases.Add(phase);
        DatasetBenchmark.Print(phase);
    }

    private static double Ratio(EpochResult ours, EpochResult local) => ours.SamplesPerSecond / local.SamplesPerSecond;

    private static string ClassName(int c) => $"c{c:D4}";

    /// <summary>File n's path below the root: its class folder and its number (<c>c0003/f0000103.bin</c>).</summary>
    private static string FileName(int n, int classes) => $"{ClassName(n % classes)}/f{n:D7}.bin";

    private static string Table(
        FolderSettings settings,
        List<(bool Cold, int Epoch, EpochResult Ours, EpochResult Local)> rates,
        List<(bool Cold, int Epoch, EpochResult Ours)> stalls,
        List<(string Name, string Rate, PhaseCost Cost, string Note)> phases,
        bool judged)
    {
        string Result(bool cold, bool pass) => !cold ? "(warm: not judged)" : judged ? (pass ? "PASS" : "MISS") : "(quick: not judged)";
        string Cache(bool cold) => cold ? "cold" : "warm";
        var text = new StringBuilder();
        text.AppendLine("| files | epoch | page cache | ours (LustreDataset, Folder) | local open + read per file | ratio | target | result |");
        text.AppendLine("|---|---:|---|---:|---:|---:|---:|---|");
        foreach (var (cold, epoch, ours, local) in rates)
        {
            var ratio = Ratio(ours, local);
            text.AppendLine(CultureInfo.InvariantCulture, $"| {settings.Scale} | {epoch} | {Cache(cold)} | {ours.SamplesPerSecond:N0} files/s | {local.SamplesPerSecond:N0} files/s | {ratio:0.00}× | ≥ {RateTarget:0.0}× | {Result(cold, ratio >= RateTarget)} |");
        }

        foreach (var cold in new[] { false, true })
        {
            var sorted = rates.Where(r => r.Cold == cold).Select(r => Ratio(r.Ours, r.Local)).Order().ToArray();
            if (sorted.Length > 1)
            {
                var median = RepeatSummary.Median(sorted);
                text.AppendLine(CultureInfo.InvariantCulture, $"| {settings.Scale} | median of {sorted.Length} ({sorted[0]:0.00}–{sorted[^1]:0.00}) | {Cache(cold)} | | | {median:0.00}× | ≥ {RateTarget:0.0}× | {Result(cold, median >= RateTarget)} |");
            }
        }

        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"| files | epoch | page cache | epoch with {settings.Compute.TotalMicroseconds:0} µs compute/file | files/s | consumer waited | share of epoch | target | result |");
        text.AppendLine("|---|---:|---|---:|---:|---:|---:|---:|---|");
        foreach (var (cold, epoch, stall) in stalls)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"| {settings.Scale} | {epoch} | {Cache(cold)} | {stall.Cost.Wall.TotalSeconds:0.00} s | {stall.SamplesPerSecond:N0} | {stall.Waited.TotalSeconds:0.000} s | {stall.WaitedShare * 100:0.0} % | < {StallTarget * 100:0} % | {Result(cold, stall.WaitedShare < StallTarget)} |");
        }

        foreach (var cold in new[] { false, true })
        {
            var sorted = stalls.Where(s => s.Cold == cold).Select(s => s.Ours.WaitedShare).Order().ToArray();
            if (sorted.Length > 1)
            {
                var median = RepeatSummary.Median(sorted);
                text.AppendLine(CultureInfo.InvariantCulture, $"| {settings.Scale} | median of {sorted.Length} ({sorted[0] * 100:0.0}–{sorted[^1] * 100:0.0} %) | {Cache(cold)} | | | | {median * 100:0.0} % | < {StallTarget * 100:0} % | {Result(cold, median < StallTarget)} |");
            }
        }

        DatasetBenchmark.AppendPhases(text, phases);
        return text.ToString();
    }

    /// <summary>The run's parameters; <see cref="Describe"/> prints them beside the table.</summary>
    private sealed record FolderSettings(int Files, int MinSize, int MaxSize, int Classes, TimeSpan Compute, long Budget, int Reads, int PrefetchWindow, int Epochs, bool VerifyAll, bool DirectReads, bool Warm, bool Dom)
    {
        public string Scale => $"{Files:N0} files of {ResultTable.FormatBytes(MinSize)}–{ResultTable.FormatBytes(MaxSize)}";

        /// <summary>File n's size: uniform in [MinSize, MaxSize], from a hash of n (the same on every run).</summary>
        public int SizeOf(long n)
        {
            var z = ((ulong)n + 1) * 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z ^= z >> 31;
            return MinSize + (int)(z % (ulong)(MaxSize - MinSize + 1));
        }

        public string Describe() =>
            $"{Scale} (uniform sizes) in {Classes} class folders on a 4-OST cluster (default layout: {(Dom ? "the first 64 KiB on the MDT (Data-on-MDT), the rest one stripe" : "one stripe per file")}) and byte for byte in local files on the same disk; " +
            $"reader: Folder format, global shuffle, prefetch budget {ResultTable.FormatBytes(Budget)}, {Reads} read requests in flight, prefetch window {PrefetchWindow} files; " +
            $"OSTs {(DirectReads ? "with" : "without")} direct reads of uncached ranges; {(Warm ? "both sides from the page cache the writes left, then " : "")}both sides from a cold page cache (evicted before each epoch); simulated compute {Compute.TotalMicroseconds:0} µs per file (busy-wait) in {(Epochs > 1 ? $"{Epochs} stall epochs" : "the stall epoch")}; " +
            $"verify {(VerifyAll ? "every byte" : "tag, size, key and label")} of every file";
    }

    /// <summary>The client's RPCs by operation while alive (the process-wide <c>lustre.client.rpc.duration</c> histogram: one measurement per RPC).</summary>
    private sealed class RpcCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

        public RpcCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LustreDiagnostics.Name && instrument.Name == "lustre.client.rpc.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "lustre.operation" && tag.Value is string operation)
                    {
                        _counts.AddOrUpdate(operation, 1, (_, c) => c + 1);
                    }
                }
            });
            _listener.Start();
        }

        public string Describe() => _counts.IsEmpty ? "no RPCs" : "RPCs: " + string.Join(", ", _counts.OrderByDescending(c => c.Value).Select(c => $"{c.Key} {c.Value:N0}"));

        public void Dispose() => _listener.Dispose();
    }
}
