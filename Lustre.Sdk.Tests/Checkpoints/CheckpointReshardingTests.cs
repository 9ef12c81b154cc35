using System.Text;
using System.Text.Json;
using Lustre.Checkpoints;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// Resharding: 4 ranks save shards of tensors (row or column sharding, uneven like <c>torch.chunk</c>) with their
/// global shape and offsets; 1, 2 or 3 ranks load slices of them, reading only the shards' bytes their slices need.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointReshardingTests
{
    private const int SaveWorld = 4;
    private static readonly long[] WeightShape = [2002, 302];
    private static readonly long[] BiasShape = [30];
    private readonly ClusterFixture _fixture;

    public CheckpointReshardingTests(ClusterFixture fixture) => _fixture = fixture;

    /// <summary>The part <paramref name="rank"/> of <paramref name="world"/> gets of <paramref name="length"/>, as <c>torch.chunk</c> cuts it.</summary>
    private static (long Offset, long Length) Chunk(long length, int world, int rank)
    {
        var size = (length + world - 1) / world;
        var start = Math.Min(length, rank * size);
        return (start, Math.Min(length, start + size) - start);
    }

    private static TensorSlice Part(long[] shape, int dimension, int world, int rank)
    {
        var (offset, length) = Chunk(shape[dimension], world, rank);
        var offsets = new long[shape.Length];
        var sizes = shape.ToArray();
        offsets[dimension] = offset;
        sizes[dimension] = length;
        return new TensorSlice(offsets, sizes);
    }

    /// <summary>The elements of a box of a row-major tensor, one by one: an independent reference for every slice read.</summary>
    private static byte[] Box(byte[] tensor, long[] shape, TensorSlice slice, int elementSize)
    {
        var box = new byte[slice.ElementCount * elementSize];
        var n = shape.Length;
        for (long e = 0; e < slice.ElementCount; e++)
        {
            long rest = e;
            var index = new long[n];
            for (var d = n - 1; d >= 0; d--)
            {
                index[d] = rest % slice.Shape[d];
                rest /= slice.Shape[d];
            }

            long flat = 0;
            for (var d = 0; d < n; d++)
            {
                flat = (flat * shape[d]) + slice.Offsets[d] + index[d];
            }

            tensor.AsSpan((int)(flat * elementSize), elementSize).CopyTo(box.AsSpan((int)(e * elementSize)));
        }

        return box;
    }

    private static byte[] RandomBytes(long count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static CheckpointManagerOptions RankOptions(int rank, int world, string runId, CheckpointCompression compression = CheckpointCompression.None)
    {
        var options = SmallOptions(compression);
        (options.Rank, options.WorldSize, options.RunId) = (rank, world, runId);
        return options;
    }

    /// <summary>The global tensors: a [2002, 302] F32 weight, a [30] I64 bias, and a scalar rank 0 saves whole.</summary>
    private sealed record State(byte[] Weight, byte[] Bias, NamedTensor Scalar);

    /// <summary>4 ranks save their shards of <see cref="State"/> (the weight cut along <paramref name="dimension"/>), committed as step 3.</summary>
    private async Task<(string Root, State State)> SaveWithFourRanksAsync(int dimension, CheckpointCompression compression = CheckpointCompression.None)
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        // Random bytes would not shrink, and a compressing manager stores such files plain: compressed saves get a weight that does.
        var weight = compression == CheckpointCompression.Zstd ? Compressible("w", WeightShape, 1).Data.ToArray() : RandomBytes(WeightShape[0] * WeightShape[1] * 4, 1);
        var state = new State(weight, RandomBytes(BiasShape[0] * 8, 2), NamedTensor.FromValues("step", TensorDType.I64, [], [123L]));
        var runId = "run-" + Guid.NewGuid().ToString("N");
        var managers = Enumerable.Range(0, SaveWorld).Select(rank => new CheckpointManager(_fixture.Client, root, RankOptions(rank, SaveWorld, runId, compression))).ToArray();
        try
        {
            var saves = new List<Task>();
            for (var rank = SaveWorld - 1; rank >= 0; rank--)
            {
                var w = Part(WeightShape, dimension, SaveWorld, rank);
                var b = Part(BiasShape, 0, SaveWorld, rank);
                var tensors = new List<NamedTensor>
                {
                    NamedTensor.Shard("w", TensorDType.F32, WeightShape, w.OffsetsSpan, w.ShapeSpan, Box(state.Weight, WeightShape, w, 4)),
                    NamedTensor.Shard("b", TensorDType.I64, BiasShape, b.OffsetsSpan, b.ShapeSpan, Box(state.Bias, BiasShape, b, 8)),
                };
                if (rank == 0)
                {
                    tensors.Add(state.Scalar);
                }

                saves.Add((await managers[rank].SaveAsync(3, tensors)).Completion);
            }

            await Task.WhenAll(saves).WaitAsync(TestTimeout);
            return (root, state);
        }
        finally
        {
            foreach (var manager in managers)
            {
                await manager.DisposeAsync();
            }
        }
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0, 2)]
    [InlineData(0, 3)]
    [InlineData(1, 1)]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    public async Task Shards_saved_by_4_ranks_load_as_slices_on_any_world_size(int dimension, int loadWorld)
    {
        var (root, state) = await SaveWithFourRanksAsync(dimension);

        for (var rank = 0; rank < loadWorld; rank++)
        {
            await using var manager = new CheckpointManager(_fixture.Client, root, RankOptions(rank, loadWorld, "load"));
            var w = Part(WeightShape, dimension, loadWorld, rank);
            var b = Part(BiasShape, 0, loadWorld, rank);

            using var loaded = await manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["w"] = w, ["b"] = b });

            var weight = loaded["w"];
            Assert.True(weight.IsShard);
            Assert.Equal(WeightShape, weight.GlobalShape);
            Assert.Equal(w.Offsets, weight.ShardOffsets);
            Assert.Equal(w.Shape, weight.Shape);
            Assert.True(Box(state.Weight, WeightShape, w, 4).AsSpan().SequenceEqual(weight.Data.Span), $"rank {rank} of {loadWorld}: w{w} differs");
            Assert.Equal(Box(state.Bias, BiasShape, b, 8), loaded["b"].Data.ToArray());
            Assert.Equal(2, loaded.Tensors.Count);

            var needed = (w.ElementCount * 4) + (b.ElementCount * 8);
            if (dimension == 0)
            {
                // Row slices of row shards are contiguous runs: exactly the slice's bytes are read, and no header.
                Assert.Equal(needed, loaded.BytesRead);
            }
            else
            {
                // Column slices are one run per row; runs less than 64 KiB apart are read as one, so at most each
                // overlapping shard's span from the first needed byte to the last is read, never a shard it does not overlap.
                long span = b.ElementCount * 8;
                for (var saver = 0; saver < SaveWorld; saver++)
                {
                    var (offset, length) = Chunk(WeightShape[1], SaveWorld, saver);
                    var from = Math.Max(offset, w.Offsets[1]);
                    var to = Math.Min(offset + length, w.Offsets[1] + w.Shape[1]);
                    if (to > from)
                    {
                        span += (((WeightShape[0] - 1) * length) + (to - offset) - (from - offset)) * 4;
                    }
                }

                Assert.InRange(loaded.BytesRead, needed, span);
            }
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_compressed_sharded_checkpoint_loads_slices_on_3_ranks_and_whole(int dimension)
    {
        var (root, state) = await SaveWithFourRanksAsync(dimension, CheckpointCompression.Zstd);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(root + "/step-00000003"))
        {
            names.Add(entry.Name);
        }

        Assert.Equal(SaveWorld, names.Count(n => n.EndsWith(".safetensors.zst", StringComparison.Ordinal)));

        for (var rank = 0; rank < 3; rank++)
        {
            var w = Part(WeightShape, dimension, 3, rank);
            using var loaded = await manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["w"] = w });
            Assert.True(Box(state.Weight, WeightShape, w, 4).AsSpan().SequenceEqual(loaded["w"].Data.Span));
        }

        using var whole = await manager.LoadAsync(3);
        Assert.Equal(state.Weight, whole["w"].Data.ToArray());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public async Task A_load_of_everything_puts_each_sharded_tensor_together_whole(int dimension)
    {
        var (root, state) = await SaveWithFourRanksAsync(dimension);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());

        using (var pooled = await manager.LoadAsync(3))
        {
            Assert.Equal(3, pooled.Tensors.Count);
            Assert.False(pooled["w"].IsShard);
            Assert.Equal(WeightShape, pooled["w"].Shape);
            Assert.Equal(state.Weight, pooled["w"].Data.ToArray());
            Assert.Equal(state.Bias, pooled["b"].Data.ToArray());
            Assert.Equal(state.Scalar.Data.ToArray(), pooled["step"].Data.ToArray());
        }

        var seen = new List<TensorDescription>();
        var weight = new byte[state.Weight.Length];
        using (var into = await manager.LoadAsync(3, d =>
        {
            seen.Add(d);
            return d.Name == "w" ? weight : (Memory<byte>?)null;
        }))
        {
            Assert.Equal(state.Weight, weight);
            Assert.Single(into.Tensors);
        }

        // The callback sees each sharded tensor once, whole.
        var w = Assert.Single(seen, d => d.Name == "w");
        Assert.Equal(WeightShape, w.Shape);
        Assert.Equal(state.Weight.Length, w.ByteCount);
        Assert.Equal(3, seen.Count);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadAsync(3, new Dictionary<string, Memory<byte>> { ["w"] = new byte[8] }));
        Assert.Contains("saved as 4 shards", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_manifest_records_each_shard_DCP_style_and_says_version_3()
    {
        var (root, _) = await SaveWithFourRanksAsync(dimension: 1);
        await using var file = await _fixture.Client.OpenFileAsync(root + "/step-00000003/manifest.json", FileMode.Open, FileAccess.Read);
        var bytes = new byte[file.Length];
        await file.ReadAtAsync(0, bytes);
        using var manifest = JsonDocument.Parse(bytes);

        Assert.Equal(3, manifest.RootElement.GetProperty("version").GetInt32());
        var shards = manifest.RootElement.GetProperty("files").EnumerateArray()
            .SelectMany(f => f.GetProperty("shards").EnumerateArray().Select(s => (Rank: f.GetProperty("rank").GetInt32(), Shard: s)))
            .Where(s => s.Shard.GetProperty("name").GetString() == "w")
            .OrderBy(s => s.Rank)
            .ToList();
        Assert.Equal(4, shards.Count);
        Assert.All(shards, s => Assert.Equal(WeightShape, s.Shard.GetProperty("global_shape").EnumerateArray().Select(v => v.GetInt64())));
        Assert.Equal([0L, 76, 152, 228], shards.Select(s => s.Shard.GetProperty("offsets")[1].GetInt64()));
        Assert.Equal([76L, 76, 76, 74], shards.Select(s => s.Shard.GetProperty("shape")[1].GetInt64()));
        Assert.All(shards, s => Assert.Equal(s.Shard.GetProperty("file_range")[1].GetInt64() - s.Shard.GetProperty("file_range")[0].GetInt64(), WeightShape[0] * s.Shard.GetProperty("shape")[1].GetInt64() * 4));
    }

    [Fact]
    public async Task Overlapping_shards_fail_the_save_on_every_rank_and_commit_nothing()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var runId = "run-" + Guid.NewGuid().ToString("N");
        await using var rank0 = new CheckpointManager(_fixture.Client, root, RankOptions(0, 2, runId));
        await using var rank1 = new CheckpointManager(_fixture.Client, root, RankOptions(1, 2, runId));

        var save1 = await rank1.SaveAsync(1, [NamedTensor.Shard("v", TensorDType.U8, [50], [20], [30], new byte[30])]);
        var save0 = await rank0.SaveAsync(1, [NamedTensor.Shard("v", TensorDType.U8, [50], [0], [30], new byte[30])]);

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => save0.Completion.WaitAsync(TestTimeout));
        Assert.Contains("the shards of tensor 'v' overlap: [0:30] of rank 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("[20:50] of rank 1", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<IOException>(() => save1.Completion.WaitAsync(TestTimeout));
        Assert.Empty(await rank0.ListStepsAsync());
    }

    [Fact]
    public async Task A_damaged_byte_in_a_whole_chunk_a_slice_reads_fails_the_load_naming_the_file_and_chunk()
    {
        var (root, _) = await SaveWithFourRanksAsync(dimension: 0);
        var path = root + "/step-00000003/rank00001-00000.safetensors";
        // Chunk 1 (bytes 256 KiB to 512 KiB) lies inside rank 1's rows of w (about 605 KB after the header and b).
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open))
        {
            var one = new byte[1];
            await file.ReadAtAsync(300_000, one);
            one[0] ^= 0x40;
            await file.WriteAtAsync(300_000, one);
        }

        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["w"] = TensorSlice.Whole(WeightShape) }));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("checksum mismatch in chunk 1", error.Message, StringComparison.Ordinal);
        // Rank 2's rows of a 3-rank load do not touch rank 1's file: they load.
        using var other = await manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["w"] = Part(WeightShape, 0, 3, 2) });
        Assert.Equal(Part(WeightShape, 0, 3, 2).ElementCount * 4, other["w"].Data.Length);
    }

    [Fact]
    public async Task Slices_outside_a_tensor_and_unknown_names_are_refused_before_reading()
    {
        var (root, _) = await SaveWithFourRanksAsync(dimension: 0);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());

        var outside = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["w"] = new([2000, 0], [3, 302]) }));
        Assert.Contains("does not lie within tensor 'w' of shape [2002,302]", outside.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["nope"] = new([0], [1]) }));
        Assert.Contains("no tensor named 'nope'", unknown.Message, StringComparison.Ordinal);

        // A tensor saved whole can be sliced too: its file's header says where it is.
        using var scalar = await manager.LoadSlicesAsync(3, new Dictionary<string, TensorSlice> { ["step"] = TensorSlice.Whole([]) });
        Assert.Equal(123L, BitConverter.ToInt64(scalar["step"].Data.Span));
    }

    /// <summary>Manifest files as two ranks would report them, with only the shards' metadata filled in.</summary>
    private static List<ManifestFile> Files(params (int Rank, ManifestShard[] Shards)[] ranks) =>
        [.. ranks.Select(r => new ManifestFile($"rank{r.Rank:D5}-00000.safetensors", r.Rank, 1 << 20, 1 << 20, [0UL], [.. r.Shards.Select(s => s.Name)], null, r.Shards))];

    private static ManifestShard Shard(string name, long[] global, long[] offsets, long[] shape, TensorDType dtype = TensorDType.F32) =>
        new(name, dtype, shape, global, offsets, 0, shape.Aggregate(1L, (a, b) => a * b) * dtype.GetElementSize());

    [Fact]
    public void The_commit_check_refuses_gaps_overlaps_disagreements_and_tensors_saved_whole_twice()
    {
        // A 2 × 2 grid of [5, 5] blocks covers [10, 10]: accepted.
        CheckpointManifest.CheckTensors(
            Files((0, [Shard("g", [10, 10], [0, 0], [5, 5]), Shard("h", [4], [0], [4])]), (1, [Shard("g", [10, 10], [0, 5], [5, 5])]), (2, [Shard("g", [10, 10], [5, 0], [5, 5])]), (3, [Shard("g", [10, 10], [5, 5], [5, 5])])),
            "step 1");

        var gap = Assert.Throws<InvalidDataException>(() => CheckpointManifest.CheckTensors(Files((0, [Shard("g", [10, 10], [0, 0], [5, 10])]), (1, [Shard("g", [10, 10], [6, 0], [4, 10])])), "step 1"));
        Assert.Contains("the shards of tensor 'g' [10,10] hold 90 of its 100 elements", gap.Message, StringComparison.Ordinal);

        // Equal counts, but one block overlaps and another is missing: found by the overlap sweep, not the count.
        var overlap = Assert.Throws<InvalidDataException>(() => CheckpointManifest.CheckTensors(
            Files((0, [Shard("g", [10, 10], [0, 0], [5, 5])]), (1, [Shard("g", [10, 10], [0, 4], [5, 5])]), (2, [Shard("g", [10, 10], [5, 0], [5, 5])]), (3, [Shard("g", [10, 10], [5, 5], [5, 5])])),
            "step 1"));
        Assert.Contains("overlap: [0:5, 0:5] of rank 0 (rank00000-00000.safetensors) and [0:5, 4:9] of rank 1", overlap.Message, StringComparison.Ordinal);

        var dtype = Assert.Throws<InvalidDataException>(() => CheckpointManifest.CheckTensors(Files((0, [Shard("g", [2], [0], [1])]), (1, [Shard("g", [2], [1], [1], TensorDType.F16)])), "step 1"));
        Assert.Contains("disagree", dtype.Message, StringComparison.Ordinal);

        var twice = new List<ManifestFile>
        {
            new("rank00000-00000.safetensors", 0, 8, 8, [0UL], ["x"]),
            new("rank00001-00000.safetensors", 1, 8, 8, [0UL], ["x"]),
        };
        var whole = Assert.Throws<InvalidDataException>(() => CheckpointManifest.CheckTensors(twice, "step 1"));
        Assert.Contains("tensor 'x' is saved by more than one rank; a tensor split across ranks must be saved as shards (NamedTensor.Shard)", whole.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_manifest_with_shards_round_trips_and_one_without_stays_version_1()
    {
        var files = Files((0, [Shard("g", [10, 4], [0, 0], [5, 4])]), (1, [Shard("g", [10, 4], [5, 0], [5, 4])]));
        var manifest = new CheckpointManifest { Step = 2, WorldSize = 2, Metadata = new Dictionary<string, string>(), Files = files };

        var parsed = CheckpointManifest.Parse(manifest.Serialize(), "m");

        var shard = parsed.Files[1].Shards![0];
        Assert.Equal(("g", TensorDType.F32), (shard.Name, shard.DType));
        Assert.Equal([5L, 0L], shard.Offsets);
        Assert.Equal([10L, 4L], shard.GlobalShape);
        Assert.Equal([5L, 4L], shard.Shape);
        Assert.Equal((0L, 80L), (shard.Begin, shard.End));
        Assert.Contains("\"version\": 3", Encoding.UTF8.GetString(manifest.Serialize()), StringComparison.Ordinal);
        var plain = new CheckpointManifest { Step = 2, WorldSize = 1, Metadata = new Dictionary<string, string>(), Files = [new("f.safetensors", 0, 8, 8, [0UL], ["x"])] };
        Assert.Contains("\"version\": 1", Encoding.UTF8.GetString(plain.Serialize()), StringComparison.Ordinal);
    }
}
