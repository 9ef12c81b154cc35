using Lustre.Checkpoints;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>zstd checkpoints: round trip, the stored layout, corruption of a compressed chunk, and plain and compressed files side by side.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointCompressionTests
{
    private readonly ClusterFixture _fixture;

    public CheckpointCompressionTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task A_zstd_checkpoint_round_trips_and_its_files_are_frames_that_decompress_to_safetensors()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = Mixed(seed: 1);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(CheckpointCompression.Zstd));

        await (await manager.SaveAsync(3, tensors, new Dictionary<string, string> { ["lr"] = "1e-3" })).Completion.WaitAsync(TestTimeout);

        using (var loaded = await manager.LoadAsync(3))
        {
            AssertSame(tensors, loaded);
            Assert.Equal("1e-3", loaded.Metadata["lr"]);
        }

        // The files holding the compressible tensors are compressed; the one holding only random tensors would not
        // shrink, so it is stored plain.
        var manifest = await ReadManifestAsync(root + "/step-00000003");
        Assert.All(manifest.Files, file => Assert.Equal(file.IsCompressed, file.Name.EndsWith(".safetensors.zst", StringComparison.Ordinal)));
        var compressed = manifest.Files.Where(f => f.IsCompressed).ToList();
        Assert.Equal(2, compressed.Count);
        Assert.All(compressed, file => Assert.Equal(file.Chunks.Length, file.Frames!.Length));
        Assert.True(compressed.Sum(f => f.StoredSize) < compressed.Sum(f => f.Size) * 3 / 4, "the compressible tensors did not shrink");
        var plainFile = Assert.Single(manifest.Files, f => !f.IsCompressed);
        Assert.Contains("random", plainFile.Tensors);

        // Each compressed file is its frames back to back: decompressed as one zstd stream it is the plain safetensors file.
        foreach (var file in compressed)
        {
            var stored = await ReadAllAsync(root + "/step-00000003/" + file.Name);
            Assert.Equal(file.StoredSize, stored.Length);
            using var plain = new MemoryStream();
            await using (var zstd = new ZstdSharp.DecompressionStream(new MemoryStream(stored)))
            {
                await zstd.CopyToAsync(plain);
            }

            Assert.Equal(file.Size, plain.Length);
            var contents = SafetensorsCodec.Parse(plain.ToArray(), file.Name);
            Assert.Equal(file.Tensors.Order(StringComparer.Ordinal), contents.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
            Assert.Equal("3", contents.Metadata["step"]);
        }
    }

    [Fact]
    public async Task A_file_that_would_not_shrink_is_stored_plain_by_a_compressing_manager()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(CheckpointCompression.Zstd));
        List<NamedTensor> tensors = [Weights("w", 600 * 1024, 51), Random("r", TensorDType.U8, [100_000], 52)];
        await (await manager.SaveAsync(4, tensors)).Completion.WaitAsync(TestTimeout);

        var manifest = await ReadManifestAsync(root + "/step-00000004");
        Assert.All(manifest.Files, file => Assert.False(file.IsCompressed, $"{file.Name} was compressed"));
        Assert.All(manifest.Files, file => Assert.EndsWith(".safetensors", file.Name, StringComparison.Ordinal));
        Assert.All(manifest.Files, file => Assert.Equal(file.Size, file.StoredSize));

        // A plain safetensors file, as a manager that does not compress writes it.
        var first = manifest.Files[0];
        var contents = SafetensorsCodec.Parse(await ReadAllAsync(root + "/step-00000004/" + first.Name), first.Name);
        Assert.Equal("4", contents.Metadata["step"]);
        using var loaded = await manager.LoadAsync(4);
        AssertSame(tensors, loaded);
    }

    [Fact]
    public async Task Chunks_that_do_not_shrink_are_stored_as_raw_frames_ending_on_a_page_beside_compressed_ones_and_load_back()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var options = SmallOptions(CheckpointCompression.Zstd);
        (options.ChunkSize, options.MaxFileSize) = (2 << 20, 64 << 20);
        await using var manager = new CheckpointManager(_fixture.Client, root, options);

        // 2 MiB chunks: the weights fill three chunks whole (level 1 would store them at 0.93 of their size). Each is
        // stored raw: its frame is a little larger than the chunk buffer, so its last bytes, and the skippable frame
        // that pads it to a page, are a second write. The compressible tensor fills the chunks after them.
        List<NamedTensor> tensors = [Weights("a.weights", (3 * 512 * 1024) + 100, 41), Compressible("b.runs", [1024, 1024], 42)];
        await (await manager.SaveAsync(7, tensors)).Completion.WaitAsync(TestTimeout);

        var manifest = await ReadManifestAsync(root + "/step-00000007");
        var file = Assert.Single(manifest.Files);
        var frames = file.Frames!;
        Assert.All(frames.Take(3), f => Assert.InRange(f.Length, ZstdChunkCodec.RawFrameLength(f.Size), ZstdChunkCodec.MaxFrameLength(f.Size)));
        Assert.All(frames.Take(3), f => Assert.Equal(0, (f.Offset + f.Length) % 4096));
        Assert.True(frames.Skip(4).All(f => f.Length < f.Size * 3 / 4), "the compressible chunks were not compressed");

        using (var loaded = await manager.LoadAsync(7))
        {
            AssertSame(tensors, loaded);
        }

        var stored = await ReadAllAsync(root + "/step-00000007/" + file.Name);
        using var plain = new MemoryStream();
        await using (var zstd = new ZstdSharp.DecompressionStream(new MemoryStream(stored)))
        {
            await zstd.CopyToAsync(plain);
        }

        Assert.Equal(file.Size, plain.Length);
        Assert.Equal(tensors[0].Data.ToArray(), SafetensorsCodec.Parse(plain.ToArray(), file.Name).Tensors.Single(t => t.Name == "a.weights").Data.ToArray());
    }

    [Fact]
    public async Task A_corrupt_compressed_chunk_fails_the_load_naming_the_file_and_chunk()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(CheckpointCompression.Zstd));
        await (await manager.SaveAsync(5, [Compressible("w", [512, 1024], seed: 2)])).Completion.WaitAsync(TestTimeout);
        var manifest = await ReadManifestAsync(root + "/step-00000005");
        var path = root + "/step-00000005/" + manifest.Files[0].Name;
        var frame = manifest.Files[0].Frames![2];
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open))
        {
            var bytes = new byte[1];
            await file.ReadAtAsync(frame.Offset + (frame.Length / 2), bytes);
            bytes[0] ^= 0x40;
            await file.WriteAtAsync(frame.Offset + (frame.Length / 2), bytes);
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => manager.LoadAsync(5));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("checksum mismatch in compressed chunk 2", error.Message, StringComparison.Ordinal);
        var into = new byte[512 * 1024 * 4];
        error = await Assert.ThrowsAsync<InvalidDataException>(() => manager.LoadAsync(5, new Dictionary<string, Memory<byte>> { ["w"] = into }));
        Assert.Contains("compressed chunk 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Plain_and_compressed_checkpoints_and_files_load_side_by_side()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var plain = new CheckpointManager(_fixture.Client, root, SmallOptions());
        await using var zstd = new CheckpointManager(_fixture.Client, root, SmallOptions(CheckpointCompression.Zstd));
        var first = Mixed(seed: 10);
        var second = Mixed(seed: 20);
        await (await plain.SaveAsync(1, first)).Completion.WaitAsync(TestTimeout);
        await (await zstd.SaveAsync(2, second)).Completion.WaitAsync(TestTimeout);

        // Whatever a manager writes, it reads both kinds.
        using (var loaded = await plain.LoadAsync(2))
        {
            AssertSame(second, loaded);
        }

        using (var loaded = await zstd.LoadAsync(1))
        {
            AssertSame(first, loaded);
        }

        // One checkpoint holding both kinds: rank 0 compresses, rank 1 does not.
        var runId = "run-" + Guid.NewGuid().ToString("N");
        var rank0Options = SmallOptions(CheckpointCompression.Zstd);
        (rank0Options.Rank, rank0Options.WorldSize, rank0Options.RunId) = (0, 2, runId);
        var rank1Options = SmallOptions();
        (rank1Options.Rank, rank1Options.WorldSize, rank1Options.RunId) = (1, 2, runId);
        await using var rank0 = new CheckpointManager(_fixture.Client, root, rank0Options);
        await using var rank1 = new CheckpointManager(_fixture.Client, root, rank1Options);
        List<NamedTensor> shard0 = [Compressible("r0.a", [700, 1024], 30), Random("r0.b", TensorDType.BF16, [100, 10], 31)];
        List<NamedTensor> shard1 = [Compressible("r1.a", [300, 1024], 32), Random("r1.b", TensorDType.U8, [12345], 33)];
        var saves = new[] { await rank1.SaveAsync(3, shard1), await rank0.SaveAsync(3, shard0) };
        await Task.WhenAll(saves.Select(s => s.Completion)).WaitAsync(TestTimeout);

        var manifest = await ReadManifestAsync(root + "/step-00000003");
        Assert.Contains(manifest.Files, f => f.IsCompressed && f.Rank == 0);
        Assert.Contains(manifest.Files, f => !f.IsCompressed && f.Rank == 1);
        using (var loaded = await plain.LoadAsync(3))
        {
            AssertSame([.. shard0, .. shard1], loaded);
        }

        var destinations = shard0.Concat(shard1).ToDictionary(t => t.Name, t => new Memory<byte>(new byte[t.Data.Length]));
        using (var loaded = await zstd.LoadAsync(3, destinations))
        {
            AssertSame([.. shard0, .. shard1], loaded);
        }
    }

    private async Task<CheckpointManifest> ReadManifestAsync(string directory) =>
        CheckpointManifest.Parse(await ReadAllAsync(directory + "/manifest.json"), directory);

    private async Task<byte[]> ReadAllAsync(string path)
    {
        await using var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read);
        var bytes = new byte[file.Length];
        Assert.Equal(bytes.Length, await file.ReadAtAsync(0, bytes));
        return bytes;
    }
}
