using System.Globalization;
using System.Text;
using Lustre.Benchmarks.Baselines;
using Lustre.Benchmarks.Runner;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;

namespace Lustre.Benchmarks.Checkpoints;

/// <summary>
/// <c>checkpoint [--size 4G] [--quick] [--rounds 2] [--repeat N] [--level 1] [--no-compression] [--markdown FILE] [--dir DIR] [--keep] [--direct-reads] [--buffered-writes]</c>:
/// <see cref="CheckpointManager"/> on an embedded 4-OST cluster against same-run baselines on the same disk: how long
/// <c>SaveAsync</c> blocks vs a plain in-memory copy of the same bytes (target ≤ 1.5×, the first save and the best
/// later one), how long until committed vs the best local durable write of the same bytes to local files,
/// <see cref="FileStream"/> + fsync or O_DIRECT at depth 16 (≤ 1.25×), and a verified load into
/// buffers vs <see cref="FileStream"/> reads of those files into the same buffers (≤ 1.25×); plain and zstd.
/// With <c>--repeat N</c> the whole run (a fresh cluster each time) repeats inside the command and every phase is
/// judged on the median of its repetitions' ratios, printed with the minimum and maximum.
/// Exit code 1 when a load returns other bytes than were saved.
/// </summary>
internal static class CheckpointBenchmark
{
    private const int OstCount = 4;
    private const long MaxFileSize = 1L << 30;

    public static async Task<int> RunAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var quick = args.Flag("quick");
        var size = args.Size("size", quick ? 256L << 20 : 4L << 30);
        var rounds = args.Int("rounds", 2);
        var level = args.Int("level", 1);
        var compression = !args.Flag("no-compression");
        var markdown = args.Text("markdown");
        var keep = args.Flag("keep");
        var directReads = args.Flag("direct-reads");
        var directWrites = args.DirectWrites();
        var cachedReads = args.CachedReads();
        var directory = args.Text("dir") ?? Path.GetTempPath();
        var repeat = args.Int("repeat", 1);
        args.ThrowIfUnused();
        if (repeat < 1)
        {
            Console.Error.WriteLine("--repeat must be at least 1.");
            return 2;
        }

        var scratch = Path.Combine(directory, $"lustre-ckpt-bench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var machine = MachineInfo.Describe(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {machine}; load average {loadBefore}");

        var state = CheckpointState.Create(size, seed: 20240611);
        var destinations = state.NewDestinations();
        var describe = $"{ResultTable.FormatBytes(state.Bytes)} in {state.Tensors.Count} F32 tensors (256 MiB to 4 KiB), {rounds} rounds, 8 MiB chunks, 1 GiB files, 4 MiB stripes over {OstCount} OSTs, zstd level {level}{(directReads ? ", OSTs with direct reads" : string.Empty)}{(directWrites ? ", OSTs with direct writes" : string.Empty)}, cached reads by {cachedReads.ToString().ToLowerInvariant()}";
        Console.WriteLine($"run: {describe}");
        var repetitions = new List<List<CheckpointRow>>();
        var details = new List<string>();
        var verified = true;
        try
        {
            for (var repetition = 1; repetition <= repeat; repetition++)
            {
                if (repeat > 1)
                {
                    Console.WriteLine($"repetition {repetition} of {repeat}");
                    details.Add($"repetition {repetition} of {repeat}");
                }

                var rows = new List<CheckpointRow>();
                verified &= await RunOnceAsync(state, destinations, scratch, Path.Combine(scratch, $"cluster-{repetition}"), rounds, level, compression, keep, directReads, directWrites, cachedReads, rows, details);
                repetitions.Add(rows);
            }
        }
        finally
        {
            if (!keep)
            {
                Scratch.TryDelete(scratch);
            }
        }

        var load1 = $"1-minute load average {loadBefore} at start, {MachineInfo.LoadAverage()} at end ({Environment.ProcessorCount} cores)";
        var table = new StringBuilder();
        table.AppendLine("| phase | ours | baseline | ratio | target | result |");
        table.AppendLine("|---|---:|---:|---:|---:|---|");
        repetitions[^1].ForEach(r => table.AppendLine(r.ToMarkdown()));
        if (repeat > 1)
        {
            table.AppendLine();
            table.AppendLine(RepeatTable(repetitions));
        }

        table.AppendLine();
        table.AppendLine("Every phase measured (wall time, rate over the tensor bytes, process CPU):");
        table.AppendLine();
        details.ForEach(d => table.AppendLine("* " + d));
        Console.WriteLine();
        Console.WriteLine(load1);
        Console.WriteLine(table);
        if (markdown is not null)
        {
            var command = string.Join(' ', ["dotnet run -c Release --project benchmarks/Lustre.Benchmarks -- checkpoint", .. rawArgs]);
            await File.WriteAllTextAsync(markdown, $"Command: `{command}`\n\nMachine: {machine}; {load1}\n\nRun: {describe}; at {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC\n\n{table}");
            Console.WriteLine($"table written to {markdown}");
        }

        if (!verified)
        {
            Console.Error.WriteLine("FAILED: a load returned other bytes than were saved.");
            return 1;
        }

        return 0;
    }

    /// <summary>One repetition: a fresh cluster, saves and loads plain (and zstd) against their baselines; false when a load returned other bytes.</summary>
    private static async Task<bool> RunOnceAsync(
        CheckpointState state,
        Dictionary<string, Memory<byte>> destinations,
        string scratch,
        string clusterDirectory,
        int rounds,
        int level,
        bool compression,
        bool keep,
        bool directReads,
        bool directWrites,
        CachedReadMode cachedReads,
        List<CheckpointRow> rows,
        List<string> details)
    {
        var verified = true;
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions
        {
            OstCount = OstCount,
            DataDirectory = clusterDirectory,
            DeleteDataOnDispose = !keep,
            DirectReads = directReads,
            DirectWrites = directWrites,
            CachedReads = cachedReads,
        });
        await using var client = new LustreClient(cluster.Address);

        var copy = Best(rounds, () => MemoryCopy(state, destinations), "memory copy (one thread)", details);
        var clusterData = cluster.DataDirectory;
        var device = MachineInfo.DeviceOf(scratch);
        var step = 0L;
        foreach (var compress in compression ? new[] { false, true } : [false])
        {
            var kind = compress ? $"zstd {level}" : "plain";

            // Each kind's baselines run in its own phase, alternating with its rounds: the zstd phase runs minutes
            // later, with the first manager's memory in the process, and is judged against the disk as it is then.
            var localWrite = TimeSpan.MaxValue;
            TimeSpan[] localReads = [TimeSpan.MaxValue, TimeSpan.MaxValue]; // warm, cold
            var options = new CheckpointManagerOptions
            {
                Rank = 0,
                WorldSize = 1,
                RunId = null,
                KeepLast = 1,
                // The whole state stages at once, as the design intends: the default 4 GiB is just short of 4 GiB + headers.
                StagingBudget = state.Bytes + (256L << 20),
                Compression = compress ? CheckpointCompression.Zstd : CheckpointCompression.None,
                CompressionLevel = level,
            };
            var blocking = TimeSpan.MaxValue;
            var firstBlocking = TimeSpan.MaxValue;
            var committed = TimeSpan.MaxValue;
            await using (var manager = new CheckpointManager(client, "/ckpt", options))
            {
                // As a training job does at start-up: its staging memory ready before the first save.
                var prepare = new PhaseMeter();
                await manager.PrepareStagingAsync(state.Bytes);
                details.Add(Detail($"{kind} PrepareStagingAsync (untimed setup)", state.Bytes, prepare.Stop()));
                Console.WriteLine($"  {details[^1]}");
                for (var round = 0; round < rounds; round++)
                {
                    // Alternate with the baseline so both see the same moments of a noisy disk.
                    localWrite = Min(localWrite, Timed(() => LocalWrite(state, scratch), $"local FileStream write + fsync ({kind} phase), round {round + 1}", state.Bytes, details));
                    var directFiles = new List<string>();
                    localWrite = Min(localWrite, Timed(() => LocalDirectWrite(state, scratch, directFiles), $"local O_DIRECT write, depth {LocalFileBaseline.DirectDepth} + fsync ({kind} phase), round {round + 1}", state.Bytes, details));
                    directFiles.ForEach(File.Delete);

                    var meter = new PhaseMeter();
                    var save = await manager.SaveAsync(++step, state.Tensors);
                    await save.WaitForCompletionAsync();
                    var cost = meter.Stop();
                    details.Add(Detail($"{kind} SaveAsync to committed, round {round + 1} (blocked {save.StagingTime.TotalSeconds:0.000} s)", state.Bytes, cost));
                    Console.WriteLine($"  {details[^1]}");
                    // The first save of a manager faults in its staging memory; later ones reuse it, as a training loop does.
                    if (round > 0 || rounds == 1)
                    {
                        blocking = Min(blocking, save.StagingTime);
                    }

                    if (round == 0)
                    {
                        firstBlocking = save.StagingTime;
                    }

                    committed = Min(committed, save.TotalTime!.Value);
                }
            }

            var (stored, files, compressed) = await StoredBytesAsync(client, $"/ckpt/step-{step:D8}");
            if (compress)
            {
                details.Add($"zstd level {level}: stored {ResultTable.FormatBytes(stored)} for {ResultTable.FormatBytes(state.Bytes)} of tensors (ratio {stored / (double)state.Bytes:0.000}); " +
                    $"{compressed} of {files} files compressed (one whose sample would not shrink by an eighth is stored plain)");
                Console.WriteLine($"  {details[^1]}");
            }

            GC.Collect();
            if (directWrites)
            {
                // Direct writes left the objects out of the page cache; the warm loads read them from it, as the local ones do.
                details.Add(PageCache.WarmAfterDirectWrites(clusterData, new byte[1 << 20]));
                Console.WriteLine($"  {details[^1]}");
            }

            TimeSpan[] loads = [TimeSpan.MaxValue, TimeSpan.MaxValue]; // warm, cold
            await using (var reader = new CheckpointManager(client, "/ckpt", options))
            {
                // Warm: both right after the writes, from the page cache. Cold: a restart reads a checkpoint that is
                // not in memory, so both are evicted just before (the OST objects and the local files share a disk).
                foreach (var cold in new[] { false, true })
                {
                    var cache = cold ? ", cold page cache" : string.Empty;
                    for (var round = 0; round < rounds; round++)
                    {
                        if (cold)
                        {
                            PageCache.Evict(scratch, except: clusterData);
                        }

                        var local = Timed(() => LocalRead(state, scratch, destinations), $"local FileStream read into buffers{cache} ({kind} phase), round {round + 1}", state.Bytes, details, cold ? device : null);
                        localReads[cold ? 1 : 0] = Min(localReads[cold ? 1 : 0], local);

                        Clear(destinations);
                        if (cold)
                        {
                            PageCache.Evict(clusterData);
                        }

                        var disk = cold ? DiskMeter.Start(device) : null;
                        var meter = new PhaseMeter();
                        using (await reader.LoadAsync(step, destinations))
                        {
                            var cost = meter.Stop();
                            loads[cold ? 1 : 0] = Min(loads[cold ? 1 : 0], cost.Wall);
                            details.Add(Detail($"{kind} LoadAsync into buffers, verified{cache}, round {round + 1}", state.Bytes, cost, disk));
                            Console.WriteLine($"  {details[^1]}");
                        }

                        verified &= Report($"{kind} load into buffers{cache}", state.Matches(destinations));
                    }
                }

                var pooled = new PhaseMeter();
                using (var checkpoint = await reader.LoadAsync(step))
                {
                    details.Add(Detail($"{kind} LoadAsync into pooled memory, verified", state.Bytes, pooled.Stop()));
                    Console.WriteLine($"  {details[^1]}");
                    verified &= Report($"{kind} pooled load", state.Tensors.TrueForAll(t => t.Data.Span.SequenceEqual(checkpoint[t.Name].Data.Span)));
                }
            }

            // The pooled load's 4 GiB and the first manager's staging memory are garbage now; a 24 GiB machine
            // shared with others cannot carry them into the next manager's first save.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);

            rows.Add(new($"SaveAsync blocks the caller ({kind}; first save)", firstBlocking, copy, "memory copy of the same bytes, one thread", 1.5));
            rows.Add(new($"SaveAsync blocks the caller ({kind}; best later save)", blocking, copy, "memory copy of the same bytes, one thread", 1.5));
            rows.Add(new($"SaveAsync to committed ({kind})", committed, localWrite, "best local durable write: FileStream + fsync or O_DIRECT at depth 16, same disk", 1.25));
            rows.Add(new($"LoadAsync into buffers, verified ({kind}; warm page cache)", loads[0], localReads[0], "FileStream read into the same buffers", 1.25));
            rows.Add(new($"LoadAsync into buffers, verified ({kind}; cold page cache)", loads[1], localReads[1], "FileStream read, cold page cache", 1.25));
        }
        return verified;
    }

    /// <summary>The baseline for staging: each tensor copied into memory that is already mapped, on the caller's thread.</summary>
    private static void MemoryCopy(CheckpointState state, Dictionary<string, Memory<byte>> destinations)
    {
        foreach (var tensor in state.Tensors)
        {
            tensor.Data.Span.CopyTo(destinations[tensor.Name].Span);
        }
    }

    /// <summary>The same bytes into 1 GiB local files, tensors back to back, unbuffered FileStream, fsync per file.</summary>
    private static void LocalWrite(CheckpointState state, string scratch)
    {
        var index = 0;
        foreach (var file in state.Files(MaxFileSize))
        {
            using var stream = new FileStream(Path.Combine(scratch, $"local-{index++}.bin"), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            foreach (var tensor in file)
            {
                stream.Write(tensor.Data.Span);
            }

            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>
    /// The same byte count into 1 GiB local files with O_DIRECT at depth 16 (<see cref="LocalFileBaseline.WriteDirect"/>),
    /// named in <paramref name="written"/> for the caller to delete after the clock: the committed baseline is the faster
    /// of this and <see cref="LocalWrite"/>.
    /// </summary>
    private static void LocalDirectWrite(CheckpointState state, string scratch, List<string> written)
    {
        var pattern = new TestPattern(seed: 20240611);
        foreach (var file in state.Files(MaxFileSize))
        {
            var path = Path.Combine(scratch, $"local-direct-{written.Count}.bin");
            written.Add(path);
            LocalFileBaseline.WriteDirect(path, file.Sum(t => (long)t.Data.Length), pattern);
        }
    }

    /// <summary>Those files read back, each tensor straight into its destination.</summary>
    private static void LocalRead(CheckpointState state, string scratch, Dictionary<string, Memory<byte>> destinations)
    {
        var index = 0;
        foreach (var file in state.Files(MaxFileSize))
        {
            using var stream = new FileStream(Path.Combine(scratch, $"local-{index++}.bin"), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
            foreach (var tensor in file)
            {
                stream.ReadExactly(destinations[tensor.Name].Span);
            }
        }
    }

    private static void Clear(Dictionary<string, Memory<byte>> destinations)
    {
        foreach (var destination in destinations.Values)
        {
            destination.Span.Fill(0x5A);
        }
    }

    /// <summary>The bytes a checkpoint's data files take, how many files it has and how many of them are compressed.</summary>
    private static async Task<(long Bytes, int Files, int Compressed)> StoredBytesAsync(LustreClient client, string directory)
    {
        long total = 0;
        var (files, compressed) = (0, 0);
        await foreach (var entry in client.EnumerateDirectoryAsync(directory))
        {
            if (entry.Name.Contains(".safetensors", StringComparison.Ordinal))
            {
                await using var file = await client.OpenFileAsync(entry.Path, FileMode.Open, access: FileAccess.Read);
                total += file.Length;
                files++;
                compressed += entry.Name.EndsWith(".zst", StringComparison.Ordinal) ? 1 : 0;
            }
        }

        return (total, files, compressed);
    }

    private static TimeSpan Best(int rounds, Action action, string name, List<string> details)
    {
        var best = TimeSpan.MaxValue;
        for (var round = 0; round < rounds; round++)
        {
            best = Min(best, Timed(action, $"{name}, round {round + 1}", -1, details));
        }

        return best;
    }

    /// <summary>Runs and records one phase; with <paramref name="device"/>, what that disk read meanwhile too.</summary>
    private static TimeSpan Timed(Action action, string name, long bytes, List<string> details, string? device = null)
    {
        var disk = DiskMeter.Start(device);
        var meter = new PhaseMeter();
        action();
        var cost = meter.Stop();
        details.Add(Detail(name, bytes, cost, disk));
        Console.WriteLine($"  {details[^1]}");
        return cost.Wall;
    }

    private static string Detail(string name, long bytes, PhaseCost cost, DiskMeter? disk = null) =>
        string.Create(CultureInfo.InvariantCulture, $"{name}: {cost.Wall.TotalSeconds:0.000} s{(bytes > 0 ? $" ({bytes / cost.Wall.TotalSeconds / 1e9:0.00} GB/s)" : string.Empty)}, CPU {cost.Cpu.TotalSeconds:0.00} s, allocated {ResultTable.FormatBytes(cost.AllocatedBytes)}{(disk is null ? string.Empty : $"; disk {disk.Stop()}")}");

    /// <summary>Each phase's ratio in every repetition, judged on the median (lower is better: time over the baseline's time).</summary>
    private static string RepeatTable(List<List<CheckpointRow>> repetitions)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| phase | ratio, {repetitions.Count} repetitions | median | min | max | target | result |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---|");
        for (var i = 0; i < repetitions[0].Count; i++)
        {
            var ratios = repetitions.Select(r => r[i].Ratio).ToArray();
            var sorted = ratios.Order().ToArray();
            var median = RepeatSummary.Median(sorted);
            var row = repetitions[0][i];
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Name} (vs {row.BaselineName}) | {string.Join(", ", ratios.Select(r => r.ToString("0.00", CultureInfo.InvariantCulture)))} | {median:0.00}× | {sorted[0]:0.00}× | {sorted[^1]:0.00}× | ≤ {row.Target:0.0#}× | {(median <= row.Target ? "PASS" : "MISS")} |");
        }

        return text.ToString();
    }

    /// <summary>One phase of one repetition: our time against the baseline's, lower is better.</summary>
    private sealed record CheckpointRow(string Name, TimeSpan Ours, TimeSpan Baseline, string BaselineName, double Target)
    {
        public double Ratio => Ours / Baseline;

        public string ToMarkdown() => string.Create(CultureInfo.InvariantCulture,
            $"| {Name} | {Ours.TotalSeconds:0.000} s | {Baseline.TotalSeconds:0.000} s ({BaselineName}) | {Ratio:0.00}× | ≤ {Target:0.0#}× | {(Ratio <= Target ? "PASS" : "MISS")} |");
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static bool Report(string what, bool ok)
    {
        Console.WriteLine($"  verify {what}: {(ok ? "OK" : "FAILED")}");
        return ok;
    }
}
