using System.IO.Hashing;

namespace Lustre.Protocol;

/// <summary>
/// The checksum every bulk transfer carries. XXH3-64: the fastest per core of the candidates on this
/// hardware (docs/checksums.md has the measurement behind the choice).
/// </summary>
internal static class BulkChecksum
{
    public static ulong Compute(ReadOnlySpan<byte> data) => data.IsEmpty ? 0 : XxHash3.HashToUInt64(data);

    /// <summary>The checksum of the first <paramref name="count"/> bytes of <paramref name="segments"/> taken in order, as if they were one buffer.</summary>
    public static ulong Compute(Memory<byte>[] segments, int count, XxHash3 hasher)
    {
        if (count == 0)
        {
            return 0;
        }

        hasher.Reset();
        foreach (var segment in segments)
        {
            var take = Math.Min(count, segment.Length);
            hasher.Append(segment.Span[..take]);
            count -= take;
            if (count == 0)
            {
                break;
            }
        }

        return hasher.GetCurrentHashAsUInt64();
    }
}
