using System.Buffers;

namespace Lustre.Protocol;

/// <summary>
/// Buffers for bulk data. Bulk payloads are large (up to 16 MiB) and dozens are in flight at once; the shared
/// <see cref="ArrayPool{T}.Shared"/> keeps only a few arrays of a size per core and otherwise allocates new ones
/// on the large object heap (measured: ~400 KB allocated per MiB read). This pool keeps enough of each size for
/// a full RPC window of every connection of a busy node.
/// </summary>
internal static class BulkPool
{
    public static ArrayPool<byte> Shared { get; } = ArrayPool<byte>.Create(ProtocolLimits.MaxBulkLength, maxArraysPerBucket: 48);
}
