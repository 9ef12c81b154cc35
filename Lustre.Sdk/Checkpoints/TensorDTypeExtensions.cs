namespace Lustre.Checkpoints;

/// <summary>Element sizes and <c>safetensors</c> names of <see cref="TensorDType"/> values.</summary>
public static class TensorDTypeExtensions
{
    /// <summary>Bytes per element.</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>1, 2, 4 or 8.</returns>
    public static int GetElementSize(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 or TensorDType.I64 or TensorDType.U64 => 8,
        TensorDType.F32 or TensorDType.I32 or TensorDType.U32 => 4,
        TensorDType.F16 or TensorDType.BF16 or TensorDType.I16 or TensorDType.U16 => 2,
        TensorDType.I8 or TensorDType.U8 or TensorDType.Bool or TensorDType.F8E4M3 or TensorDType.F8E5M2 => 1,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype."),
    };

    /// <summary>The name used in a <c>safetensors</c> header, such as <c>F32</c> or <c>F8_E4M3</c>.</summary>
    /// <param name="dtype">The element type.</param>
    /// <returns>The name.</returns>
    public static string ToSafetensorsName(this TensorDType dtype) => dtype switch
    {
        TensorDType.F64 => "F64",
        TensorDType.F32 => "F32",
        TensorDType.F16 => "F16",
        TensorDType.BF16 => "BF16",
        TensorDType.I64 => "I64",
        TensorDType.I32 => "I32",
        TensorDType.I16 => "I16",
        TensorDType.I8 => "I8",
        TensorDType.U8 => "U8",
        TensorDType.Bool => "BOOL",
        TensorDType.U16 => "U16",
        TensorDType.U32 => "U32",
        TensorDType.U64 => "U64",
        TensorDType.F8E4M3 => "F8_E4M3",
        TensorDType.F8E5M2 => "F8_E5M2",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype."),
    };

    /// <summary>
    /// The dtype's place in the reference implementation's <c>Dtype</c> enum, which is declared in increasing alignment
    /// order (BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64); its writer sorts
    /// tensors by this, descending, then by name, so every tensor's data is aligned to its element size.
    /// </summary>
    internal static int ReferenceOrder(this TensorDType dtype) => dtype switch
    {
        TensorDType.Bool => 0,
        TensorDType.U8 => 1,
        TensorDType.I8 => 2,
        TensorDType.F8E5M2 => 3,
        TensorDType.F8E4M3 => 4,
        TensorDType.I16 => 5,
        TensorDType.U16 => 6,
        TensorDType.F16 => 7,
        TensorDType.BF16 => 8,
        TensorDType.I32 => 9,
        TensorDType.U32 => 10,
        TensorDType.F32 => 11,
        TensorDType.F64 => 12,
        TensorDType.I64 => 13,
        TensorDType.U64 => 14,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a tensor dtype."),
    };

    /// <summary>Parses a <c>safetensors</c> dtype name (case-sensitive, as the format is).</summary>
    /// <param name="name">The name, such as <c>BF16</c>.</param>
    /// <param name="dtype">The element type when the name is known.</param>
    /// <returns>True when the name is a dtype this library knows.</returns>
    public static bool TryParseSafetensorsName(string name, out TensorDType dtype)
    {
        ArgumentNullException.ThrowIfNull(name);
        (var known, dtype) = name switch
        {
            "F64" => (true, TensorDType.F64),
            "F32" => (true, TensorDType.F32),
            "F16" => (true, TensorDType.F16),
            "BF16" => (true, TensorDType.BF16),
            "I64" => (true, TensorDType.I64),
            "I32" => (true, TensorDType.I32),
            "I16" => (true, TensorDType.I16),
            "I8" => (true, TensorDType.I8),
            "U8" => (true, TensorDType.U8),
            "BOOL" => (true, TensorDType.Bool),
            "U16" => (true, TensorDType.U16),
            "U32" => (true, TensorDType.U32),
            "U64" => (true, TensorDType.U64),
            "F8_E4M3" => (true, TensorDType.F8E4M3),
            "F8_E5M2" => (true, TensorDType.F8E5M2),
            _ => (false, default),
        };
        return known;
    }
}
