using System.Runtime.InteropServices;
using Lustre.Checkpoints;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>Loading into caller-provided buffers: by dictionary and by callback, plain and compressed, subsets, and mismatched destinations.</summary>
[Collection(ClusterCollection.Name)]
public sealed class CheckpointLoadIntoTests
{
    private readonly ClusterFixture _fixture;

    public CheckpointLoadIntoTests(ClusterFixture fixture) => _fixture = fixture;

    [Theory]
    [InlineData(CheckpointCompression.None)]
    [InlineData(CheckpointCompression.Zstd)]
    public async Task Load_into_caller_buffers_fills_exactly_them_with_the_saved_bytes(CheckpointCompression compression)
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = Mixed(seed: 5);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(compression));
        await (await manager.SaveAsync(1, tensors, new Dictionary<string, string> { ["k"] = "v" })).Completion.WaitAsync(TestTimeout);
        var buffers = tensors.ToDictionary(t => t.Name, t => new byte[t.Data.Length]);

        using var loaded = await manager.LoadAsync(1, buffers.ToDictionary(b => b.Key, b => new Memory<byte>(b.Value)));

        Assert.Equal("v", loaded.Metadata["k"]);
        AssertSame(tensors, loaded);
        foreach (var tensor in loaded.Tensors)
        {
            // The tensors returned are the caller's memory, not copies.
            Assert.True(MemoryMarshal.TryGetArray(tensor.Data, out var segment));
            Assert.Same(buffers[tensor.Name], segment.Array);
        }
    }

    [Fact]
    public async Task Load_into_a_subset_reads_only_those_tensors_and_leaves_memory_outside_them_alone()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = Mixed(seed: 6);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        await (await manager.SaveAsync(1, tensors)).Completion.WaitAsync(TestTimeout);
        var wanted = tensors.Where(t => t.Name is "t.F16" or "random" or "large").ToList();
        // Each destination sits in the middle of a larger array whose edges must stay untouched.
        var arrays = wanted.ToDictionary(t => t.Name, t => Enumerable.Repeat((byte)0xCC, t.Data.Length + 64).ToArray());

        using var loaded = await manager.LoadAsync(1, arrays.ToDictionary(a => a.Key, a => a.Value.AsMemory(32, a.Value.Length - 64)));

        AssertSame(wanted, loaded);
        Assert.All(arrays.Values, a => Assert.True(a.AsSpan(0, 32).IndexOfAnyExcept((byte)0xCC) < 0 && a.AsSpan(a.Length - 32).IndexOfAnyExcept((byte)0xCC) < 0));
    }

    [Fact]
    public async Task A_callback_sees_dtype_and_shape_chooses_destinations_and_may_skip()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = Mixed(seed: 7);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(CheckpointCompression.Zstd));
        await (await manager.SaveAsync(4, tensors)).Completion.WaitAsync(TestTimeout);
        var seen = new List<TensorDescription>();

        using var loaded = await manager.LoadAsync(null, description =>
        {
            seen.Add(description);
            return description.DType == TensorDType.F32 ? new byte[description.ByteCount] : (Memory<byte>?)null;
        });

        Assert.Equal(tensors.Count, seen.Count);
        foreach (var tensor in tensors)
        {
            var description = seen.Single(d => d.Name == tensor.Name);
            Assert.Equal(tensor.DType, description.DType);
            Assert.Equal(tensor.Shape, description.Shape);
            Assert.Equal(tensor.Data.Length, description.ByteCount);
        }

        AssertSame([.. tensors.Where(t => t.DType == TensorDType.F32)], loaded);
        Assert.Equal(4, loaded.Step);
    }

    [Fact]
    public async Task Mismatched_destinations_fail_clearly_before_any_byte_is_written()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        var tensors = Mixed(seed: 8);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        await (await manager.SaveAsync(1, tensors)).Completion.WaitAsync(TestTimeout);
        var good = new byte[tensors.Single(t => t.Name == "random").Data.Length];

        // F32 [200,1000] read as if it were F16: half the bytes.
        var error = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadAsync(1, new Dictionary<string, Memory<byte>>
        {
            ["random"] = good,
            ["large"] = new byte[1280 * 1024 * 2],
        }));
        Assert.Equal("destinations", error.ParamName);
        Assert.Contains("'large'", error.Message, StringComparison.Ordinal);
        Assert.Contains("F32[1280,1024] = 5242880 bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("holds 2621440", error.Message, StringComparison.Ordinal);
        Assert.True(good.AsSpan().IndexOfAnyExcept((byte)0) < 0, "a destination was written although the load was refused");

        error = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadAsync(1, new Dictionary<string, Memory<byte>> { ["random"] = good, ["nope"] = new byte[4] }));
        Assert.Contains("no tensor named 'nope'", error.Message, StringComparison.Ordinal);
        Assert.True(good.AsSpan().IndexOfAnyExcept((byte)0) < 0);

        await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadAsync(1, d => d.Name == "scalar" ? new byte[4] : (Memory<byte>?)null));

        // The trap of a null array: it converts to empty memory, and the message says how to skip instead.
        error = await Assert.ThrowsAsync<ArgumentException>(() => manager.LoadAsync(1, d => d.Name == "random" ? good : null));
        Assert.Contains("return null as a Memory<byte>?", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_corrupted_chunk_fails_a_load_into_buffers_too()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        var tensor = Random("w", TensorDType.F32, [300_000], seed: 9);
        await (await manager.SaveAsync(5, [tensor])).Completion.WaitAsync(TestTimeout);
        var path = root + "/step-00000005/rank00000-00000.safetensors";
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open))
        {
            await file.WriteAtAsync(700_000, new byte[] { 0x55 });
        }

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => manager.LoadAsync(5, new Dictionary<string, Memory<byte>> { ["w"] = new byte[1_200_000] }));
        Assert.Contains("checksum mismatch in chunk 2", error.Message, StringComparison.Ordinal);
    }
}
