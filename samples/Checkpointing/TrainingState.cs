using System.Numerics;
using System.Runtime.InteropServices;
using Lustre.Checkpoints;

namespace Checkpointing;

/// <summary>
/// A model-shaped set of float tensors whose value at step s is known exactly: element i of tensor t is
/// <c>(i * 31 + t * 7) % 1024 + s</c>, reached by adding 1 to every element once per step. So a resumed run, and
/// the crash test, can check a loaded checkpoint byte for byte against <see cref="Expected"/>.
/// </summary>
public sealed class TrainingState
{
    private static readonly double[] Shares = [0.40, 0.25, 0.15, 0.10, 0.07, 0.03];
    private readonly float[][] _weights;
    private readonly long[] _step = new long[1];

    public TrainingState(long totalBytes)
    {
        var floats = totalBytes / sizeof(float);
        _weights = [.. Shares.Select(share => new float[Math.Max(1, (long)(floats * share) / 1024) * 1024])];
        Reset(0);
    }

    public long Step => _step[0];

    public long Bytes => _weights.Sum(w => (long)w.Length * sizeof(float)) + sizeof(long);

    /// <summary>The tensors as a checkpoint sees them; they alias this state's arrays (SaveAsync copies them).</summary>
    public IReadOnlyList<NamedTensor> Tensors()
    {
        var tensors = new List<NamedTensor>();
        for (var t = 0; t < _weights.Length; t++)
        {
            tensors.Add(new NamedTensor($"layers.{t}.weight", TensorDType.F32, [_weights[t].Length / 1024, 1024], AsBytes(_weights[t])));
        }

        tensors.Add(new NamedTensor("step", TensorDType.I64, [], AsBytes(_step)));
        return tensors;
    }

    /// <summary>One "training step": every weight moves (by exactly 1).</summary>
    public void TrainStep()
    {
        var one = new Vector<float>(1f);
        foreach (var weights in _weights)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(weights.AsSpan());
            for (var i = 0; i < vectors.Length; i++)
            {
                vectors[i] += one;
            }

            for (var i = vectors.Length * Vector<float>.Count; i < weights.Length; i++)
            {
                weights[i] += 1f;
            }
        }

        _step[0]++;
    }

    /// <summary>Sets the state to what it is at <paramref name="step"/>.</summary>
    public void Reset(long step)
    {
        for (var t = 0; t < _weights.Length; t++)
        {
            Expected(t, step, _weights[t]);
        }

        _step[0] = step;
    }

    /// <summary>Takes a loaded checkpoint's tensors, after checking them byte for byte against the known values.</summary>
    public void Restore(Checkpoint checkpoint)
    {
        var problem = Verify(checkpoint);
        if (problem is not null)
        {
            throw new InvalidDataException(problem);
        }

        for (var t = 0; t < _weights.Length; t++)
        {
            checkpoint[$"layers.{t}.weight"].Data.Span.CopyTo(MemoryMarshal.AsBytes(_weights[t].AsSpan()));
        }

        _step[0] = checkpoint.Step;
    }

    /// <summary>Null when the checkpoint holds exactly the state of its step; else what differs.</summary>
    public string? Verify(Checkpoint checkpoint)
    {
        if (checkpoint.Tensors.Count != _weights.Length + 1)
        {
            return $"step {checkpoint.Step}: {checkpoint.Tensors.Count} tensors, expected {_weights.Length + 1}";
        }

        if (MemoryMarshal.Read<long>(checkpoint["step"].Data.Span) != checkpoint.Step)
        {
            return $"step {checkpoint.Step}: the step tensor says {MemoryMarshal.Read<long>(checkpoint["step"].Data.Span)}";
        }

        for (var t = 0; t < _weights.Length; t++)
        {
            var expected = new float[_weights[t].Length];
            Expected(t, checkpoint.Step, expected);
            if (!checkpoint[$"layers.{t}.weight"].Data.Span.SequenceEqual(MemoryMarshal.AsBytes(expected.AsSpan())))
            {
                return $"step {checkpoint.Step}: layers.{t}.weight differs from the state of that step";
            }
        }

        return null;
    }

    private static void Expected(int tensor, long step, Span<float> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = ((i * 31) + (tensor * 7)) % 1024 + step;
        }
    }

    private static Memory<byte> AsBytes<T>(T[] array)
        where T : unmanaged => new ByteMemory<T>(array).Memory;

    /// <summary>A byte view of a typed array without copying it.</summary>
    private sealed class ByteMemory<T>(T[] array) : System.Buffers.MemoryManager<byte>
        where T : unmanaged
    {
        public override Span<byte> GetSpan() => MemoryMarshal.AsBytes(array.AsSpan());

        // Checkpoint saves only copy from the span; nothing here hands this memory to native code.
        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => throw new NotSupportedException();

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
