using System.Diagnostics;
using Lustre.Dataset;
using Lustre.Tests.Cluster;
using Xunit.Abstractions;

namespace Lustre.Tests.Dataset;

/// <summary>
/// Cancelling a dataset enumeration: no sample is handed out after the token is cancelled, however many are prefetched;
/// the exception comes promptly even while the reader waits; the prefetcher stops and returns its budget; and the
/// next enumeration goes on from the last sample handed out.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DatasetCancellationTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private const int SampleCount = 3000;

    private async Task<string> WriteDatasetAsync(int count, int sampleBytes)
    {
        var dir = await fixture.NewDirectoryAsync() + "/data";
        await using var writer = await DatasetWriter.CreateAsync(fixture.Client, dir, new DatasetWriterOptions { TargetShardSize = 1 << 20 });
        for (var i = 0; i < count; i++)
        {
            var content = new byte[sampleBytes];
            content.AsSpan().Fill((byte)i);
            await writer.WriteAsync("k" + i, "x", content);
        }

        await writer.CompleteAsync();
        return dir;
    }

    [Fact]
    public async Task No_sample_is_handed_out_after_cancellation_and_the_next_enumeration_reads_exactly_the_rest()
    {
        var dir = await WriteDatasetAsync(SampleCount, 100);
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Rank = 0, WorldSize = 1, Seed = 4, PrefetchWindow = 1024 });
        var seen = new List<long>();
        using var cts = new CancellationTokenSource();
        var after = 0;
        TimeSpan latency;
        await using (var samples = dataset.ReadAsync(cts.Token).GetAsyncEnumerator())
        {
            while (seen.Count < 300 && await samples.MoveNextAsync())
            {
                using var sample = samples.Current;
                seen.Add(sample.Index);
            }

            // A whole prefetch window (1,024 samples) is read by now: none of it may come out.
            await WaitUntilAsync(() => dataset.Statistics.Reads > 0 && dataset.Statistics.BytesFetched >= 1024 * 100);
            var timer = Stopwatch.StartNew();
            await cts.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
            {
                while (await samples.MoveNextAsync())
                {
                    samples.Current.Dispose();
                    after++;
                }
            });
            latency = timer.Elapsed;
        }

        output.WriteLine($"LustreDataset.ReadAsync: threw {latency.TotalMilliseconds:F1} ms after Cancel(), with a window prefetched");
        Assert.Equal(0, after);
        Assert.True(latency < CancellationLatency.Bound, $"took {latency.TotalMilliseconds:F0} ms");
        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        Assert.Equal(300, dataset.GetState().Position);
        Assert.Equal(300, dataset.Statistics.SamplesRead);

        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                seen.Add(sample.Index);
            }
        }

        Assert.Equal(Enumerable.Range(0, SampleCount).Select(i => (long)i), seen.Order());
        Assert.Equal(1, dataset.Epoch);
    }

    [Fact]
    public async Task A_reader_waiting_for_its_budget_throws_promptly_and_its_prefetcher_stops()
    {
        var dir = await WriteDatasetAsync(400, 16 << 10);
        await using var dataset = await LustreDataset.OpenAsync(
            fixture.Client, dir, new LustreDatasetOptions { Rank = 0, WorldSize = 1, PrefetchBudget = 64 << 10, MaxConcurrentReads = 1, PrefetchWindow = 2 });
        var held = new List<DatasetSample>();
        using var cts = new CancellationTokenSource();

        // Samples kept undisposed hold the budget, so the reader soon waits for bytes that never come back.
        var reader = Task.Run(async () =>
        {
            await foreach (var sample in dataset.ReadAsync(cts.Token))
            {
                lock (held)
                {
                    held.Add(sample);
                }
            }
        });
        var last = 0;
        var quiet = Stopwatch.StartNew();
        await CancellationLatency.CancelAndMeasureAsync(reader, cts, () =>
        {
            int count;
            lock (held)
            {
                count = held.Count;
            }

            if (count != last)
            {
                (last, quiet) = (count, Stopwatch.StartNew());
            }

            return count > 0 && quiet.ElapsedMilliseconds >= 50;
        }, output, "LustreDataset.ReadAsync waiting for its budget");

        var reads = dataset.Statistics.Reads;
        Assert.InRange(held.Count, 1, 4);
        foreach (var sample in held)
        {
            Assert.True(sample["x"].Span.IndexOfAnyExcept((byte)sample.Index) < 0, $"sample {sample.Index} holds another sample's bytes");
            sample.Dispose();
        }

        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        await Task.Delay(100);
        Assert.Equal(reads, dataset.Statistics.Reads);
        Assert.Equal(held.Count, dataset.GetState().Position);
    }

    [Fact]
    public async Task An_enumeration_with_a_cancelled_token_throws_at_once_and_leaves_the_reader_free()
    {
        var dir = await WriteDatasetAsync(50, 10);
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Rank = 0, WorldSize = 1 });
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var sample in dataset.ReadAsync(cts.Token))
            {
                sample.Dispose();
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var batch in dataset.ReadBatchesAsync(8, cancellationToken: cts.Token))
            {
                batch.Dispose();
            }
        });

        Assert.Equal(0, dataset.Statistics.Reads);
        var count = 0;
        await foreach (var sample in dataset.ReadAsync())
        {
            sample.Dispose();
            count++;
        }

        Assert.Equal(50, count);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(1, timeout.Token);
        }
    }
}
