using System.IO.Hashing;

namespace Lustre.Protocol;

/// <summary>
/// The checksum every bulk transfer carries. XXH3-64: the fastest per core of the candidates on this
/// hardware (docs/checksums.md has the measurement behind the choice).
/// </summary>
internal static class BulkChecksum
{
    public static ulong Compute(ReadOnlySpan<byte> data) => data.IsEmpty ? 0 : XxHash3.HashToUInt64(data);
}
