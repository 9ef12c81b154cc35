using Lustre.Dataset;

namespace Lustre.Tests.Dataset;

public sealed class EpochOrderTests
{
    public static TheoryData<int, int, DatasetShuffle, DatasetRemainder, int> Cases()
    {
        var data = new TheoryData<int, int, DatasetShuffle, DatasetRemainder, int>();
        foreach (var n in new[] { 1, 7, 100, 1001 })
        {
            foreach (var world in new[] { 1, 2, 3, 8 })
            {
                data.Add(n, world, DatasetShuffle.Global, DatasetRemainder.Drop, 1);
                data.Add(n, world, DatasetShuffle.Global, DatasetRemainder.Pad, 1);
                data.Add(n, world, DatasetShuffle.ShardWindow, DatasetRemainder.Drop, 1);
                data.Add(n, world, DatasetShuffle.ShardWindow, DatasetRemainder.Drop, 16);
                data.Add(n, world, DatasetShuffle.Blocks, DatasetRemainder.Pad, 5);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_sample_goes_to_exactly_one_rank_with_equal_counts(int n, int world, DatasetShuffle shuffle, DatasetRemainder remainder, int partitions)
    {
        var starts = ShardStarts(n, 3);
        var order = EpochOrder.Permute(shuffle, 42, 5, starts, 16, Lengths(n), long.MaxValue, partitions, 4);
        Assert.Equal(Enumerable.Range(0, n), order.Order());
        var seen = new List<int>();
        var counts = new HashSet<int>();
        for (var rank = 0; rank < world; rank++)
        {
            var mine = EpochOrder.ForRank(order, 0, rank, world, remainder);
            counts.Add(mine.Length);
            seen.AddRange(mine);
        }

        Assert.Single(counts);
        if (remainder == DatasetRemainder.Drop)
        {
            Assert.Equal(n - (n % world), seen.Count);
            Assert.Equal(seen.Count, seen.Distinct().Count());
            // The dropped ones are the tail of the epoch order.
            Assert.Equal(order.Take(seen.Count).Order(), seen.Order());
        }
        else
        {
            Assert.Equal((n + world - 1) / world * world, seen.Count);
            Assert.Equal(Enumerable.Range(0, n), seen.Distinct().Order());
            Assert.True(seen.Count - n < world);
        }
    }

    [Fact]
    public void Same_seed_and_epoch_give_the_same_order_and_other_epochs_another()
    {
        var starts = ShardStarts(10_000, 4);
        var a = EpochOrder.Permute(DatasetShuffle.Global, 7, 1, starts, 100, Lengths(10_000), long.MaxValue, 1, 1);
        var b = EpochOrder.Permute(DatasetShuffle.Global, 7, 1, starts, 100, Lengths(10_000), long.MaxValue, 1, 1);
        var c = EpochOrder.Permute(DatasetShuffle.Global, 7, 2, starts, 100, Lengths(10_000), long.MaxValue, 1, 1);
        var d = EpochOrder.Permute(DatasetShuffle.Global, 8, 1, starts, 100, Lengths(10_000), long.MaxValue, 1, 1);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, d);
        // Pinned: the order is part of the contract (same on every machine and .NET version); these values also come
        // out of a 15-line Python reimplementation of SplitMix64 + Fisher–Yates (docs/dataset-format.md).
        Assert.Equal([6102, 7892, 1366, 8273, 8426], a.Take(5));
    }

    [Fact]
    public void Shard_window_order_with_one_partition_stays_within_one_or_two_shards_per_window()
    {
        var starts = ShardStarts(10_000, 10);
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, 1, 0, starts, 500, Lengths(10_000), long.MaxValue, 1, 1);
        Assert.Equal(Enumerable.Range(0, 10_000), order.Order());
        for (var w = 0; w < order.Length; w += 500)
        {
            var shards = order.Skip(w).Take(500).Select(i => i / 1000).Distinct().Count();
            Assert.InRange(shards, 1, 2);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(99)]
    public void Shard_windows_are_bounded_by_bytes_as_well_as_by_count(ulong seed)
    {
        var starts = ShardStarts(10_000, 7);
        var lengths = Lengths(10_000);
        const long windowBytes = 300_000;
        var windows = new List<int>();
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, seed, 3, starts, 500, lengths, windowBytes, 1, 1, windows);
        Assert.Equal(Enumerable.Range(0, 10_000), order.Order());
        Assert.Equal(order, EpochOrder.Permute(DatasetShuffle.ShardWindow, seed, 3, starts, 500, lengths, windowBytes, 1, 1));

        // Model: the shards in the order they first appear (each spans several windows), their samples in storage order,
        // cut greedily before the sample that would pass the byte bound or at 500 samples.
        var shardOrder = order.Select(i => Array.FindLastIndex(starts, s => s <= i)).Distinct().ToArray();
        var storage = shardOrder.SelectMany(s => Enumerable.Range(starts[s], starts[s + 1] - starts[s])).ToArray();
        var modelStarts = new List<int>();
        for (var start = 0; start < storage.Length;)
        {
            modelStarts.Add(start);
            var end = start + 1;
            long bytes = lengths[storage[start]];
            while (end < storage.Length && end - start < 500 && bytes + lengths[storage[end]] <= windowBytes)
            {
                bytes += lengths[storage[end++]];
            }

            Assert.Equal(storage[start..end].Order(), order[start..end].Order());
            start = end;
        }

        Assert.Equal(modelStarts, windows);

        // Samples of 1 to 3000 bytes (1.5 KB on average): the byte bound, not the count, cut most windows.
        Assert.True(windows.Count > 10_000 / 500 * 2, $"{windows.Count} windows");
    }

    [Fact]
    public void A_byte_bound_above_every_window_gives_the_count_only_order()
    {
        var starts = ShardStarts(10_000, 7);
        var lengths = Lengths(10_000);
        var unbounded = EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, long.MaxValue, 1, 1);
        Assert.Equal(unbounded, EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, 500L * 3000, 1, 1));
        Assert.NotEqual(unbounded, EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, 600_000, 1, 1));
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(3, 0)]
    [InlineData(3, 301)]
    [InlineData(8, 4000)]
    public void Each_rank_knows_where_its_share_of_each_shuffle_window_starts(int world, long position)
    {
        var starts = ShardStarts(10_000, 7);
        var windows = new List<int>();
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, 9, 0, starts, 500, Lengths(10_000), 200_000, 16, 1, windows);
        var windowOf = new int[order.Length];
        for (var w = 0; w < windows.Count; w++)
        {
            windowOf.AsSpan(windows[w]).Fill(w);
        }

        for (var rank = 0; rank < world; rank++)
        {
            var mine = EpochOrder.ForRank(order, position, rank, world, DatasetRemainder.Drop);
            var rankStarts = EpochOrder.RankWindowStarts(windows, position, rank, world, mine.Length);
            var expected = new List<int>();
            for (var i = 1; i < mine.Length; i++)
            {
                if (windowOf[position + rank + (i * world)] != windowOf[position + rank + ((i - 1) * world)])
                {
                    expected.Add(i);
                }
            }

            Assert.Equal(expected, rankStarts);
        }
    }

    [Theory]
    [InlineData(1001, 3, 3, 100, DatasetShuffle.Global)]
    [InlineData(1001, 3, 2, 57, DatasetShuffle.Global)]
    [InlineData(1001, 8, 3, 1, DatasetShuffle.Global)]
    [InlineData(10, 2, 8, 4, DatasetShuffle.Global)]
    [InlineData(1001, 3, 2, 57, DatasetShuffle.ShardWindow)]
    [InlineData(1001, 8, 3, 20, DatasetShuffle.ShardWindow)]
    [InlineData(1001, 3, 2, 57, DatasetShuffle.Blocks)]
    public void Resuming_with_another_world_size_reads_exactly_the_rest(int n, int world, int newWorld, int perRankRead, DatasetShuffle shuffle)
    {
        var order = EpochOrder.Permute(shuffle, 3, 0, ShardStarts(n, 2), 64, Lengths(n), long.MaxValue, 16, 8);
        var position = (long)perRankRead * world;
        var rest = new List<int>();
        for (var rank = 0; rank < newWorld; rank++)
        {
            rest.AddRange(EpochOrder.ForRank(order, position, rank, newWorld, DatasetRemainder.Drop));
        }

        var expected = order.Skip((int)position).ToArray();
        Assert.Equal(rest.Count, rest.Distinct().Count());
        Assert.Equal(expected.Length - (expected.Length % newWorld), rest.Count);
        Assert.Subset(expected.ToHashSet(), rest.ToHashSet());
    }

    [Theory]
    [InlineData(DatasetShuffle.ShardWindow, 16, 10_000)]
    [InlineData(DatasetShuffle.ShardWindow, 5, 10_003)]
    [InlineData(DatasetShuffle.Blocks, 16, 10_007)]
    public void Entry_k_times_P_plus_j_is_the_kth_sample_of_partition_j_and_windows_shuffle_runs_in_place(DatasetShuffle shuffle, int partitions, int n)
    {
        var starts = ShardStarts(n, 7);
        var lengths = Lengths(n);
        var windows = new List<int>();
        var order = EpochOrder.Permute(shuffle, 4, 2, starts, 800, lengths, 400_000, partitions, 32, windows);
        Assert.Equal(Enumerable.Range(0, n), order.Order());

        // Partition j (sizes differ by at most one, larger ones first) is entries j, j + P, j + 2P, … of the order.
        var small = n / partitions;
        var extra = n % partitions;
        var partition = new List<int>[partitions];
        for (var j = 0; j < partitions; j++)
        {
            partition[j] = [];
            for (var e = j; e < n; e += partitions)
            {
                partition[j].Add(order[e]);
            }

            Assert.Equal(small + (j < extra ? 1 : 0), partition[j].Count);
        }

        // Windows start at row boundaries, hold at most 800 samples (or one row) and 400,000 bytes (or one row).
        Assert.Equal(0, windows[0]);
        var bounds = windows.Append(n).ToArray();
        for (var w = 0; w + 1 < bounds.Length; w++)
        {
            Assert.Equal(0, bounds[w] % partitions);
            var count = bounds[w + 1] - bounds[w];
            var bytes = order[bounds[w]..bounds[w + 1]].Sum(i => (long)lengths[i]);
            Assert.True(count <= partitions || (count <= 800 && bytes <= 400_000), $"window {w}: {count} samples, {bytes} bytes");

            // Each partition's part of a window is a contiguous run of the units (shards or blocks of 32) in their
            // shuffled order, shuffled: sorted, it is one run of consecutive indices per unit it touches.
            for (var j = 0; j < partitions; j++)
            {
                var run = Enumerable.Range(bounds[w], count).Where(e => e % partitions == j).Select(e => order[e]).Order().ToArray();
                var unitSize = shuffle == DatasetShuffle.Blocks ? 32 : (n / 7) + 1;
                var pieces = 1 + run.Zip(run.Skip(1)).Count(p => p.Second != p.First + 1);
                Assert.True(pieces <= 1 + ((run.Length + unitSize - 1) / unitSize), $"window {w}, partition {j}: {pieces} pieces for {run.Length} samples");
            }
        }

        // The shuffle moved samples within runs.
        Assert.NotEqual(partition[0].Order(), partition[0]);
    }

    [Theory]
    [InlineData(DatasetShuffle.ShardWindow, 2)]
    [InlineData(DatasetShuffle.ShardWindow, 4)]
    [InlineData(DatasetShuffle.ShardWindow, 8)]
    [InlineData(DatasetShuffle.ShardWindow, 16)]
    [InlineData(DatasetShuffle.Blocks, 4)]
    public void When_the_world_size_divides_the_partitions_ranks_never_read_each_others_samples(DatasetShuffle shuffle, int world)
    {
        const int n = 20_000;
        var windows = new List<int>();
        var order = EpochOrder.Permute(shuffle, 77, 1, ShardStarts(n, 5), 16_384, Lengths(n), 4_000_000, 16, 64, windows);
        var owner = new int[n];
        for (var rank = 0; rank < world; rank++)
        {
            foreach (var i in EpochOrder.ForRank(order, 0, rank, world, DatasetRemainder.Drop))
            {
                owner[i] = rank;
            }
        }

        // Between two samples of one rank that a reader would coalesce (sorted, less than 8 samples apart), no sample
        // belongs to another rank: every rank's reads cover only its own bytes.
        for (var rank = 0; rank < world; rank++)
        {
            var mine = EpochOrder.ForRank(order, 0, rank, world, DatasetRemainder.Drop).Order().ToArray();
            foreach (var (a, b) in mine.Zip(mine.Skip(1)))
            {
                for (var i = a + 1; b - a < 8 && i < b; i++)
                {
                    Assert.Fail($"rank {rank} reads {a} and {b}; {i} between them is rank {owner[i]}'s");
                }
            }
        }

        // With a world size that does not divide them it still splits exactly, only no longer along partitions.
        var three = Enumerable.Range(0, 3).SelectMany(r => EpochOrder.ForRank(order, 0, r, 3, DatasetRemainder.Drop)).ToArray();
        Assert.Equal(n - (n % 3), three.Distinct().Count());
    }

    [Fact]
    public void Block_shuffle_windows_draw_from_many_places_and_one_partition_shard_window_from_one_or_two_shards()
    {
        const int n = 10_000;
        var starts = ShardStarts(n, 10);
        var blockWindows = new List<int>();
        var blocks = EpochOrder.Permute(DatasetShuffle.Blocks, 5, 0, starts, 1000, Lengths(n), long.MaxValue, 1, 10, blockWindows);
        var shardWindows = new List<int>();
        var shards = EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 0, starts, 1000, Lengths(n), long.MaxValue, 1, 10, shardWindows);
        Assert.Equal(blockWindows, shardWindows);
        for (var w = 0; w < blockWindows.Count; w++)
        {
            var end = w + 1 < blockWindows.Count ? blockWindows[w + 1] : n;

            // 1000 samples: 100 blocks of 10 from anywhere (at least 8 of the 10 shards), against 1–2 shards.
            Assert.Equal(100, blocks[blockWindows[w]..end].Select(i => i / 10).Distinct().Count());
            Assert.True(blocks[blockWindows[w]..end].Select(i => i / 1000).Distinct().Count() >= 8);
            Assert.InRange(shards[shardWindows[w]..end].Select(i => i / 1000).Distinct().Count(), 1, 2);
        }
    }

    /// <summary>1 to 3000 bytes, as the end-to-end tests' samples.</summary>
    private static int[] Lengths(int n) => [.. Enumerable.Range(0, n).Select(i => 1 + (i * 7919 % 3000))];

    private static int[] ShardStarts(int n, int shards)
    {
        var starts = new int[shards + 1];
        for (var s = 0; s <= shards; s++)
        {
            starts[s] = (int)((long)n * s / shards);
        }

        return starts;
    }
}
