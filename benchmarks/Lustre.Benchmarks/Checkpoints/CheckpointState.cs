using System.Runtime.InteropServices;
using Lustre.Checkpoints;

namespace Lustre.Benchmarks.Checkpoints;

/// <summary>
/// A model-like state: F32 tensors of mixed sizes (256 MiB down to 4 KiB, repeating) holding normally distributed
/// values (σ = 0.02, like initialised weights), so zstd sees what it would see on real weights: little to gain.
/// The values come from one 16 MiB pool copied at random offsets, which is fast to build and, being longer than
/// a chunk, gives zstd no repeats to find inside one frame.
/// </summary>
internal sealed class CheckpointState
{
    private static readonly int[] Sizes = [256 << 20, 64 << 20, 16 << 20, 4 << 20, 1 << 20, 256 << 10, 64 << 10, 4 << 10];

    private CheckpointState(List<NamedTensor> tensors, long bytes)
    {
        Tensors = tensors;
        Bytes = bytes;
    }

    public List<NamedTensor> Tensors { get; }

    public long Bytes { get; }

    public static CheckpointState Create(long size, int seed)
    {
        var random = new Random(seed);
        var pool = new float[4 << 20];
        for (var i = 0; i < pool.Length; i += 2)
        {
            // Box–Muller: two normal values per pair of uniforms.
            var radius = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * 0.02;
            var angle = 2 * Math.PI * random.NextDouble();
            pool[i] = (float)(radius * Math.Cos(angle));
            pool[i + 1] = (float)(radius * Math.Sin(angle));
        }

        var poolBytes = MemoryMarshal.AsBytes(pool.AsSpan());
        var tensors = new List<NamedTensor>();
        long total = 0;
        for (var i = 0; total < size; i++)
        {
            var bytes = (int)Math.Min(Sizes[i % Sizes.Length], size - total);
            bytes -= bytes % 4;
            if (bytes == 0)
            {
                break;
            }

            var data = GC.AllocateUninitializedArray<byte>(bytes);
            for (var at = 0; at < bytes;)
            {
                var from = random.Next(poolBytes.Length / 4) * 4;
                var take = Math.Min(bytes - at, poolBytes.Length - from);
                poolBytes.Slice(from, take).CopyTo(data.AsSpan(at));
                at += take;
            }

            tensors.Add(new NamedTensor($"layers.{i / Sizes.Length}.w{i % Sizes.Length}", TensorDType.F32, [bytes / 4], data));
            total += bytes;
        }

        return new CheckpointState(tensors, total);
    }

    /// <summary>One destination array per tensor, touched so that page faults are not measured as copy or load time.</summary>
    public Dictionary<string, Memory<byte>> NewDestinations()
    {
        var destinations = new Dictionary<string, Memory<byte>>(StringComparer.Ordinal);
        foreach (var tensor in Tensors)
        {
            var array = GC.AllocateUninitializedArray<byte>(tensor.Data.Length);
            array.AsSpan().Fill(0x5A);
            destinations[tensor.Name] = array;
        }

        return destinations;
    }

    public bool Matches(IReadOnlyDictionary<string, Memory<byte>> loaded)
    {
        foreach (var tensor in Tensors)
        {
            if (!tensor.Data.Span.SequenceEqual(loaded[tensor.Name].Span))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The tensors packed into files the way the checkpoint manager packs them: a new file after <paramref name="maxFileSize"/> bytes.</summary>
    public List<List<NamedTensor>> Files(long maxFileSize)
    {
        var files = new List<List<NamedTensor>> { new() };
        long size = 0;
        foreach (var tensor in Tensors)
        {
            if (files[^1].Count > 0 && size + tensor.Data.Length > maxFileSize)
            {
                files.Add([]);
                size = 0;
            }

            files[^1].Add(tensor);
            size += tensor.Data.Length;
        }

        return files;
    }
}
