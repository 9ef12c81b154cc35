namespace Lustre.Dataset;

/// <summary>
/// The order of an epoch and each rank's share of it. Pure functions of (seed, epoch, sample counts, settings): a SplitMix64
/// generator and Fisher–Yates, so the order is the same on every machine and .NET version (System.Random promises no such thing).
/// </summary>
internal static class EpochOrder
{
    /// <summary>
    /// The global order: a permutation of the sample indices 0..n−1.
    /// <para>
    /// For <see cref="DatasetShuffle.ShardWindow"/> and <see cref="DatasetShuffle.Blocks"/> the order is built so that
    /// the stride split of <see cref="ForRank"/> gives each rank whole contiguous byte ranges when the world size divides
    /// <paramref name="partitions"/>: the units (the shards, or blocks of <paramref name="block"/> consecutive samples)
    /// are put in a random order; that sequence is cut into <paramref name="partitions"/> contiguous partitions of equal
    /// counts (±1); row k holds the k-th sample of every partition, and entry k·P + j of the order is partition j's k-th
    /// sample, so every W-th entry (W dividing P) stays in the same partitions. Consecutive rows form a shuffle window
    /// while it holds at most <paramref name="window"/> samples and <paramref name="windowBytes"/> bytes (by
    /// <paramref name="lengths"/>; always at least one row), and each partition's part of a window (a contiguous run
    /// of samples) is shuffled in place. The start of each window in the order is added to <paramref name="windowStarts"/> when given.
    /// </para>
    /// </summary>
    public static int[] Permute(
        DatasetShuffle shuffle, ulong seed, int epoch, int[] shardStarts, int window, int[] lengths, long windowBytes, int partitions, int block, List<int>? windowStarts = null)
    {
        var n = shardStarts[^1];
        var order = new int[n];
        var rng = new SplitMix64(seed ^ (0x9E3779B97F4A7C15UL * ((ulong)(uint)epoch + 1)));
        switch (shuffle)
        {
            case DatasetShuffle.None:
                for (var i = 0; i < n; i++)
                {
                    order[i] = i;
                }

                break;
            case DatasetShuffle.Global:
                for (var i = 0; i < n; i++)
                {
                    order[i] = i;
                }

                Shuffle(order, ref rng);
                break;
            default:
                if (n > 0)
                {
                    Partitioned(order, shuffle == DatasetShuffle.Blocks ? BlockStarts(n, block) : shardStarts, window, lengths, windowBytes, Math.Min(partitions, n), windowStarts, ref rng);
                }

                break;
        }

        return order;
    }

    private static void Partitioned(int[] order, int[] unitStarts, int window, int[] lengths, long windowBytes, int partitions, List<int>? windowStarts, ref SplitMix64 rng)
    {
        var n = order.Length;
        var units = new int[unitStarts.Length - 1];
        for (var u = 0; u < units.Length; u++)
        {
            units[u] = u;
        }

        Shuffle(units, ref rng);
        var sequence = new int[n];
        var at = 0;
        foreach (var u in units)
        {
            for (var i = unitStarts[u]; i < unitStarts[u + 1]; i++)
            {
                sequence[at++] = i;
            }
        }

        // Partition j is sequence[Start(j), Start(j) + Size(j)); the first `extra` partitions hold one sample more.
        var small = n / partitions;
        var extra = n % partitions;
        var rows = small + (extra > 0 ? 1 : 0);
        int Start(int j) => (j * small) + Math.Min(j, extra);
        int Size(int j) => small + (j < extra ? 1 : 0);
        int RowCount(int k) => k < small ? partitions : extra;
        long RowBytes(int k)
        {
            long bytes = 0;
            for (var j = 0; j < RowCount(k); j++)
            {
                bytes += lengths[sequence[Start(j) + k]];
            }

            return bytes;
        }

        // Bounded by bytes as well as by count, so a window of large samples fits in the prefetch memory and is read
        // in a few large requests (as WebDataset's shuffle buffer is bounded by the memory it holds).
        for (var first = 0; first < rows;)
        {
            var end = first + 1;
            long count = RowCount(first);
            var bytes = RowBytes(first);
            for (; end < rows; end++)
            {
                var rowCount = RowCount(end);
                var rowBytes = RowBytes(end);
                if (count + rowCount > window || bytes + rowBytes > windowBytes)
                {
                    break;
                }

                count += rowCount;
                bytes += rowBytes;
            }

            windowStarts?.Add(first * partitions);
            for (var j = 0; j < partitions; j++)
            {
                var length = Math.Min(end, Size(j)) - first;
                if (length > 1)
                {
                    Shuffle(sequence.AsSpan(Start(j) + first, length), ref rng);
                }
            }

            first = end;
        }

        at = 0;
        for (var k = 0; k < rows; k++)
        {
            for (var j = 0; j < RowCount(k); j++)
            {
                order[at++] = sequence[Start(j) + k];
            }
        }
    }

    /// <summary>Blocks of <paramref name="block"/> consecutive sample indices (the last one shorter), as unit starts.</summary>
    private static int[] BlockStarts(int n, int block)
    {
        var starts = new int[((n + block - 1) / block) + 1];
        for (var b = 0; b < starts.Length - 1; b++)
        {
            starts[b] = b * block;
        }

        starts[^1] = n;
        return starts;
    }

    /// <summary>How many samples each rank reads from <paramref name="position"/> to the end of the epoch.</summary>
    public static long PerRank(long sampleCount, long position, int worldSize, DatasetRemainder remainder)
    {
        var remaining = Math.Max(0, sampleCount - position);
        return remainder == DatasetRemainder.Drop ? remaining / worldSize : (remaining + worldSize - 1) / worldSize;
    }

    /// <summary>
    /// This rank's samples from <paramref name="position"/> on: entries position + rank, position + rank + world, … of the
    /// global order, so after each rank has read k samples the ranks together have read exactly entries [position, position + k·world).
    /// Padding wraps to the start of the order.
    /// </summary>
    public static int[] ForRank(int[] order, long position, int rank, int worldSize, DatasetRemainder remainder)
    {
        var n = order.Length;
        var count = PerRank(n, position, worldSize, remainder);
        var mine = new int[count];
        for (long i = 0; i < count; i++)
        {
            var p = position + rank + (i * worldSize);
            mine[i] = order[p < n ? p : (p - n) % n];
        }

        return mine;
    }

    /// <summary>
    /// Where this rank's share of each window starts, as indices into <see cref="ForRank"/>'s result (ascending, above 0):
    /// the first i with entry <c>position + rank + i·world</c> at or after a window start.
    /// </summary>
    public static int[] RankWindowStarts(List<int> windowStarts, long position, int rank, int worldSize, int count)
    {
        var starts = new List<int>();
        foreach (var start in windowStarts)
        {
            var first = start - position - rank;
            if (first <= 0)
            {
                continue;
            }

            var i = (first + worldSize - 1) / worldSize;
            if (i >= count)
            {
                break;
            }

            if (starts.Count == 0 || starts[^1] != i)
            {
                starts.Add((int)i);
            }
        }

        return [.. starts];
    }

    private static void Shuffle(Span<int> items, ref SplitMix64 rng)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = (int)rng.NextBelow((ulong)i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    private struct SplitMix64(ulong state)
    {
        private ulong _state = state;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Lemire's multiply-high: uniform enough for shuffling (bias below 2^-32 for any count we allow).</summary>
        public ulong NextBelow(ulong bound) => Math.BigMul(Next(), bound, out _);
    }
}
