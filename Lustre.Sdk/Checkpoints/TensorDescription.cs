using System.Collections.ObjectModel;
using System.Globalization;

namespace Lustre.Checkpoints;

/// <summary>
/// A tensor of a stored checkpoint before its bytes are read: what a destination callback of
/// <see cref="CheckpointManager.LoadAsync(long?, Func{TensorDescription, Memory{byte}?}, CancellationToken)"/> is shown
/// to choose (or allocate) where the bytes go, or a tensor of a <see cref="SafetensorsFile"/>. A tensor saved as shards
/// is described whole: its global shape and the byte count of all of it.
/// </summary>
public sealed class TensorDescription
{
    internal TensorDescription(string name, TensorDType dtype, long[] shape, long byteCount)
    {
        Name = name;
        DType = dtype;
        Shape = new ReadOnlyCollection<long>(shape);
        ByteCount = byteCount;
    }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public TensorDType DType { get; }

    /// <summary>The dimensions; empty for a scalar.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The byte count a destination must have exactly: the element count times the element size.</summary>
    public long ByteCount { get; }

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name} {DType.ToSafetensorsName()}[{string.Join(",", Shape)}] ({ByteCount} bytes)");
}
