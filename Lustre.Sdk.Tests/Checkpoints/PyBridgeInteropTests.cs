using Lustre.Checkpoints;
using Lustre.Tests.Cluster;
using TorchSharp;
using TorchSharp.PyBridge;
using static Lustre.Tests.Checkpoints.CheckpointTestData;
using static TorchSharp.torch;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// Interop with TorchSharp.PyBridge, whose safetensors reader and writer are independent of ours: a checkpoint we write
/// loads into a TorchSharp module, and a file PyBridge writes (unpadded header, its own tensor order) loads here.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class PyBridgeInteropTests
{
    private readonly ClusterFixture _fixture;

    public PyBridgeInteropTests(ClusterFixture fixture) => _fixture = fixture;

    /// <summary>Linear layers (F32) and a BatchNorm (F32 statistics and an I64 scalar), with trained-looking statistics.</summary>
    private static nn.Module<Tensor, Tensor> Model(int seed)
    {
        manual_seed(seed);
        var model = nn.Sequential(("fc1", nn.Linear(8, 16)), ("bn", nn.BatchNorm1d(16)), ("fc2", nn.Linear(16, 4)));
        model.train();
        using (var input = randn(32, 8))
        using (model.call(input))
        {
            // One forward pass in training mode moves the running statistics and counts the batch.
        }

        return model;
    }

    private static TensorDType ToDType(ScalarType type) => type switch
    {
        ScalarType.Float32 => TensorDType.F32,
        ScalarType.Float64 => TensorDType.F64,
        ScalarType.Int64 => TensorDType.I64,
        _ => throw new NotSupportedException(type.ToString()),
    };

    private static byte[] Bytes(Tensor tensor) => tensor.contiguous().bytes.ToArray();

    [Fact]
    public async Task A_checkpoint_we_write_loads_into_a_TorchSharp_module_through_PyBridge()
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        using var source = Model(seed: 1);
        var state = source.state_dict();
        var tensors = state.Select(p => new NamedTensor(p.Key, ToDType(p.Value.dtype), p.Value.shape, Bytes(p.Value))).ToList();
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions());
        await (await manager.SaveAsync(10, tensors, new Dictionary<string, string> { ["format"] = "pt" })).Completion.WaitAsync(TestTimeout);

        using var target = Model(seed: 2);
        Assert.NotEqual(Bytes(state["fc1.weight"]), Bytes(target.state_dict()["fc1.weight"]));
        await using (var stream = await _fixture.Client.OpenStreamAsync(root + "/step-00000010/rank00000-00000.safetensors", FileMode.Open, FileAccess.Read))
        {
            var loaded = new Dictionary<string, bool>();
            target.load_safetensors(stream, strict: true, loadedParameters: loaded, leaveOpen: true);
            Assert.Equal(state.Keys.Order(StringComparer.Ordinal), loaded.Where(p => p.Value).Select(p => p.Key).Order(StringComparer.Ordinal));
        }

        var after = target.state_dict();
        Assert.Equal(state.Count, after.Count);
        foreach (var (name, expected) in state)
        {
            Assert.Equal(expected.dtype, after[name].dtype);
            Assert.Equal(expected.shape, after[name].shape);
            Assert.Equal(Bytes(expected), Bytes(after[name]));
        }

        Assert.Equal(1L, after["bn.num_batches_tracked"].item<long>());
    }

    [Fact]
    public async Task A_file_PyBridge_writes_opens_with_SafetensorsFile_and_loads_value_for_value()
    {
        var directory = await _fixture.NewDirectoryAsync();
        var path = directory + "/pybridge.safetensors";
        using var model = Model(seed: 3);
        await using (var stream = await _fixture.Client.OpenStreamAsync(path, FileMode.Create))
        {
            model.save_safetensors(stream, leaveOpen: true);
        }

        await using var file = await SafetensorsFile.OpenAsync(_fixture.Client, path);

        var state = model.state_dict();
        Assert.Equal(state.Keys.Order(StringComparer.Ordinal), file.Tensors.Select(t => t.Name).Order(StringComparer.Ordinal));
        foreach (var (name, expected) in state)
        {
            var tensor = await file.ReadAsync(name);
            Assert.Equal(ToDType(expected.dtype), tensor.DType);
            Assert.Equal(expected.shape, tensor.Shape);
            Assert.Equal(Bytes(expected), tensor.Data.ToArray());
        }

        // A slice of a PyBridge file: rows 4 to 7 of fc1.weight ([16, 8]).
        var rows = await file.ReadAsync("fc1.weight", new TensorSlice([4, 0], [4, 8]));
        using var expectedRows = state["fc1.weight"].narrow(0, 4, 4);
        Assert.Equal(Bytes(expectedRows), rows.Data.ToArray());
    }
}
