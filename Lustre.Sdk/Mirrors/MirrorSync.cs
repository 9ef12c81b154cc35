using System.Buffers;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Mirrors;

/// <summary>
/// Resync and verify of mirrored files (<c>lfs mirror resync</c>, <c>lfs mirror verify</c>), done by a client: it
/// copies the file from its in-sync mirrors to its stale ones, then asks the MDS to mark them in sync, which it does
/// only if the layout did not change and no one opened the file for writing meanwhile.
/// </summary>
internal static class MirrorSync
{
    /// <summary>Bytes per copy or compare step.</summary>
    internal const int BlockSize = 4 << 20;

    /// <summary>Steps in flight at once.</summary>
    private const int Parallelism = 4;

    /// <summary>Copies the file to each stale mirror and marks it in sync; returns the mirrors resynced (none when none was stale).</summary>
    public static async Task<IReadOnlyList<int>> ResyncAsync(FilesystemSession session, string path, InodeAttributes attributes, CancellationToken cancellationToken)
    {
        var file = new LustreFile(session, path, attributes, writable: false);
        var layout = file.Layout;
        if (!layout.IsMirrored || !layout.Mirrors.Any(m => m.IsStale))
        {
            return [];
        }

        if ((attributes.Flags & InodeFlags.OpenForWrite) != 0)
        {
            throw new LustreException($"{path} is open for writing: resync it once every writer has closed it", LustreErrno.EBUSY, isTransient: true);
        }

        await session.EnsureOstsKnownAsync(layout, cancellationToken).ConfigureAwait(false);
        var size = Math.Max(attributes.Size, await StripedIo.GlimpseAsync(session, path, layout, cancellationToken).ConfigureAwait(false));
        var generation = layout.Generation;
        var resynced = new List<int>();
        foreach (var stale in layout.Mirrors.Where(m => m.IsStale))
        {
            // Empty first, so bytes the mirror held from before cannot show through the holes the copy skips.
            await StripedIo.PunchLayoutAsync(file, stale.Layout, 0, cancellationToken).ConfigureAwait(false);
            await StripedIo.PunchLayoutAsync(file, stale.Layout, size, cancellationToken).ConfigureAwait(false);
            await ForEachBlockAsync(size, async (offset, length, token) =>
            {
                var buffer = ArrayPool<byte>.Shared.Rent(length);
                try
                {
                    var block = buffer.AsMemory(0, length);
                    await StripedIo.ReadAsync(file, offset, block, verifiedByCaller: false, token).ConfigureAwait(false);
                    if (block.Span.ContainsAnyExcept((byte)0))
                    {
                        await StripedIo.WriteLayoutAsync(file, stale.Layout, offset, block, token).ConfigureAwait(false);
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }, cancellationToken).ConfigureAwait(false);
            await StripedIo.SyncAsync(file, [.. stale.Layout.AllObjects()], cancellationToken).ConfigureAwait(false);

            var synced = await session.MirrorAsync(new MirrorRequest(attributes.Fid, MirrorOperation.MarkSynced, stale.Id, generation, []), path, cancellationToken).ConfigureAwait(false);
            generation = LayoutCodec.Decode(synced.Layout).Generation;
            resynced.Add(stale.Id);
        }

        return resynced;
    }

    /// <summary>Reads every in-sync mirror whole and compares each with the first.</summary>
    public static async Task<MirrorVerifyResult> VerifyAsync(FilesystemSession session, string path, InodeAttributes attributes, CancellationToken cancellationToken)
    {
        var file = new LustreFile(session, path, attributes, writable: false);
        var layout = file.Layout;
        var mirrors = layout.IsMirrored ? layout.Mirrors.Where(m => !m.IsStale).ToArray() : [];
        if (mirrors.Length < 2)
        {
            return new MirrorVerifyResult(path, attributes.Size, [.. mirrors.Select(m => m.Id)], []);
        }

        await session.EnsureOstsKnownAsync(layout, cancellationToken).ConfigureAwait(false);
        var size = Math.Max(attributes.Size, await StripedIo.GlimpseAsync(session, path, layout, cancellationToken).ConfigureAwait(false));
        var first = new long[mirrors.Length];
        var last = new long[mirrors.Length];
        Array.Fill(first, -1);
        var gate = new Lock();
        await ForEachBlockAsync(size, async (offset, length, token) =>
        {
            var buffers = new byte[mirrors.Length][];
            try
            {
                for (var m = 0; m < mirrors.Length; m++)
                {
                    buffers[m] = ArrayPool<byte>.Shared.Rent(length);
                    await StripedIo.ReadLayoutAsync(file, mirrors[m].Layout, offset, buffers[m].AsMemory(0, length), verifiedByCaller: false, token).ConfigureAwait(false);
                }

                for (var m = 1; m < mirrors.Length; m++)
                {
                    var at = buffers[0].AsSpan(0, length).CommonPrefixLength(buffers[m].AsSpan(0, length));
                    if (at < length)
                    {
                        lock (gate)
                        {
                            first[m] = first[m] < 0 ? offset + at : Math.Min(first[m], offset + at);
                            last[m] = Math.Max(last[m], offset + length);
                        }
                    }
                }
            }
            finally
            {
                foreach (var buffer in buffers)
                {
                    if (buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        var differences = new List<MirrorDifference>();
        for (var m = 1; m < mirrors.Length; m++)
        {
            if (first[m] >= 0)
            {
                differences.Add(new MirrorDifference(mirrors[m].Id, mirrors[0].Id, first[m], last[m] - first[m]));
            }
        }

        return new MirrorVerifyResult(path, size, [.. mirrors.Select(m => m.Id)], differences);
    }

    private static Task ForEachBlockAsync(long size, Func<long, int, CancellationToken, ValueTask> step, CancellationToken cancellationToken)
    {
        var blocks = (size + BlockSize - 1) / BlockSize;
        return Parallel.ForEachAsync(
            LongRange(blocks),
            new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken },
            (block, token) => step(block * BlockSize, (int)Math.Min(BlockSize, size - (block * BlockSize)), token));
    }

    private static IEnumerable<long> LongRange(long count)
    {
        for (long i = 0; i < count; i++)
        {
            yield return i;
        }
    }
}
