using Lustre.Checkpoints;

namespace Lustre.Tests.Checkpoints;

/// <summary>Tensors and options shared by the checkpoint tests that came after <see cref="CheckpointManagerTests"/>.</summary>
internal static class CheckpointTestData
{
    public static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Small chunks and files so a few MiB already exercise many chunks and several files.</summary>
    public static CheckpointManagerOptions SmallOptions(CheckpointCompression compression = CheckpointCompression.None) => new()
    {
        Rank = 0,
        WorldSize = 1,
        RunId = null,
        ChunkSize = 256 << 10,
        MaxFileSize = 4 << 20,
        StagingBudget = 64L << 20,
        KeepLast = 0,
        Compression = compression,
        DataLayout = Lustre.Layouts.FileLayout.Raid0(64 << 10, stripeCount: -1),
    };

    public static NamedTensor Random(string name, TensorDType dtype, long[] shape, int seed)
    {
        var data = new byte[ByteCount(dtype, shape)];
        new Random(seed).NextBytes(data);
        return new NamedTensor(name, dtype, shape, data);
    }

    /// <summary>Floats like trained weights: normally distributed around 0 (σ 0.02), which zstd level 1 stores at about 0.93 of their size.</summary>
    public static NamedTensor Weights(string name, int count, int seed)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (float)(0.02 * Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Sin(2 * Math.PI * random.NextDouble()));
        }

        return NamedTensor.FromValues(name, TensorDType.F32, [count], values.AsSpan());
    }

    /// <summary>Floats that zstd shrinks: a few distinct values in runs, like a freshly initialised or quantised layer.</summary>
    public static NamedTensor Compressible(string name, long[] shape, int seed)
    {
        var random = new Random(seed);
        var values = new float[ByteCount(TensorDType.F32, shape) / 4];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = (i / 64 % 7) * 0.25f + (random.Next(4) == 0 ? 1 : 0);
        }

        return NamedTensor.FromValues(name, TensorDType.F32, shape, values.AsSpan());
    }

    /// <summary>Every dtype, a scalar, an empty tensor, tiny tensors sharing chunks, tensors spanning chunks and one larger than a file.</summary>
    public static List<NamedTensor> Mixed(int seed)
    {
        var tensors = new List<NamedTensor>();
        foreach (var dtype in Enum.GetValues<TensorDType>())
        {
            tensors.Add(Random("t." + dtype.ToSafetensorsName(), dtype, [3, 5], seed++));
        }

        tensors.Add(Random("scalar", TensorDType.F64, [], seed++));
        tensors.Add(Random("empty", TensorDType.BF16, [0, 7], seed++));
        tensors.Add(Compressible("compressible", [300, 1024], seed++));
        tensors.Add(Random("random", TensorDType.F32, [200, 1000], seed++));
        // Larger than MaxFileSize (4 MiB): a file of its own.
        tensors.Add(Compressible("large", [1280, 1024], seed++));
        tensors.Add(Random("tail", TensorDType.I64, [1000], seed));
        return tensors;
    }

    public static void AssertSame(IReadOnlyList<NamedTensor> expected, Checkpoint actual)
    {
        Assert.Equal(expected.Count, actual.Tensors.Count);
        foreach (var tensor in expected)
        {
            var loaded = actual[tensor.Name];
            Assert.Equal(tensor.DType, loaded.DType);
            Assert.Equal(tensor.Shape, loaded.Shape);
            Assert.True(tensor.Data.Span.SequenceEqual(loaded.Data.Span), $"tensor {tensor.Name} differs");
        }
    }

    private static long ByteCount(TensorDType dtype, long[] shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count *= d;
        }

        return count * dtype.GetElementSize();
    }
}
