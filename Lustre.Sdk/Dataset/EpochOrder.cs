namespace Lustre.Dataset;

/// <summary>
/// The order of an epoch and each rank's share of it. Pure functions of (seed, epoch, sample counts): a SplitMix64
/// generator and Fisher–Yates, so the order is the same on every machine and .NET version (System.Random promises no such thing).
/// </summary>
internal static class EpochOrder
{
    /// <summary>
    /// The global order: a permutation of the sample indices 0..n−1. For <see cref="DatasetShuffle.ShardWindow"/> a shuffle
    /// window ends after <paramref name="window"/> samples or before the sample that would take its bytes (by
    /// <paramref name="lengths"/>) past <paramref name="windowBytes"/>, whichever comes first, and always holds at least one
    /// sample; the start of each window in the order is added to <paramref name="windowStarts"/> when given.
    /// </summary>
    public static int[] Permute(DatasetShuffle shuffle, ulong seed, int epoch, int[] shardStarts, int window, int[] lengths, long windowBytes, List<int>? windowStarts = null)
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
                var shards = new int[shardStarts.Length - 1];
                for (var s = 0; s < shards.Length; s++)
                {
                    shards[s] = s;
                }

                Shuffle(shards, ref rng);
                var at = 0;
                foreach (var s in shards)
                {
                    for (var i = shardStarts[s]; i < shardStarts[s + 1]; i++)
                    {
                        order[at++] = i;
                    }
                }

                // Bounded by bytes as well as by count, so a window of large samples fits in the prefetch memory and is read
                // in a few large requests (as WebDataset's shuffle buffer is bounded by the memory it holds).
                for (var start = 0; start < n;)
                {
                    var end = start + 1;
                    long bytes = lengths[order[start]];
                    while (end < n && end - start < window && bytes + lengths[order[end]] <= windowBytes)
                    {
                        bytes += lengths[order[end]];
                        end++;
                    }

                    windowStarts?.Add(start);
                    Shuffle(order.AsSpan(start, end - start), ref rng);
                    start = end;
                }

                break;
        }

        return order;
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
