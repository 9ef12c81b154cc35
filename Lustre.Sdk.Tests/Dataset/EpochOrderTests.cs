using Lustre.Dataset;

namespace Lustre.Tests.Dataset;

public sealed class EpochOrderTests
{
    public static TheoryData<int, int, DatasetShuffle, DatasetRemainder> Cases()
    {
        var data = new TheoryData<int, int, DatasetShuffle, DatasetRemainder>();
        foreach (var n in new[] { 1, 7, 100, 1001 })
        {
            foreach (var world in new[] { 1, 2, 3, 8 })
            {
                data.Add(n, world, DatasetShuffle.Global, DatasetRemainder.Drop);
                data.Add(n, world, DatasetShuffle.Global, DatasetRemainder.Pad);
                data.Add(n, world, DatasetShuffle.ShardWindow, DatasetRemainder.Drop);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Every_sample_goes_to_exactly_one_rank_with_equal_counts(int n, int world, DatasetShuffle shuffle, DatasetRemainder remainder)
    {
        var starts = ShardStarts(n, 3);
        var order = EpochOrder.Permute(shuffle, 42, 5, starts, 16, Lengths(n), long.MaxValue);
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
        var a = EpochOrder.Permute(DatasetShuffle.Global, 7, 1, starts, 100, Lengths(10_000), long.MaxValue);
        var b = EpochOrder.Permute(DatasetShuffle.Global, 7, 1, starts, 100, Lengths(10_000), long.MaxValue);
        var c = EpochOrder.Permute(DatasetShuffle.Global, 7, 2, starts, 100, Lengths(10_000), long.MaxValue);
        var d = EpochOrder.Permute(DatasetShuffle.Global, 8, 1, starts, 100, Lengths(10_000), long.MaxValue);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.NotEqual(a, d);
        // Pinned: the order is part of the contract (same on every machine and .NET version); these values also come
        // out of a 15-line Python reimplementation of SplitMix64 + Fisher–Yates (docs/dataset-format.md).
        Assert.Equal([6102, 7892, 1366, 8273, 8426], a.Take(5));
    }

    [Fact]
    public void Shard_window_order_stays_within_one_or_two_shards_per_window()
    {
        var starts = ShardStarts(10_000, 10);
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, 1, 0, starts, 500, Lengths(10_000), long.MaxValue);
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
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, seed, 3, starts, 500, lengths, windowBytes, windows);
        Assert.Equal(Enumerable.Range(0, 10_000), order.Order());
        Assert.Equal(order, EpochOrder.Permute(DatasetShuffle.ShardWindow, seed, 3, starts, 500, lengths, windowBytes));

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
        var unbounded = EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, long.MaxValue);
        Assert.Equal(unbounded, EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, 500L * 3000));
        Assert.NotEqual(unbounded, EpochOrder.Permute(DatasetShuffle.ShardWindow, 5, 1, starts, 500, lengths, 600_000));
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
        var order = EpochOrder.Permute(DatasetShuffle.ShardWindow, 9, 0, starts, 500, Lengths(10_000), 200_000, windows);
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
    [InlineData(1001, 3, 3, 100)]
    [InlineData(1001, 3, 2, 57)]
    [InlineData(1001, 8, 3, 1)]
    [InlineData(10, 2, 8, 4)]
    public void Resuming_with_another_world_size_reads_exactly_the_rest(int n, int world, int newWorld, int perRankRead)
    {
        var order = EpochOrder.Permute(DatasetShuffle.Global, 3, 0, ShardStarts(n, 2), 64, Lengths(n), long.MaxValue);
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
