using System.Collections.ObjectModel;
using System.Globalization;

namespace Lustre.Checkpoints;

/// <summary>
/// A block of a tensor to read: where it starts in each dimension and how many elements it spans there, like
/// <c>tensor[o0:o0+s0, o1:o1+s1]</c> in Python or a DCP chunk's offsets and sizes. The block's bytes are returned
/// row-major within the block, as if it were a tensor of shape <see cref="Shape"/>.
/// </summary>
public sealed class TensorSlice
{
    private readonly long[] _offsets;
    private readonly long[] _shape;

    /// <summary>Creates a slice.</summary>
    /// <param name="offsets">Where the block starts, one entry per dimension of the tensor.</param>
    /// <param name="shape">How many elements the block spans in each dimension.</param>
    /// <exception cref="ArgumentException">The two have different lengths.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An offset or a dimension is negative.</exception>
    public TensorSlice(ReadOnlySpan<long> offsets, ReadOnlySpan<long> shape)
    {
        if (offsets.Length != shape.Length)
        {
            throw new ArgumentException($"A slice needs one offset per dimension: {offsets.Length} offsets for {shape.Length} dimensions.", nameof(offsets));
        }

        long count = 1;
        for (var i = 0; i < shape.Length; i++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(offsets[i], nameof(offsets));
            ArgumentOutOfRangeException.ThrowIfNegative(shape[i], nameof(shape));
            count = checked(count * shape[i]);
        }

        _offsets = offsets.ToArray();
        _shape = shape.ToArray();
        Offsets = new ReadOnlyCollection<long>(_offsets);
        Shape = new ReadOnlyCollection<long>(_shape);
        ElementCount = count;
    }

    /// <summary>Where the block starts in each dimension.</summary>
    public IReadOnlyList<long> Offsets { get; }

    /// <summary>The block's dimensions.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>The number of elements in the block.</summary>
    public long ElementCount { get; }

    internal ReadOnlySpan<long> OffsetsSpan => _offsets;

    internal ReadOnlySpan<long> ShapeSpan => _shape;

    /// <summary>The slice of a tensor of <paramref name="shape"/> that is the whole tensor.</summary>
    /// <param name="shape">The tensor's shape.</param>
    /// <returns>Offsets 0, the whole shape.</returns>
    public static TensorSlice Whole(ReadOnlySpan<long> shape) => new(new long[shape.Length], shape);

    /// <summary>Throws unless this slice lies within a tensor of <paramref name="shape"/>.</summary>
    internal void CheckWithin(string tensor, ReadOnlySpan<long> shape, string parameter)
    {
        var fits = shape.Length == _shape.Length;
        for (var i = 0; fits && i < shape.Length; i++)
        {
            fits = _offsets[i] <= shape[i] - _shape[i];
        }

        if (!fits)
        {
            throw new ArgumentException($"Slice {this} does not lie within tensor '{tensor}' of shape [{string.Join(",", shape.ToArray())}].", parameter);
        }
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var parts = new string[_shape.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = string.Create(CultureInfo.InvariantCulture, $"{_offsets[i]}:{_offsets[i] + _shape[i]}");
        }

        return "[" + string.Join(", ", parts) + "]";
    }
}
