using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Mirrors;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Migration;

/// <summary>
/// <c>lfs migrate</c> as a layout swap, done by a client: the MDS places new objects and holds the file (Begin), the
/// client copies the file into them while it renews the hold, then asks the MDS to give the file the new objects,
/// keeping its FID, which it does only if the file's data version did not move since the copy started (Swap). The
/// old objects go to the MDS's destroy queue with the swap; on any failure the new ones do (Abort, or the hold lapses).
/// </summary>
internal static class LayoutMigration
{
    /// <summary>Times a blocking migration starts again when the file changed under it anyway (see <see cref="MigrateOptions.NonBlocking"/>).</summary>
    private const int Attempts = 3;

    private static readonly TimeSpan MaxPause = TimeSpan.FromSeconds(1);

    public static async Task<InodeAttributes> MigrateAsync(FilesystemSession session, string path, FileLayout? layout, MigrateOptions options, CancellationToken cancellationToken)
    {
        var flags = options.NonBlocking ? MigrateFlags.NonBlock : MigrateFlags.None;
        var template = layout is null ? [] : LayoutCodec.Encode(layout);
        var busy = Stopwatch.StartNew();
        for (var attempt = 1; ; attempt++)
        {
            var begun = await BeginAsync(session, path, new MigrateRequest(path, default, MigrateOperation.Begin, flags, 0, 0, template), options, busy, cancellationToken).ConfigureAwait(false);
            try
            {
                var ready = await DrainAsync(session, path, begun, options, busy, cancellationToken).ConfigureAwait(false);
                try
                {
                    return await CopyAndSwapAsync(session, path, ready, cancellationToken).ConfigureAwait(false);
                }
                catch (LustreServerException ex) when (!options.NonBlocking && attempt < Attempts && ex.Errno is LustreErrno.EBUSY or LustreErrno.ESTALE)
                {
                    // It changed under the copy all the same (a writer from before an MDS restart, which the MDS does not
                    // know to hold off), or the hold lapsed: give the objects back and start again from the file as it is.
                    await AbortQuietlyAsync(session, path, begun).ConfigureAwait(false);
                }
            }
            catch
            {
                await AbortQuietlyAsync(session, path, begun).ConfigureAwait(false);
                throw;
            }
        }
    }

    /// <summary>Begin; a blocking migration waits while another migration of the file runs, up to its busy timeout.</summary>
    private static async Task<MigrateReply> BeginAsync(FilesystemSession session, string path, MigrateRequest begin, MigrateOptions options, Stopwatch busy, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(50);
        while (true)
        {
            // Not cancelled with the caller: a begin applied after the caller stopped waiting would hold the file (and
            // keep its writers waiting) until its lease lapsed. Instead it is given back as soon as its reply is in.
            var beginning = StepAsync(session, path, begin, CancellationToken.None);
            try
            {
                return await beginning.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                _ = AbortOnceBegunAsync(session, path, beginning);
                throw;
            }
            catch (LustreServerException ex) when (ex.Errno == LustreErrno.EBUSY && !options.NonBlocking && busy.Elapsed + pause < options.BusyTimeout)
            {
                await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                pause = Min(pause * 2, MaxPause);
            }
        }
    }

    private static async Task AbortOnceBegunAsync(FilesystemSession session, string path, Task<MigrateReply> beginning)
    {
        try
        {
            await AbortQuietlyAsync(session, path, await beginning.ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            // It did not begin, or the client is gone: nothing to give back, or the lease does it.
        }
    }

    /// <summary>
    /// Renews once, so the copy starts only from a migration the MDS holds now (a begin resent across an MDS restart is
    /// answered from its record, for a migration the restarted MDS no longer runs), then, while writers that had the
    /// file open at Begin have not all closed (new ones wait meanwhile), renews until they have or the busy timeout
    /// passed. Returns the reply to copy from: its size and data version are those once the last writer was gone.
    /// </summary>
    private static async Task<MigrateReply> DrainAsync(FilesystemSession session, string path, MigrateReply begun, MigrateOptions options, Stopwatch busy, CancellationToken cancellationToken)
    {
        var ready = await RenewAsync(session, path, begun, cancellationToken).ConfigureAwait(false);
        var pause = TimeSpan.FromMilliseconds(20);
        while (ready.State == MigrateState.Draining)
        {
            var left = options.BusyTimeout - busy.Elapsed;
            if (left <= TimeSpan.Zero)
            {
                throw new LustreServerException(
                    LustreErrno.EBUSY,
                    string.Create(CultureInfo.InvariantCulture, $"'{path}': it stayed open for writing for {options.BusyTimeout.TotalSeconds:0.#} s, so the migration gave up (it holds new writers off while it waits for those that have the file open): try again once they have closed it"),
                    TargetNames.Mdt(session.FsName));
            }

            await Task.Delay(Min(Min(pause, left), RenewInterval(begun)), cancellationToken).ConfigureAwait(false);
            pause = Min(pause * 2, MaxPause);
            ready = await RenewAsync(session, path, begun, cancellationToken).ConfigureAwait(false);
        }

        return ready;
    }

    private static async Task<InodeAttributes> CopyAndSwapAsync(FilesystemSession session, string path, MigrateReply ready, CancellationToken cancellationToken)
    {
        // The old layout, with a capability (on a cluster with keys) to read it and write the new objects.
        var file = new LustreFile(session, path, ready.File, writable: false);
        var target = LayoutCodec.Decode(ready.NewLayout);
        if (ready.File.Size > target.End)
        {
            // A PFL layout that stops short of EOF (as Lustre allows) has no room for the bytes past its end.
            throw new LustreServerException(
                LustreErrno.ENODATA,
                string.Create(CultureInfo.InvariantCulture, $"'{path}': the new layout ends at {target.End}, before the file's {ready.File.Size} bytes: end its last component further (-E -1 for EOF)"),
                TargetNames.Mdt(session.FsName));
        }

        await session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        await session.EnsureOstsKnownAsync(file.Layout, cancellationToken).ConfigureAwait(false);
        await session.EnsureOstsKnownAsync(target, cancellationToken).ConfigureAwait(false);

        Exception? lost;
        var copied = false;
        using (var copying = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
        {
            var renewals = KeepAsync(session, path, ready, copying);
            try
            {
                await CopyAsync(file, target, ready.File.Size, copying.Token).ConfigureAwait(false);
                await StripedIo.SyncAsync(file, [.. target.AllObjects()], copying.Token).ConfigureAwait(false);
                copied = true;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Only the renewals stop the copy on their own: they say why below.
            }
            finally
            {
                await copying.CancelAsync().ConfigureAwait(false);
                lost = await renewals.ConfigureAwait(false);
            }
        }

        if (lost is not null)
        {
            // The hold was lost or the file changed: the swap would be refused.
            throw lost;
        }

        if (!copied)
        {
            throw new LustreException($"'{path}': the copy to the new objects stopped without a reason", LustreErrno.EIO, isTransient: false);
        }

        var swapped = await StepAsync(
            session,
            path,
            new MigrateRequest(path, ready.File.Fid, MigrateOperation.Swap, MigrateFlags.None, ready.MigrationId, ready.DataVersion, []),
            cancellationToken).ConfigureAwait(false);
        return swapped.File;
    }

    /// <summary>
    /// Copies every 4 MiB block that is not all zeros from the old layout to the new one, 4 at a time (the new objects
    /// are empty, so a hole stays a hole). A Data-on-MDT component the new layout keeps is not copied: its bytes stay
    /// where they are, the MDT, under the same FID.
    /// </summary>
    private static Task CopyAsync(LustreFile file, FileLayout target, long size, CancellationToken cancellationToken) =>
        MirrorSync.ForEachBlockAsync(size, async (offset, length, token) =>
        {
            var kept = target.DataOnMdtEnd;
            if (offset + length <= kept)
            {
                return;
            }

            if (offset < kept)
            {
                length -= (int)(kept - offset);
                offset = kept;
            }

            var buffer = ArrayPool<byte>.Shared.Rent(length);
            try
            {
                var block = buffer.AsMemory(0, length);
                await StripedIo.ReadAsync(file, offset, block, verifiedByCaller: false, token).ConfigureAwait(false);
                if (block.Span.ContainsAnyExcept((byte)0))
                {
                    await StripedIo.WriteLayoutAsync(file, target, offset, block, token).ConfigureAwait(false);
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }, cancellationToken);

    /// <summary>
    /// Renews the hold every third of its lease while the copy runs. When the hold is lost or the data version moved (the
    /// swap would be refused), cancels the copy and returns why; null when the copy ended first.
    /// </summary>
    private static async Task<Exception?> KeepAsync(FilesystemSession session, string path, MigrateReply ready, CancellationTokenSource copying)
    {
        try
        {
            while (true)
            {
                await Task.Delay(RenewInterval(ready), copying.Token).ConfigureAwait(false);
                var renewed = await RenewAsync(session, path, ready, copying.Token).ConfigureAwait(false);
                if (renewed.DataVersion != ready.DataVersion)
                {
                    throw new LustreServerException(
                        LustreErrno.EBUSY,
                        $"'{path}': it changed during the migration (it was opened for writing, or its size was set): its data version is {renewed.DataVersion}, the copy started from {ready.DataVersion}",
                        TargetNames.Mdt(session.FsName));
                }
            }
        }
        catch (OperationCanceledException) when (copying.IsCancellationRequested)
        {
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await copying.CancelAsync().ConfigureAwait(false);
            return ex;
        }
    }

    private static async Task<MigrateReply> RenewAsync(FilesystemSession session, string path, MigrateReply migration, CancellationToken cancellationToken) =>
        await StepAsync(
            session,
            path,
            new MigrateRequest(path, migration.File.Fid, MigrateOperation.Renew, MigrateFlags.None, migration.MigrationId, 0, []),
            cancellationToken).ConfigureAwait(false);

    /// <summary>A step, its refusals named by the file's path (the MDS names only the FID after Begin).</summary>
    private static async Task<MigrateReply> StepAsync(FilesystemSession session, string path, MigrateRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return (await session.MigrateAsync(request, path, cancellationToken).ConfigureAwait(false))!;
        }
        catch (LustreServerException ex)
        {
            throw new LustreServerException(ex.Errno, $"'{path}': {ex.ServerMessage}", ex.Target);
        }
    }

    /// <summary>Gives the new objects back; the MDS destroys them when its hold lapses anyway.</summary>
    private static async Task AbortQuietlyAsync(FilesystemSession session, string path, MigrateReply begun)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await session.MigrateAsync(
                new MigrateRequest(path, begun.File.Fid, MigrateOperation.Abort, MigrateFlags.None, begun.MigrationId, 0, []),
                path,
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            // The MDS drops the migration once its hold lapses.
        }
    }

    /// <summary>A third of the MDS's lease: two renewals may fail before the hold lapses.</summary>
    private static TimeSpan RenewInterval(MigrateReply migration) => TimeSpan.FromMilliseconds(Math.Max(10, migration.LeaseMs / 3));

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;
}
