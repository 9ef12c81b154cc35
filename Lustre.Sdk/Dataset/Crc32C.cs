using System.Buffers.Binary;
using System.Numerics;

namespace Lustre.Dataset;

/// <summary>CRC-32C (Castagnoli) and TFRecord's masked form of it.</summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data)
    {
        var crc = ~0u;
        while (data.Length >= 8)
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[8..];
        }

        foreach (var b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return ~crc;
    }

    /// <summary>TFRecord's mask, so a CRC of data that contains CRCs stays strong: rotate right by 15, add a constant.</summary>
    public static uint Mask(uint crc) => ((crc >> 15) | (crc << 17)) + 0xa282ead8u;

    public static uint Masked(ReadOnlySpan<byte> data) => Mask(Compute(data));
}
