using System.Buffers.Binary;
using Lustre.Checkpoints;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace TorchSharpTraining;

/// <summary>
/// The training state a checkpoint holds, as named tensors: the module's parameters (<c>model.conv1.weight</c>, ...; its
/// state_dict) and, per parameter, Adam's two moment tensors and its step count (<c>optim.conv1.weight.exp_avg</c>,
/// <c>.exp_avg_sq</c>, <c>.step</c>). Saves read the tensors' own storage and loads write into it, so no copy is made here.
/// </summary>
internal sealed class TrainingCheckpoint
{
    private readonly List<(string Name, Tensor Tensor, TensorMemory Memory)> _tensors = [];
    private readonly List<(string Name, Adam.State State)> _steps = [];

    /// <param name="parameters">The module's named parameters, in the order they were given to <paramref name="optimizer"/>.</param>
    /// <param name="optimizer">The optimizer of those parameters.</param>
    public TrainingCheckpoint(IReadOnlyList<(string Name, Parameter Parameter)> parameters, Adam optimizer)
    {
        var states = optimizer.state_dict().State;
        if (states.Count != parameters.Count)
        {
            throw new ArgumentException($"The optimizer has state for {states.Count} parameters; the module has {parameters.Count}.", nameof(optimizer));
        }

        for (var i = 0; i < parameters.Count; i++)
        {
            var (name, parameter) = parameters[i];
            var state = (Adam.State)states[i];
            Add($"model.{name}", parameter);
            Add($"optim.{name}.exp_avg", state.exp_avg);
            Add($"optim.{name}.exp_avg_sq", state.exp_avg_sq);
            _steps.Add(($"optim.{name}.step", state));
        }
    }

    /// <summary>The bytes of every tensor together.</summary>
    public long Bytes => _tensors.Sum(t => t.Tensor.NumberOfElements * t.Tensor.ElementSize) + (_steps.Count * sizeof(long));

    /// <summary>The number of tensors a checkpoint holds.</summary>
    public int Count => _tensors.Count + _steps.Count;

    /// <summary>The tensors to save: views of the live storage (SaveAsync copies them before it returns).</summary>
    public IReadOnlyList<NamedTensor> Tensors()
    {
        var tensors = new List<NamedTensor>(Count);
        foreach (var (name, tensor, memory) in _tensors)
        {
            tensors.Add(new NamedTensor(name, TensorDType.F32, tensor.shape, memory.Memory));
        }

        foreach (var (name, state) in _steps)
        {
            tensors.Add(NamedTensor.FromValues<long>(name, TensorDType.I64, [], [state.step]));
        }

        return tensors;
    }

    /// <summary>
    /// Loads the newest committed checkpoint straight into the module's parameters and the optimizer's state. Each
    /// stored tensor's name, dtype and shape are checked against this model before any byte is read, so a checkpoint
    /// with other tensors or shapes fails without touching this model; one that lacks some of them fails after the load.
    /// </summary>
    /// <returns>The checkpoint (step and metadata); its tensors are this state's own memory.</returns>
    public async Task<Checkpoint> LoadLatestAsync(CheckpointManager manager, CancellationToken cancellationToken)
    {
        var destinations = new Dictionary<string, (TensorDType DType, long[] Shape, Memory<byte> Memory)>(StringComparer.Ordinal);
        foreach (var (name, tensor, memory) in _tensors)
        {
            destinations.Add(name, (TensorDType.F32, tensor.shape, memory.Memory));
        }

        var steps = new byte[_steps.Count * sizeof(long)];
        for (var i = 0; i < _steps.Count; i++)
        {
            destinations.Add(_steps[i].Name, (TensorDType.I64, [], steps.AsMemory(i * sizeof(long), sizeof(long))));
        }

        var found = 0;
        var checkpoint = await manager.LoadAsync(
            null,
            stored =>
            {
                if (!destinations.TryGetValue(stored.Name, out var destination))
                {
                    throw new InvalidDataException($"The checkpoint holds {stored}, which this model does not have.");
                }

                if (stored.DType != destination.DType || !stored.Shape.SequenceEqual(destination.Shape))
                {
                    throw new InvalidDataException($"The checkpoint holds {stored}; this model's {stored.Name} is {destination.DType.ToSafetensorsName()}[{string.Join(",", destination.Shape)}].");
                }

                found++;
                return destination.Memory;
            },
            cancellationToken);
        if (found != destinations.Count)
        {
            var missing = destinations.Keys.Except(checkpoint.Tensors.Select(t => t.Name)).ToList();
            var step = checkpoint.Step;
            checkpoint.Dispose();
            throw new InvalidDataException($"Checkpoint step {step} lacks {missing.Count} of this model's tensors: {string.Join(", ", missing)}.");
        }

        for (var i = 0; i < _steps.Count; i++)
        {
            _steps[i].State.step = BinaryPrimitives.ReadInt64LittleEndian(steps.AsSpan(i * sizeof(long)));
        }

        return checkpoint;
    }

    private void Add(string name, Tensor tensor)
    {
        if (tensor.device_type != TorchSharp.DeviceType.CPU || tensor.dtype != ScalarType.Float32 || !tensor.is_contiguous())
        {
            throw new ArgumentException($"{name} must be a contiguous float32 CPU tensor to be saved in place; it is {tensor.dtype} on {tensor.device}.", nameof(tensor));
        }

        _tensors.Add((name, tensor, new TensorMemory(tensor)));
    }
}
