using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Dataset;

namespace Lustre.Benchmarks.Dataset;

/// <summary>
/// One rank of <c>dataset --world-size N</c>: <c>dataset-rank --address A --path P --mode shard|blocks|global
/// --sample-size B --out DIR [reader options]</c>, with <c>RANK</c>, <c>WORLD_SIZE</c> and <c>LOCAL_RANK</c> in its
/// environment as torchrun sets them (the reader takes them from there). It opens its own client and
/// <see cref="LustreDataset"/>, says <c>ready</c>, then for each line <c>epoch E COMPUTE_US</c> reads that epoch,
/// checks every sample, writes the indices it got to <c>DIR/rank-R-epoch-E.bin</c> and answers
/// <c>done samples bytes-read bytes-fetched reads stall-s waited-s wall-s wrong jit-s</c>, where jit-s is the time this
/// process's JIT spent compiling during the epoch (tiered compilation's re-compiles of hot methods included).
/// </summary>
internal static class DatasetRankWorker
{
    public static async Task<int> MainAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var address = args.Text("address") ?? throw new ArgumentException("--address is required.", nameof(rawArgs));
        var path = args.Text("path") ?? throw new ArgumentException("--path is required.", nameof(rawArgs));
        var output = args.Text("out") ?? throw new ArgumentException("--out is required.", nameof(rawArgs));
        var sampleSize = args.Int("sample-size", 0);
        var verifyAll = args.Flag("verify-all");
        var settings = DatasetSettings.Parse(args);
        var mode = settings.Modes[0];
        args.ThrowIfUnused();

        var options = DatasetBenchmark.ReaderOptions(settings, mode);
        options.Rank = null;
        options.WorldSize = null;
        var content = new SampleContent(DatasetBenchmark.ContentSeed, sampleSize);
        await using var client = new LustreClient(address);
        await using var dataset = await LustreDataset.OpenAsync(client, path, options);
        Console.WriteLine("ready");
        while (await Console.In.ReadLineAsync() is { } line)
        {
            try
            {
                var words = line.Split(' ');
                var epoch = int.Parse(words[1], CultureInfo.InvariantCulture);
                var compute = TimeSpan.FromMicroseconds(double.Parse(words[2], CultureInfo.InvariantCulture));
                dataset.SetEpoch(epoch);
                var result = await ReadAsync(dataset, content, verifyAll, compute, Path.Combine(output, $"rank-{dataset.Rank}-epoch-{epoch}.bin"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done {result}"));
            }
            catch (Exception ex)
            {
                Console.WriteLine($"error {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
            }
        }

        return 0;
    }

    private static async Task<string> ReadAsync(LustreDataset dataset, SampleContent content, bool verifyAll, TimeSpan compute, string indexFile)
    {
        var before = dataset.Statistics;
        var computeTicks = (long)(compute.TotalSeconds * Stopwatch.Frequency);
        var indices = new List<long>((int)dataset.RemainingInEpoch);
        long wrong = 0;
        long waited = 0;
        var jitBefore = JitInfo.GetCompilationTime();
        var started = Stopwatch.GetTimestamp();
        await using (var samples = dataset.ReadAsync().GetAsyncEnumerator())
        {
            while (true)
            {
                var asked = Stopwatch.GetTimestamp();
                if (!await samples.MoveNextAsync())
                {
                    break;
                }

                var got = Stopwatch.GetTimestamp();
                waited += got - asked;
                using var sample = samples.Current;
                if (sample.Fields.Count != 1 || !content.Check(sample.Fields[0].Data.Span, sample.Index, verifyAll) || sample.Key != SampleContent.Key(sample.Index))
                {
                    wrong++;
                }

                indices.Add(sample.Index);
                LocalShards.Spin(got, computeTicks);
            }
        }

        var wall = Stopwatch.GetElapsedTime(started);
        await File.WriteAllBytesAsync(indexFile, System.Runtime.InteropServices.MemoryMarshal.AsBytes(indices.ToArray().AsSpan()).ToArray());
        var after = dataset.Statistics;
        return $"{after.SamplesRead - before.SamplesRead} {after.BytesRead - before.BytesRead} {after.BytesFetched - before.BytesFetched} {after.Reads - before.Reads} " +
            $"{(after.StallTime - before.StallTime).TotalSeconds:R} {Stopwatch.GetElapsedTime(0, waited).TotalSeconds:R} {wall.TotalSeconds:R} {wrong} " +
            $"{(JitInfo.GetCompilationTime() - jitBefore).TotalSeconds:R}";
    }
}
