using System.Diagnostics.Metrics;
using System.Text.Json;
using Lustre.Client;
using Lustre.Dataset;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Dataset;

[Collection(ClusterCollection.Name)]
public sealed class LustreDatasetTests(ClusterFixture fixture)
{
    private const int SampleCount = 1001;

    [Theory]
    [InlineData(1, DatasetShuffle.Global)]
    [InlineData(2, DatasetShuffle.Global)]
    [InlineData(3, DatasetShuffle.Global)]
    [InlineData(8, DatasetShuffle.Global)]
    [InlineData(3, DatasetShuffle.ShardWindow)]
    [InlineData(8, DatasetShuffle.ShardWindow)]
    [InlineData(3, DatasetShuffle.Blocks)]
    public async Task Every_sample_is_read_by_exactly_one_rank_per_epoch(int world, DatasetShuffle shuffle)
    {
        var dir = await WriteDatasetAsync();
        foreach (var epoch in new[] { 0, 1 })
        {
            var seen = new List<long>();
            var counts = new HashSet<int>();
            for (var rank = 0; rank < world; rank++)
            {
                await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Rank = rank, WorldSize = world, Seed = 11, Epoch = epoch, Shuffle = shuffle, ShuffleWindow = 100 });
                var mine = await ReadVerifiedAsync(dataset);
                counts.Add(mine.Count);
                seen.AddRange(mine);
                Assert.Equal(epoch + 1, dataset.Epoch);
            }

            Assert.Single(counts);
            Assert.Equal(SampleCount - (SampleCount % world), seen.Count);
            Assert.Equal(seen.Count, seen.Distinct().Count());
        }
    }

    [Fact]
    public async Task Environment_variables_set_rank_and_world_size_and_pad_repeats_the_fewest_samples()
    {
        var dir = await WriteDatasetAsync();
        var seen = new List<long>();
        for (var rank = 0; rank < 8; rank++)
        {
            Environment.SetEnvironmentVariable("RANK", rank.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Environment.SetEnvironmentVariable("WORLD_SIZE", "8");
            try
            {
                await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Remainder = DatasetRemainder.Pad });
                Assert.Equal((rank, 8), (dataset.Rank, dataset.WorldSize));
                seen.AddRange(await ReadVerifiedAsync(dataset));
            }
            finally
            {
                Environment.SetEnvironmentVariable("RANK", null);
                Environment.SetEnvironmentVariable("WORLD_SIZE", null);
            }
        }

        Assert.Equal(1008, seen.Count);
        Assert.Equal(Enumerable.Range(0, SampleCount).Select(i => (long)i), seen.Distinct().Order());
    }

    [Theory]
    [InlineData(1, 1, 0, DatasetShuffle.Global)]
    [InlineData(1, 1, 437, DatasetShuffle.Global)]
    [InlineData(3, 3, 123, DatasetShuffle.Global)]
    [InlineData(3, 2, 200, DatasetShuffle.Global)]
    [InlineData(2, 8, 1, DatasetShuffle.Global)]
    [InlineData(1, 1, 437, DatasetShuffle.ShardWindow)]
    [InlineData(3, 2, 123, DatasetShuffle.ShardWindow)]
    [InlineData(2, 3, 250, DatasetShuffle.ShardWindow)]
    [InlineData(3, 2, 77, DatasetShuffle.Blocks)]
    public async Task Resuming_from_a_saved_state_reads_exactly_the_remaining_samples(int world, int newWorld, int perRank, DatasetShuffle shuffle)
    {
        var dir = await WriteDatasetAsync();

        // With ShardWindow, a 64 KiB budget bounds the shuffle windows to 16 KiB (about 11 samples) of the 100 asked for.
        LustreDatasetOptions Options(int rank, int worldSize) => new() { Seed = 5, Epoch = 2, Shuffle = shuffle, ShuffleWindow = 100, PrefetchBudget = 64 << 10, Rank = rank, WorldSize = worldSize };
        var order = await OrderAsync(dir, Options(0, 1));
        var read = new List<long>();
        LustreDatasetState? state = null;
        for (var rank = 0; rank < world; rank++)
        {
            await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, Options(rank, world));
            var taken = 0;
            while (taken < perRank)
            {
                await foreach (var sample in dataset.ReadAsync())
                {
                    using (sample)
                    {
                        read.Add(sample.Index);
                    }

                    if (++taken == perRank)
                    {
                        break;
                    }
                }
            }

            var mine = dataset.GetState();
            Assert.True(state is null || state == mine, "lockstep ranks must save the same state");
            state = mine;
        }

        // The state is small and survives JSON.
        var json = JsonSerializer.Serialize(state);
        var restored = JsonSerializer.Deserialize<LustreDatasetState>(json)!;
        Assert.Equal(state, restored);
        Assert.Equal((long)perRank * world, restored.Position);

        var rest = new List<long>();
        for (var rank = 0; rank < newWorld; rank++)
        {
            var options = Options(rank, newWorld);
            options.Seed = 0;
            options.Epoch = 0;
            options.ResumeFrom = restored;
            await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, options);
            rest.AddRange(await ReadVerifiedAsync(dataset));
            Assert.Equal(3, dataset.Epoch);
        }

        var remaining = order.Skip(read.Count).ToArray();
        Assert.Equal(order.Take(read.Count).Order(), read.Order());
        Assert.Equal(remaining.Length - (remaining.Length % newWorld), rest.Count);
        Assert.Equal(rest.Count, rest.Distinct().Count());
        Assert.Empty(rest.Intersect(read));
        Assert.Subset(remaining.ToHashSet(), rest.ToHashSet());
    }

    [Fact]
    public async Task The_same_seed_and_epoch_give_the_same_order_from_fresh_readers_and_in_a_child_process()
    {
        var dir = await WriteDatasetAsync();
        var options = () => new LustreDatasetOptions { Seed = 1234, Epoch = 7, Rank = 1, WorldSize = 3 };
        var first = await OrderAsync(dir, options());
        var second = await OrderAsync(dir, options());
        Assert.Equal(first, second);
        Assert.NotEqual(first, await OrderAsync(dir, new LustreDatasetOptions { Seed = 1234, Epoch = 8, Rank = 1, WorldSize = 3 }));

        // The order actually read equals the announced order.
        await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, options()))
        {
            Assert.Equal(first, await ReadVerifiedAsync(dataset));
        }

        var child = await ChildOrderAsync(dir, "--seed", "1234", "--epoch", "7", "--rank", "1", "--world-size", "3");
        Assert.Equal(first, child);
    }

    [Fact]
    public async Task Shard_window_reads_coalesce_neighbouring_samples_into_few_requests()
    {
        var dir = await WriteDatasetAsync();
        await using var global = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.Global, PrefetchWindow = 64, CoalesceGap = -1 });
        await ReadVerifiedAsync(global);
        await using var window = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, ShuffleWindow = 256, PrefetchWindow = 256, Partitions = 1 });
        await ReadVerifiedAsync(window);

        // 16 partitions: each window of 256 samples is 16 runs of 16 neighbours, each read with one request.
        await using var partitioned = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, ShuffleWindow = 256, Partitions = 16 });
        await ReadVerifiedAsync(partitioned);

        Assert.Equal(SampleCount, global.Statistics.Reads);
        Assert.True(window.Statistics.Reads <= 20, $"{window.Statistics.Reads} reads for {SampleCount} samples");
        Assert.True(partitioned.Statistics.Reads <= 16 * 4 + 8, $"{partitioned.Statistics.Reads} reads for {SampleCount} samples in 16 partitions");
        Assert.Equal(global.Statistics.BytesRead, window.Statistics.BytesRead);
        Assert.Equal(global.Statistics.BytesRead, partitioned.Statistics.BytesFetched);
        Assert.Equal(0, window.Statistics.PrefetchedBytes);
    }

    [Theory]
    [InlineData(DatasetShuffle.ShardWindow)]
    [InlineData(DatasetShuffle.Blocks)]
    public async Task Ranks_together_fetch_each_byte_once_when_the_world_size_divides_the_partitions(DatasetShuffle shuffle)
    {
        var dir = await WriteDatasetAsync();

        // Windows of 128 samples, 16 partitions of 62 or 63: 8 rows per window, 8 windows per epoch. Blocks of 64
        // samples (about 96 KB) are further apart than the 64 KiB a reader coalesces across.
        const int windows = 8;
        LustreDatasetOptions Options(int rank, int world) => new() { Shuffle = shuffle, ShuffleWindow = 128, ShuffleBlock = 64, Seed = 21, Rank = rank, WorldSize = world };
        long? readsAlone = null;
        foreach (var world in new[] { 1, 2, 4, 8 })
        {
            var seen = new List<long>();
            long fetched = 0, read = 0, reads = 0;
            for (var rank = 0; rank < world; rank++)
            {
                await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, Options(rank, world));
                seen.AddRange(await ReadVerifiedAsync(dataset));
                (fetched, read, reads) = (fetched + dataset.Statistics.BytesFetched, read + dataset.Statistics.BytesRead, reads + dataset.Statistics.Reads);
            }

            readsAlone ??= reads;
            Assert.Equal(SampleCount - (SampleCount % world), seen.Distinct().Count());
            Assert.True(fetched <= read * 1.05, $"W={world}: fetched {fetched} bytes for {read}");
            Assert.True(reads <= readsAlone + (world * windows), $"W={world}: {reads} reads, {readsAlone} alone");
        }
    }

    [Fact]
    public async Task Shard_window_reads_each_shuffle_window_once_even_with_a_smaller_prefetch_window()
    {
        var dir = await WriteDatasetAsync();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, ShuffleWindow = 256, PrefetchWindow = 16, Partitions = 1 });
        await ReadVerifiedAsync(dataset);

        // Planned 16 at a time, each pick from a 256-sample span would coalesce into a read of most of the span.
        Assert.Equal(dataset.Statistics.BytesRead, dataset.Statistics.BytesFetched);
        Assert.True(dataset.Statistics.Reads <= 20, $"{dataset.Statistics.Reads} reads for {SampleCount} samples");
    }

    [Fact]
    public async Task Shard_window_bounded_by_the_budget_reads_large_samples_in_few_large_requests()
    {
        // 400 samples of 16 KiB; a 1 MiB budget holds a 256 KiB prefetch window, 16 samples. A shuffle window of the
        // default 16,384 samples (all 400) would leave each prefetch window 16 random picks 400 KiB apart on average:
        // about one read per sample. Bounded by bytes, each shuffle window is 16 neighbours read in one request.
        var dir = await WriteLargeDatasetAsync();
        var options = () => new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, PrefetchBudget = 1 << 20, Seed = 3, Partitions = 1 };
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, options());
        var order = dataset.GetSampleOrder();
        var read = new List<long>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                Assert.Equal(Content((int)sample.Index, 16 << 10), sample["a"].ToArray());
                read.Add(sample.Index);
            }
        }

        Assert.Equal(order, read);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => (long)i), read.Order());
        Assert.NotEqual(read.Order(), read);
        Assert.Equal(dataset.Statistics.BytesRead, dataset.Statistics.BytesFetched);
        Assert.True(dataset.Statistics.Reads <= 40, $"{dataset.Statistics.Reads} reads for 400 samples");
        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);

        // Still a shuffle within each window, the same from a fresh reader.
        await using var again = await LustreDataset.OpenAsync(fixture.Client, dir, options());
        Assert.Equal(order, again.GetSampleOrder());
        Assert.True(order.Take(16).Distinct().Count() == 16 && !order.Take(16).Order().SequenceEqual(order.Take(16)));
    }

    [Fact]
    public async Task A_state_saved_with_other_order_settings_is_refused_and_a_matching_one_resumes()
    {
        var dir = await WriteLargeDatasetAsync();
        LustreDatasetState state;
        await using (var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, Seed = 9, PrefetchBudget = 1 << 20 }))
        {
            await using var samples = dataset.ReadAsync().GetAsyncEnumerator();
            for (var i = 0; i < 50 && await samples.MoveNextAsync(); i++)
            {
                samples.Current.Dispose();
            }

            state = dataset.GetState();
        }

        // A budget of 4 MiB bounds the 16 KiB samples' windows at 64 samples, 1 MiB at 16: another order, so refused.
        var ex = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, PrefetchBudget = 4 << 20, ResumeFrom = state }));
        Assert.Contains("PrefetchBudget", ex.Message, StringComparison.Ordinal);
        Assert.Contains(state.Order!, ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.Global, PrefetchBudget = 1 << 20, ResumeFrom = state }));
        ex = await Assert.ThrowsAsync<ArgumentException>(() => LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, PrefetchBudget = 1 << 20, Partitions = 8, ResumeFrom = state }));
        Assert.Contains("Partitions", ex.Message, StringComparison.Ordinal);

        await using var resumed = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, PrefetchBudget = 1 << 20, ResumeFrom = state });
        Assert.Equal(state.SampleCount - 50, resumed.RemainingInEpoch);
    }

    [Theory]
    [InlineData(7)]
    [InlineData(123)]
    public async Task Resuming_inside_a_shuffle_window_still_reads_each_window_once(int position)
    {
        // Prefetch windows start where the resumed position is, then follow the shuffle windows (16 samples here):
        // planned from the position on without that, each would straddle two shuffle windows and coalescing would
        // read the neighbours of its picks too.
        var dir = await WriteLargeDatasetAsync();
        var state = new LustreDatasetState(3, 0, position, 400);
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.ShardWindow, PrefetchBudget = 1 << 20, ResumeFrom = state, Partitions = 1 });
        var expected = dataset.GetSampleOrder();
        var read = new List<long>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                Assert.Equal(Content((int)sample.Index, 16 << 10), sample["a"].ToArray());
                read.Add(sample.Index);
            }
        }

        Assert.Equal(expected, read);
        Assert.Equal(400 - position, read.Count);

        // Only the first, partly read shuffle window may read samples consumed before the save (the gaps between its rest).
        var stats = dataset.Statistics;
        Assert.True(stats.BytesFetched - stats.BytesRead < 16 * (16 << 10), $"fetched {stats.BytesFetched} bytes for {stats.BytesRead}");
        Assert.True(stats.Reads <= 40, $"{stats.Reads} reads for {read.Count} samples");
    }

    [Fact]
    public async Task Prefetch_buffers_are_reused_across_reads_and_epochs()
    {
        var dir = await WriteDatasetAsync();
        const long budget = 64 << 10;
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { PrefetchBudget = budget, PrefetchWindow = 8, CoalesceGap = -1 });
        await ReadVerifiedAsync(dataset);
        var afterFirst = dataset.BufferBytesAllocated;
        await ReadVerifiedAsync(dataset);
        await ReadVerifiedAsync(dataset);

        // One read per sample (1001 per epoch, 1 to 3000 bytes each): a fresh array per read would allocate at least
        // the bytes fetched; the pool allocates what one budget's worth of reads holds in each power-of-two size.
        Assert.Equal(3 * SampleCount, dataset.Statistics.Reads);
        Assert.True(dataset.BufferBytesAllocated < dataset.Statistics.BytesFetched / 4, $"{dataset.BufferBytesAllocated} bytes of buffers allocated to fetch {dataset.Statistics.BytesFetched}");
        Assert.True(dataset.BufferBytesAllocated - afterFirst <= 2 * budget, $"epochs 2 and 3 allocated {dataset.BufferBytesAllocated - afterFirst} bytes of buffers after epoch 1 allocated {afterFirst}");
        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
    }

    [Fact]
    public async Task A_sample_kept_past_the_dataset_stays_valid_until_disposed()
    {
        var dir = await WriteDatasetAsync();
        var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { Shuffle = DatasetShuffle.None });
        DatasetSample kept;
        await using (var samples = dataset.ReadAsync().GetAsyncEnumerator())
        {
            Assert.True(await samples.MoveNextAsync());
            kept = samples.Current;
        }

        await dataset.DisposeAsync();
        using (kept)
        {
            Assert.Equal(Content(0, 1), kept["a"].ToArray());
        }

        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        Assert.Throws<ObjectDisposedException>(() => kept["a"]);
    }

    [Fact]
    public async Task A_small_budget_and_an_early_stop_return_every_buffer()
    {
        var dir = await WriteDatasetAsync();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, new LustreDatasetOptions { PrefetchBudget = 64 << 10, MaxConcurrentReads = 2, PrefetchWindow = 8 });
        var taken = 0;
        await foreach (var sample in dataset.ReadAsync())
        {
            sample.Dispose();
            if (++taken == 300)
            {
                break;
            }
        }

        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
        Assert.Equal(300, dataset.GetState().Position);
        Assert.Equal(SampleCount - 300, (await ReadVerifiedAsync(dataset)).Count);
        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
    }

    [Fact]
    public async Task Cancellation_stops_the_reader_and_returns_its_buffers()
    {
        var dir = await WriteDatasetAsync();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir);
        using var cts = new CancellationTokenSource();
        var taken = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var sample in dataset.ReadAsync(cts.Token))
            {
                sample.Dispose();
                if (++taken == 10)
                {
                    await cts.CancelAsync();
                }
            }
        });
        Assert.Equal(0, dataset.Statistics.PrefetchedBytes);
    }

    [Fact]
    public async Task Batches_cover_the_epoch_and_metrics_count_samples_and_stalls()
    {
        var dir = await WriteDatasetAsync();
        long samples = 0;
        var stalls = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Lustre.Sdk" && instrument.Name.StartsWith("lustre.dataset.", StringComparison.Ordinal))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "lustre.dataset.samples")
            {
                Interlocked.Add(ref samples, value);
            }
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == "lustre.dataset.stall.duration")
            {
                Interlocked.Increment(ref stalls);
            }
        });
        listener.Start();

        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir);
        var sizes = new List<int>();
        await foreach (var batch in dataset.ReadBatchesAsync(100))
        {
            using (batch)
            {
                sizes.Add(batch.Count);
            }
        }

        Assert.Equal([.. Enumerable.Repeat(100, 10), 1], sizes);
        Assert.True(Interlocked.Read(ref samples) >= SampleCount);
        // A consumer that asks before its window has arrived waits, and each wait is both measured and counted; with
        // batched reads the first window can be ready before the first sample is asked for, so none need happen.
        Assert.Equal(stalls > 0, dataset.Statistics.StallTime > TimeSpan.Zero);
    }

    /// <summary>1001 samples of 1 to 3000 bytes whose content is derived from the index, in 4 indexed shards.</summary>
    private async Task<string> WriteDatasetAsync()
    {
        var dir = await fixture.NewDirectoryAsync() + "/data";
        await using var writer = await DatasetWriter.CreateAsync(fixture.Client, dir, new DatasetWriterOptions { TargetShardSize = 400_000 });
        for (var i = 0; i < SampleCount; i++)
        {
            await writer.WriteAsync(Key(i), [new DatasetField("a", Content(i, 1 + (i * 7919 % 3000))), new DatasetField("b", Content(i + 1, i % 5))]);
        }

        await writer.CompleteAsync();
        Assert.Equal(4, writer.Shards.Count);
        return dir;
    }

    /// <summary>400 samples of 16 KiB in shards of about 2 MiB.</summary>
    private async Task<string> WriteLargeDatasetAsync()
    {
        var dir = await fixture.NewDirectoryAsync() + "/large";
        await using var writer = await DatasetWriter.CreateAsync(fixture.Client, dir, new DatasetWriterOptions { TargetShardSize = 2 << 20 });
        for (var i = 0; i < 400; i++)
        {
            await writer.WriteAsync(Key(i), [new DatasetField("a", Content(i, 16 << 10))]);
        }

        await writer.CompleteAsync();
        return dir;
    }

    private static string Key(long i) => "k" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static byte[] Content(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<List<long>> ReadVerifiedAsync(LustreDataset dataset)
    {
        var indices = new List<long>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                var i = (int)sample.Index;
                Assert.Equal(Key(i), sample.Key);
                Assert.Equal(Content(i, 1 + (i * 7919 % 3000)), sample["a"].ToArray());
                Assert.Equal(Content(i + 1, i % 5), sample["b"].ToArray());
                indices.Add(sample.Index);
            }
        }

        return indices;
    }

    private async Task<long[]> OrderAsync(string dir, LustreDatasetOptions options)
    {
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir, options);
        return dataset.GetSampleOrder();
    }

    /// <summary>Runs the DataLoader sample in a child process to print the order it computes for the same dataset.</summary>
    private async Task<long[]> ChildOrderAsync(string dir, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "DataLoader.dll");
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var info = new System.Diagnostics.ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[dll, "print-order", "--mgs", fixture.Address, "--path", dir, .. args])
        {
            info.ArgumentList.Add(arg);
        }

        using var process = System.Diagnostics.Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(cts.Token);
        Assert.True(process.ExitCode == 0, $"DataLoader print-order exited with {process.ExitCode}: {await error}");
        return [.. (await output).Split([',', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse)];
    }
}
