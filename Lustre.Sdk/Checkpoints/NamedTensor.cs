using System.Collections.ObjectModel;
using System.Globalization;

namespace Lustre.Checkpoints;

/// <summary>
/// A tensor as a checkpoint sees it, independent of any ML framework: a name, an element type, a shape and the
/// raw little-endian bytes in row-major order. The byte count always equals the element count times the element size.
/// A <see cref="Shard(string, TensorDType, ReadOnlySpan{long}, ReadOnlySpan{long}, ReadOnlySpan{long}, ReadOnlyMemory{byte})">shard</see>
/// is the block of a larger tensor that one rank holds (FSDP, tensor parallelism): its bytes are that block's, and it
/// knows the whole tensor's shape and where the block starts in it.
/// </summary>
public sealed class NamedTensor
{
    private readonly long[] _shape;
    private readonly long[] _globalShape;
    private readonly long[] _offsets;

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
        _globalShape = _shape;
        _offsets = new long[_shape.Length];
        GlobalShape = Shape;
        ShardOffsets = new ReadOnlyCollection<long>(_offsets);
    }

    private NamedTensor(string name, TensorDType dtype, ReadOnlySpan<long> globalShape, ReadOnlySpan<long> offsets, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data)
        : this(name, dtype, shape, data)
    {
        if (globalShape.Length != shape.Length || offsets.Length != shape.Length)
        {
            throw new ArgumentException(
                $"Shard of '{name}': the global shape [{string.Join(",", globalShape.ToArray())}] and the offsets [{string.Join(",", offsets.ToArray())}] must have one entry per dimension of the shard's shape [{string.Join(",", shape.ToArray())}].",
                nameof(offsets));
        }

        for (var i = 0; i < shape.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(globalShape[i], nameof(globalShape));
            ArgumentOutOfRangeException.ThrowIfNegative(offsets[i], nameof(offsets));
            if (offsets[i] > globalShape[i] - shape[i])
            {
                throw new ArgumentException(
                    $"Shard of '{name}': dimension {i} covers {offsets[i]} to {offsets[i] + shape[i]}, beyond the global shape [{string.Join(",", globalShape.ToArray())}].",
                    nameof(offsets));
            }
        }

        _globalShape = globalShape.ToArray();
        _offsets = offsets.ToArray();
        GlobalShape = new ReadOnlyCollection<long>(_globalShape);
        ShardOffsets = new ReadOnlyCollection<long>(_offsets);
        IsShard = true;
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

    /// <summary>
    /// True for a shard made by <see cref="Shard"/>: one block of the tensor <see cref="GlobalShape"/>, which other
    /// ranks hold the other blocks of. Saved by several ranks under one name, loaded on any number of ranks.
    /// </summary>
    public bool IsShard { get; }

    /// <summary>The shape of the whole tensor this is a shard of; <see cref="Shape"/> when it is not a shard.</summary>
    public IReadOnlyList<long> GlobalShape { get; }

    /// <summary>Where this shard starts in the whole tensor, in elements, one per dimension; zeros when it is not a shard.</summary>
    public IReadOnlyList<long> ShardOffsets { get; }

    /// <summary>The shape as a span.</summary>
    internal ReadOnlySpan<long> ShapeSpan => _shape;

    /// <summary>The global shape as a span.</summary>
    internal ReadOnlySpan<long> GlobalShapeSpan => _globalShape;

    /// <summary>The shard offsets as a span.</summary>
    internal ReadOnlySpan<long> ShardOffsetsSpan => _offsets;

    /// <summary>
    /// Creates a shard: the block of the tensor <paramref name="name"/> (of shape <paramref name="globalShape"/>) that
    /// starts at <paramref name="offsets"/> and has shape <paramref name="shape"/>, like a DCP chunk (offsets and
    /// sizes). Every rank that holds a block of the tensor saves its own shard under the same name; the blocks of all
    /// ranks must not overlap and must cover the tensor, which the commit checks. A load may ask for any slice of the
    /// tensor on any number of ranks.
    /// </summary>
    /// <param name="name">The tensor's name, the same on every rank.</param>
    /// <param name="dtype">The element type, the same on every rank.</param>
    /// <param name="globalShape">The whole tensor's dimensions, the same on every rank.</param>
    /// <param name="offsets">Where the block starts in each dimension of the whole tensor.</param>
    /// <param name="shape">The block's dimensions; <c>offsets[i] + shape[i]</c> is at most <c>globalShape[i]</c>.</param>
    /// <param name="data">The block's bytes, row-major within the block (not copied: a save copies them into staging memory).</param>
    /// <returns>The shard.</returns>
    /// <exception cref="ArgumentException">The ranks of the three shapes differ, the block lies outside the whole tensor, or the byte count does not match <paramref name="shape"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension or offset is negative.</exception>
    public static NamedTensor Shard(string name, TensorDType dtype, ReadOnlySpan<long> globalShape, ReadOnlySpan<long> offsets, ReadOnlySpan<long> shape, ReadOnlyMemory<byte> data) =>
        new(name, dtype, globalShape, offsets, shape, data);

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
    public override string ToString() => IsShard
        ? string.Create(CultureInfo.InvariantCulture, $"{Name} {DType.ToSafetensorsName()}[{string.Join(",", _shape)}] at [{string.Join(",", _offsets)}] of [{string.Join(",", _globalShape)}] ({Data.Length} bytes)")
        : string.Create(CultureInfo.InvariantCulture, $"{Name} {DType.ToSafetensorsName()}[{string.Join(",", _shape)}] ({Data.Length} bytes)");
}
