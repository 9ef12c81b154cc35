using System.Buffers;

namespace Lustre.Checkpoints;

/// <summary>
/// A loaded, verified checkpoint: its step, metadata and tensors. The tensors' bytes live in pooled memory that
/// <see cref="Dispose"/> returns, so copy what must outlive it.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    private readonly Dictionary<string, NamedTensor> _byName;
    private byte[][]? _buffers;

    internal Checkpoint(long step, IReadOnlyDictionary<string, string> metadata, IReadOnlyList<NamedTensor> tensors, byte[][] buffers)
    {
        Step = step;
        Metadata = metadata;
        Tensors = tensors;
        _buffers = buffers;
        _byName = new Dictionary<string, NamedTensor>(tensors.Count, StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            _byName.Add(tensor.Name, tensor);
            Bytes += tensor.Data.Length;
        }
    }

    /// <summary>The training step.</summary>
    public long Step { get; }

    /// <summary>The string metadata given to <see cref="CheckpointManager.SaveAsync"/> by rank 0.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>
    /// Every tensor of every rank, in file order, then the tensors saved as shards, each put together whole; or, from
    /// <see cref="CheckpointManager.LoadSlicesAsync"/>, the slices asked for.
    /// </summary>
    public IReadOnlyList<NamedTensor> Tensors { get; }

    /// <summary>The tensor bytes in total.</summary>
    public long Bytes { get; }

    /// <summary>The bytes a slice load read from the filesystem (headers included), so tests can see it read only what it needed.</summary>
    internal long BytesRead { get; init; }

    /// <summary>The tensor named <paramref name="name"/>.</summary>
    /// <param name="name">The name.</param>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public NamedTensor this[string name] =>
        _byName.TryGetValue(name, out var tensor) ? tensor : throw new KeyNotFoundException($"Checkpoint step {Step} has no tensor '{name}'.");

    /// <summary>Looks a tensor up by name.</summary>
    /// <param name="name">The name.</param>
    /// <param name="tensor">The tensor, when found.</param>
    /// <returns>True when found.</returns>
    public bool TryGetTensor(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NamedTensor? tensor) => _byName.TryGetValue(name, out tensor);

    /// <summary>Returns the pooled memory; the tensors' <see cref="NamedTensor.Data"/> must not be used afterwards.</summary>
    public void Dispose()
    {
        var buffers = Interlocked.Exchange(ref _buffers, null);
        if (buffers is not null)
        {
            CheckpointManager.ReturnLoadBuffers(buffers);
        }
    }

    internal static void Return(byte[][] buffers)
    {
        foreach (var buffer in buffers)
        {
            if (buffer is not null && buffer.Length <= CheckpointManager.MaxPooledLoadBuffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }
}
