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

    /// <summary>Times a resync starts again after the layout changed under it (another resync finished first, or a writer came and went).</summary>
    private const int Attempts = 3;

    /// <summary>
    /// Copies the file to each stale mirror and marks it in sync; returns the mirrors this call resynced (none when
    /// none was stale, or another resync got there first). When the layout changes during the copy, the MDS refuses
    /// (ESTALE) and the resync starts again from <paramref name="reload"/>, up to <see cref="Attempts"/> times. While
    /// another resync or a writer has the file (EBUSY), it waits up to <paramref name="busyWait"/>, then fails.
    /// </summary>
    public static async Task<IReadOnlyList<int>> ResyncAsync(
        FilesystemSession session, string path, Func<CancellationToken, Task<InodeAttributes>> reload, TimeSpan busyWait, CancellationToken cancellationToken)
    {
        var resynced = new List<int>();
        var started = System.Diagnostics.Stopwatch.StartNew();
        var pause = TimeSpan.FromMilliseconds(100);
        for (var attempt = 1; ; )
        {
            try
            {
                await ResyncOnceAsync(session, path, await reload(cancellationToken).ConfigureAwait(false), resynced, cancellationToken).ConfigureAwait(false);
                return resynced;
            }
            catch (LustreException ex) when (ex.Errno == LustreErrno.ESTALE && ++attempt <= Attempts)
            {
                // Start again from the layout as it is now.
            }
            catch (LustreException ex) when (ex.Errno == LustreErrno.EBUSY && started.Elapsed + pause < busyWait)
            {
                // Another resync (perhaps the MDS's own) or a writer has it: when it is done, there may be nothing left to do.
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    private static async Task ResyncOnceAsync(FilesystemSession session, string path, InodeAttributes attributes, List<int> resynced, CancellationToken cancellationToken)
    {
        if (LayoutCodec.Decode(attributes.Layout) is not { IsMirrored: true } current || !current.Mirrors.Any(m => m.IsStale))
        {
            return;
        }

        // The MDS gives this resync the file alone (EBUSY while a writer or another resync has it) and a new generation.
        attributes = await session.MirrorAsync(new MirrorRequest(attributes.Fid, MirrorOperation.BeginResync, 0, 0, []), path, cancellationToken).ConfigureAwait(false);
        var finished = false;
        try
        {
            await CopyToStaleMirrorsAsync(session, path, attributes, resynced, cancellationToken).ConfigureAwait(false);
            finished = true;
        }
        finally
        {
            if (!finished)
            {
                await EndResyncQuietlyAsync(session, path, attributes.Fid).ConfigureAwait(false);
            }
        }
    }

    private static async Task EndResyncQuietlyAsync(FilesystemSession session, string path, LustreFid fid)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await session.MirrorAsync(new MirrorRequest(fid, MirrorOperation.EndResync, 0, 0, []), path, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LustreException or IOException or OperationCanceledException)
        {
            // The MDS lets the hold lapse by itself.
        }
    }

    private static async Task CopyToStaleMirrorsAsync(FilesystemSession session, string path, InodeAttributes attributes, List<int> resynced, CancellationToken cancellationToken)
    {
        var file = new LustreFile(session, path, attributes, writable: false);
        var layout = file.Layout;
        if (!layout.Mirrors.Any(m => m.IsStale))
        {
            return;
        }

        await session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        await session.EnsureOstsKnownAsync(layout, cancellationToken).ConfigureAwait(false);
        var size = Math.Max(attributes.Size, await StripedIo.GlimpseAsync(session, path, layout, cancellationToken).ConfigureAwait(false));
        var generation = layout.Generation;
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

        await session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
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

    /// <summary>Runs <paramref name="step"/> on every <see cref="BlockSize"/> block of a file of <paramref name="size"/> bytes, 4 at a time (resync, verify, migrate).</summary>
    internal static Task ForEachBlockAsync(long size, Func<long, int, CancellationToken, ValueTask> step, CancellationToken cancellationToken)
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
