using System.Buffers;

namespace Lustre.Protocol;

/// <summary>
/// Buffers for bulk data. Bulk payloads are large (up to 16 MiB) and dozens are in flight at once; the shared
/// <see cref="ArrayPool{T}.Shared"/> keeps only a few arrays of a size per core and otherwise allocates new ones
/// on the large object heap (measured: ~400 KB allocated per MiB read). This pool keeps up to 128 arrays of each
/// size: eight streams reading ahead or writing behind their default 128 MiB in 16 MiB chunks hold 72 at once, and
/// with 48 (the earlier bound) every chunk past the 48th was a new array and every one returned past it garbage
/// (io500's ior-easy-read through eight streams: 82–95 KB allocated per MiB read; a rewrite 83–263 KB per MiB). It holds
/// no more than was out at once.
/// </summary>
internal static class BulkPool
{
    public static ArrayPool<byte> Shared { get; } = ArrayPool<byte>.Create(ProtocolLimits.MaxBulkLength, maxArraysPerBucket: 128);

    /// <summary>Returns <paramref name="buffer"/> to <see cref="Shared"/> once <paramref name="fill"/> has finished: a read ahead may still be receiving into it.</summary>
    public static void ReturnWhenDone(Task fill, byte[] buffer)
    {
        if (fill.IsCompleted)
        {
            Shared.Return(buffer);
        }
        else
        {
            fill.ContinueWith(static (_, state) => Shared.Return((byte[])state!), buffer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }
}
