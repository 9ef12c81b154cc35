using System.Collections.ObjectModel;
using System.Globalization;

namespace Lustre.Checkpoints;

/// <summary>
/// A tensor as a checkpoint sees it, independent of any ML framework: a name, an element type, a shape and the
/// raw little-endian bytes in row-major order. The byte count always equals the element count times the element size.
/// </summary>
public sealed class NamedTensor
{
    private readonly long[] _shape;

    /// <summary>Creates a tensor over <paramref name="data"/> (not copied: a save copies it into staging memory).</summary>
    /// <param name="name">A non-empty name, unique within a checkpoint; <c>__metadata__</c> is reserved.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions, each zero or more; empty for a scalar (one element).</param>
    /// <param name="data">The bytes: exactly the element count times the element size.</param>
    /// <exception cref="ArgumentException">The name is empty or reserved, or the byte count does not match the shape.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    public NamedTensor(string name, TensorDType dtype, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (name == SafetensorsCodec.MetadataKey)
        {
            throw new ArgumentException($"'{SafetensorsCodec.MetadataKey}' is reserved for metadata in safetensors files.", nameof(name));
        }

        var elementSize = dtype.GetElementSize();
        long count = 1;
        foreach (var dimension in shape)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(dimension, nameof(shape));
            count = checked(count * dimension);
        }

        if (checked(count * elementSize) != data.Length)
        {
            throw new ArgumentException(
                $"Tensor '{name}': shape [{string.Join(",", shape.ToArray())}] of {dtype.ToSafetensorsName()} needs {count} × {elementSize} = {count * elementSize} bytes, but {data.Length} were given.",
                nameof(data));
        }

        Name = name;
        DType = dtype;
        _shape = shape.ToArray();
        Shape = new ReadOnlyCollection<long>(_shape);
        ElementCount = count;
        Data = data;
    }

    /// <summary>The name.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public TensorDType DType { get; }

    /// <summary>The dimensions; empty for a scalar.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The number of elements: the product of the dimensions (1 for a scalar, 0 when a dimension is 0).</summary>
    public long ElementCount { get; }

    /// <summary>The raw bytes, little-endian, row-major.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>The shape as a span.</summary>
    internal ReadOnlySpan<long> ShapeSpan => _shape;

    /// <summary>Creates a tensor from a span of unmanaged values (the bytes are copied once, here).</summary>
    /// <typeparam name="T">An unmanaged element type whose size matches <paramref name="dtype"/>.</typeparam>
    /// <param name="name">The name.</param>
    /// <param name="dtype">The element type.</param>
    /// <param name="shape">The dimensions.</param>
    /// <param name="values">The elements, row-major.</param>
    /// <returns>The tensor, owning a new array.</returns>
    public static NamedTensor FromValues<T>(string name, TensorDType dtype, ReadOnlySpan<long> shape, ReadOnlySpan<T> values)
        where T : unmanaged =>
        new(name, dtype, shape, System.Runtime.InteropServices.MemoryMarshal.AsBytes(values).ToArray());

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Name} {DType.ToSafetensorsName()}[{string.Join(",", _shape)}] ({Data.Length} bytes)");
}
