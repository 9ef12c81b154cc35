using System.Diagnostics;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Dataset;

namespace Lustre.Benchmarks.Dataset;

/// <summary>What one epoch measured: the rate, what the consumer waited, what the reader fetched, and what was wrong.</summary>
internal sealed record EpochResult(string Name, long Samples, PhaseCost Cost, TimeSpan Waited, DatasetStatistics? Reader, long Wrong, long Missing, TimeSpan Open)
{
    public double SamplesPerSecond => Samples / Cost.Wall.TotalSeconds;

    public double WaitedShare => Waited / Cost.Wall;
}

/// <summary>Our side: one epoch through <see cref="LustreDataset.ReadAsync"/>, timing every wait for the next sample.</summary>
internal static class DatasetEpoch
{
    public static async Task<EpochResult> RunAsync(string name, LustreClient client, string directory, LustreDatasetOptions options, SampleContent content, bool verifyAll, TimeSpan compute)
    {
        var opening = Stopwatch.StartNew();
        await using var dataset = await LustreDataset.OpenAsync(client, directory, options);
        return await ReadEpochAsync(name, dataset, opening.Elapsed, content, verifyAll, compute);
    }

    /// <summary>The rest of <paramref name="dataset"/>'s current epoch; <paramref name="open"/> is what opening it took (zero after its first epoch).</summary>
    public static Task<EpochResult> ReadEpochAsync(string name, LustreDataset dataset, TimeSpan open, SampleContent content, bool verifyAll, TimeSpan compute) =>
        ReadEpochAsync(name, dataset, open, sample => sample.Fields.Count == 1 && content.Check(sample.Fields[0].Data.Span, sample.Index, verifyAll) && sample.Key == SampleContent.Key(sample.Index), compute);

    /// <summary>As the overload above, with <paramref name="check"/> saying whether each sample holds what was written.</summary>
    public static async Task<EpochResult> ReadEpochAsync(string name, LustreDataset dataset, TimeSpan open, Func<DatasetSample, bool> check, TimeSpan compute)
    {
        // The dataset's counters run from its opening: this epoch's figures are the difference.
        var before = dataset.Statistics;
        var seen = new bool[dataset.Count];
        var computeTicks = (long)(compute.TotalSeconds * Stopwatch.Frequency);
        long wrong = 0;
        long samples = 0;
        long waited = 0;
        var meter = new PhaseMeter();
        await using (var samplesOf = dataset.ReadAsync().GetAsyncEnumerator())
        {
            while (true)
            {
                var start = Stopwatch.GetTimestamp();
                if (!await samplesOf.MoveNextAsync())
                {
                    break;
                }

                var got = Stopwatch.GetTimestamp();
                waited += got - start;
                using var sample = samplesOf.Current;
                var index = sample.Index;
                if (!check(sample) || seen[index])
                {
                    wrong++;
                }

                seen[index] = true;
                samples++;
                LocalShards.Spin(got, computeTicks);
            }
        }

        var cost = meter.Stop();
        var missing = seen.LongLength - seen.Count(s => s);
        var after = dataset.Statistics;
        var epoch = after with
        {
            SamplesRead = after.SamplesRead - before.SamplesRead,
            BytesRead = after.BytesRead - before.BytesRead,
            BytesFetched = after.BytesFetched - before.BytesFetched,
            Reads = after.Reads - before.Reads,
            StallTime = after.StallTime - before.StallTime,
        };
        return new EpochResult(name, samples, cost, Stopwatch.GetElapsedTime(0, waited), epoch, wrong, missing, open);
    }

    public static EpochResult Local(string name, LocalShards local, long[] order, SampleContent content, bool verifyAll, TimeSpan compute)
    {
        var meter = new PhaseMeter();
        var wrong = local.Epoch(order, content, verifyAll, compute, out var readTicks);
        var cost = meter.Stop();
        return new EpochResult(name, order.Length, cost, Stopwatch.GetElapsedTime(0, readTicks), null, wrong, local.Count - order.Length, TimeSpan.Zero);
    }
}
