using System.Buffers;
using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;
using Microsoft.Extensions.ObjectPool;

namespace Lustre.IO;

/// <summary>
/// The parallel data path: a file range is cut by the layout into per-object pieces of at most one bulk RPC, and
/// all pieces go out at once, bounded per OST. Reads land straight in the caller's buffer; holes read as zeros. The
/// part of a range in a Data-on-MDT component goes to the MDS instead (<see cref="Opcode.MdsDomRead"/>,
/// <see cref="Opcode.MdsDomWrite"/>), addressed by file offset; it needs no sync, as the MDS commits it before it answers.
/// </summary>
internal static class StripedIo
{
    /// <summary>The largest pieces list given back to the pool; a list that grew past it is left to the collector.</summary>
    private const int MaxPooledPieces = 1024;

    /// <summary>The pieces lists of ranges in flight, kept for the next ranges (up to 256 of them).</summary>
    private static readonly ObjectPool<List<StripeExtent>> PieceLists = ReusedObjects.Pool(() => new List<StripeExtent>(16), 256);

    [ThreadStatic]
    private static List<StripeExtent>? t_extents;

    /// <summary>
    /// Reads a range. A mirrored file is read from one in-sync mirror (the preferred one, else each call the next, to
    /// spread the load); when that mirror fails, the range is read again from the next one, and the caller sees an error
    /// only when every in-sync mirror failed.
    /// </summary>
    public static ValueTask ReadAsync(LustreFile file, long offset, Memory<byte> buffer, bool verifiedByCaller, CancellationToken cancellationToken)
    {
        var layout = file.Layout;
        return layout.IsMirrored
            ? new ValueTask(ReadMirroredAsync(file, layout, offset, buffer, verifiedByCaller, cancellationToken))
            : ReadLayoutAsync(file, layout, offset, buffer, verifiedByCaller, cancellationToken);
    }

    private static async Task ReadMirroredAsync(LustreFile file, FileLayout layout, long offset, Memory<byte> buffer, bool verifiedByCaller, CancellationToken cancellationToken)
    {
        var order = file.ReadOrder(layout);
        for (var i = 0; ; i++)
        {
            var mirror = order[i];
            try
            {
                await ReadLayoutAsync(file, mirror.Layout, offset, buffer, verifiedByCaller, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (LustreException ex) when (i + 1 < order.Length && !cancellationToken.IsCancellationRequested)
            {
                file.Session.MarkSuspect(mirror.Layout);
                LustreDiagnostics.MirrorFailovers.Add(1);
                ClientLog.MirrorFailover(file.Session.Logger, file.Path, mirror.Id, order[i + 1].Id, ex.Message);
            }
        }
    }

    /// <summary>Reads a range through one plain layout (the file's, or one mirror's).</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public static async ValueTask ReadLayoutAsync(LustreFile file, FileLayout layout, long offset, Memory<byte> buffer, bool verifiedByCaller, CancellationToken cancellationToken)
    {
        buffer = ZeroUninstantiated(layout, offset, buffer);
        if (buffer.IsEmpty)
        {
            return;
        }

        var extents = Map(layout, offset, buffer.Length);
        if (OnePiece(file, extents) is { } one)
        {
            // Small reads (one stripe unit) skip the fan-out bookkeeping.
            await ReadPieceAsync(file, one, buffer, verifiedByCaller, cancellationToken).ConfigureAwait(false);
            return;
        }

        var pieces = Split(file, extents);
        var calls = ArrayPool<ValueTask>.Shared.Rent(pieces.Count);
        var count = 0;
        try
        {
            for (; count < pieces.Count; count++)
            {
                var piece = pieces[count];
                calls[count] = ReadPieceAsync(file, piece, buffer.Slice((int)(piece.FileOffset - offset), (int)piece.Length), verifiedByCaller, cancellationToken);
            }
        }
        finally
        {
            ReturnPieces(pieces);
        }

        await WhenAllPiecesAsync(calls, count).ConfigureAwait(false);
    }

    /// <summary>
    /// Fills the part of <paramref name="buffer"/> (read at <paramref name="offset"/>) that lies past the layout's
    /// instantiated components with zeros, as Lustre reads a component without objects, and returns the rest to read.
    /// </summary>
    internal static Memory<byte> ZeroUninstantiated(FileLayout layout, long offset, Memory<byte> buffer)
    {
        var instantiated = layout.InstantiatedEnd - offset;
        if (instantiated >= buffer.Length)
        {
            return buffer;
        }

        var keep = (int)Math.Max(0, instantiated);
        buffer.Span[keep..].Clear();
        return buffer[..keep];
    }

    /// <summary>
    /// Writes a range. A mirrored file is written to every in-sync mirror at once (immediate mirroring); a mirror
    /// that fails is marked stale on the MDS before this returns, and the write fails only when no mirror took it.
    /// </summary>
    public static ValueTask WriteAsync(LustreFile file, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var layout = file.Layout;
        return layout.IsMirrored
            ? new ValueTask(WriteMirroredAsync(file, layout, offset, data, cancellationToken))
            : WriteLayoutAsync(file, layout, offset, data, cancellationToken);
    }

    // Its own method: a lambda in WriteAsync would make every write, mirrored or not, allocate the closure.
    private static Task WriteMirroredAsync(LustreFile file, FileLayout layout, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        file.OnEachMirrorAsync(layout, mirror => WriteLayoutAsync(file, mirror.Layout, offset, data, cancellationToken).AsTask(), "write", cancellationToken);

    /// <summary>Writes a range through one plain layout (the file's, or one mirror's).</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public static async ValueTask WriteLayoutAsync(LustreFile file, FileLayout layout, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var extents = Map(layout, offset, data.Length);
        if (OnePiece(file, extents) is { } one)
        {
            MarkDirty(file, one);
            await WritePieceAsync(file, one, data, cancellationToken).ConfigureAwait(false);
            return;
        }

        var pieces = Split(file, extents);
        var calls = ArrayPool<ValueTask>.Shared.Rent(pieces.Count);
        var count = 0;
        try
        {
            for (; count < pieces.Count; count++)
            {
                var piece = pieces[count];
                MarkDirty(file, piece);
                calls[count] = WritePieceAsync(file, piece, data.Slice((int)(piece.FileOffset - offset), (int)piece.Length), cancellationToken);
            }
        }
        finally
        {
            ReturnPieces(pieces);
        }

        await WhenAllPiecesAsync(calls, count).ConfigureAwait(false);
    }

    /// <summary>An OST object written is synced at the next flush; Data-on-MDT bytes were durable when the MDS answered.</summary>
    private static void MarkDirty(LustreFile file, StripeExtent piece)
    {
        if (!piece.OnMdt)
        {
            file.MarkDirty(piece.Object);
        }
    }

    public static async Task SyncAsync(LustreFile file, IReadOnlyList<OstObject> objects, CancellationToken cancellationToken)
    {
        var tasks = new Task[objects.Count];
        for (var i = 0; i < objects.Count; i++)
        {
            tasks[i] = ObjectCallAsync(file, objects[i], Opcode.OstSync, static (w, o) => new ObjectRef(o.OstIndex, o.ObjectId).Write(w), $"sync of {file.Path}", cancellationToken);
        }

        await WhenAllOrFirstFailure(tasks).ConfigureAwait(false);
    }

    /// <summary>Sets every object to the size it has in a file of <paramref name="length"/> bytes (of every in-sync mirror).</summary>
    public static Task PunchAsync(LustreFile file, long length, CancellationToken cancellationToken)
    {
        var layout = file.Layout;
        return layout.IsMirrored
            ? file.OnEachMirrorAsync(layout, mirror => PunchLayoutAsync(file, mirror.Layout, length, cancellationToken), "truncate", cancellationToken)
            : PunchLayoutAsync(file, layout, length, cancellationToken);
    }

    /// <summary>Sets every object of one plain layout to the size it has in a file of <paramref name="length"/> bytes.</summary>
    public static async Task PunchLayoutAsync(LustreFile file, FileLayout layout, long length, CancellationToken cancellationToken)
    {
        var objects = Objects(layout);
        var sizes = new long[objects.Length];
        StripeMath.ObjectSizesForFileSize(layout, length, sizes);
        var tasks = new Task[objects.Length];
        for (var i = 0; i < objects.Length; i++)
        {
            var size = sizes[i];
            tasks[i] = ObjectCallAsync(
                file,
                objects[i],
                Opcode.OstPunch,
                (w, o) =>
                {
                    new OstPunchRequest(new ObjectRef(o.OstIndex, o.ObjectId), size).Write(w);
                    file.Capability?.WriteFor(w, o);
                },
                $"truncate of {file.Path} to {length}",
                cancellationToken);
        }

        await WhenAllOrFirstFailure(tasks).ConfigureAwait(false);
    }

    /// <summary>
    /// The file size implied by the objects' sizes on the OSTs (Lustre's glimpse), asked of all of them at once; of a
    /// mirrored file, from the first in-sync mirror that answers.
    /// </summary>
    public static async Task<long> GlimpseAsync(FilesystemSession session, string path, FileLayout layout, CancellationToken cancellationToken)
    {
        if (!layout.IsMirrored)
        {
            return await GlimpseLayoutAsync(session, path, layout, cancellationToken).ConfigureAwait(false);
        }

        var inSync = layout.Mirrors.Where(m => !m.IsStale).OrderBy(m => session.IsSuspect(m.Layout)).ToArray();
        for (var i = 0; ; i++)
        {
            try
            {
                return await GlimpseLayoutAsync(session, path, inSync[i].Layout, cancellationToken).ConfigureAwait(false);
            }
            catch (LustreException) when (i + 1 < inSync.Length && !cancellationToken.IsCancellationRequested)
            {
                session.MarkSuspect(inSync[i].Layout);
                LustreDiagnostics.MirrorFailovers.Add(1);
            }
        }
    }

    private static async Task<long> GlimpseLayoutAsync(FilesystemSession session, string path, FileLayout layout, CancellationToken cancellationToken)
    {
        var sizes = await Task.WhenAll(Objects(layout).Select(async obj =>
        {
            using var frame = FrameBuffer.Rent();
            new ObjectRef(obj.OstIndex, obj.ObjectId).Write(frame.Body);
            using var reply = await session.Targets.CallAsync(TargetKind.Ost, obj.OstIndex, Opcode.OstGetAttr, frame, default, default, cancellationToken).ConfigureAwait(false);
            if (reply.Status != 0)
            {
                throw new LustreServerException((LustreErrno)reply.Status, $"glimpse of {path}: object {obj}: {reply.ErrorMessage}", TargetNames.Ost(session.FsName, obj.OstIndex));
            }

            var reader = reply.Reader;
            return OstAttrReply.Read(ref reader).Size;
        })).ConfigureAwait(false);
        return StripeMath.FileSizeFromObjectSizes(layout, sizes);
    }

    /// <summary>Every object of a plain layout, in layout order (the order <see cref="StripeMath"/>'s per-object sizes use).</summary>
    private static OstObject[] Objects(FileLayout layout) => [.. layout.AllObjects()];

    /// <summary>The mapped range as one piece when it is inside one stripe unit and one bulk RPC; else null (and <see cref="Split"/> cuts it).</summary>
    private static StripeExtent? OnePiece(LustreFile file, List<StripeExtent> extents) =>
        extents.Count == 1 && extents[0].Length <= MaxBulk(file, extents[0]) ? extents[0] : null;

    /// <summary>The range's extents, in a per-thread scratch list (mapping is synchronous): read it before the next await.</summary>
    private static List<StripeExtent> Map(FileLayout layout, long offset, long length)
    {
        var extents = t_extents ??= new List<StripeExtent>(16);
        extents.Clear();
        StripeMath.MapRange(layout, offset, length, extents);
        return extents;
    }

    /// <summary>The largest bulk the piece's OST (or the MDT) accepts: what its server said at connect.</summary>
    private static long MaxBulk(LustreFile file, StripeExtent extent) =>
        extent.OnMdt ? file.Session.Targets.MdtMaxBulkLength() : file.Session.Targets.OstMaxBulkLength(extent.Object.OstIndex);

    /// <summary>The mapped range (<see cref="Map"/>, read before any await) as pieces of at most one bulk RPC to their OST, each inside one stripe unit of one object.</summary>
    /// <summary>The range's pieces of at most one bulk RPC each, in a pooled list: give it back with <see cref="ReturnPieces"/>.</summary>
    private static List<StripeExtent> Split(LustreFile file, List<StripeExtent> extents)
    {
        var pieces = PieceLists.Get();
        foreach (var extent in extents)
        {
            var maxBulk = MaxBulk(file, extent);
            for (long done = 0; done < extent.Length; done += maxBulk)
            {
                var size = Math.Min(maxBulk, extent.Length - done);
                pieces.Add(extent with { ObjectOffset = extent.ObjectOffset + done, FileOffset = extent.FileOffset + done, Length = size });
            }
        }

        return pieces;
    }

    private static void ReturnPieces(List<StripeExtent> pieces)
    {
        // A huge range's list is not kept: it would hold its array for good.
        if (pieces.Capacity <= MaxPooledPieces)
        {
            pieces.Clear();
            PieceLists.Return(pieces);
        }
    }

    /// <summary>
    /// Waits for every piece of a range (none may still be writing into the caller's buffer when this returns), then
    /// throws the first failure in piece order, a fault before a cancellation, as <see cref="WhenAllOrFirstFailure"/>
    /// does for tasks; gives <paramref name="calls"/> back to the array pool. No task or array per call.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private static async ValueTask WhenAllPiecesAsync(ValueTask[] calls, int count)
    {
        Exception? failure = null;
        try
        {
            for (var i = 0; i < count; i++)
            {
                try
                {
                    await calls[i].ConfigureAwait(false);
                }
                catch (Exception ex) when (failure is null || (failure is OperationCanceledException && ex is not OperationCanceledException))
                {
                    failure = ex;
                }
                catch
                {
                    // A later failure than the one kept: awaited only so that the piece is finished and its box recycled.
                }
            }
        }
        finally
        {
            Array.Clear(calls, 0, count);
            ArrayPool<ValueTask>.Shared.Return(calls);
        }

        if (failure is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure);
        }
    }

    /// <summary>One OstRead of one object range into <paramref name="destination"/> (zeros past the object's end); renews the capability once after a refusal.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    internal static async ValueTask ReadPieceAsync(LustreFile file, StripeExtent piece, Memory<byte> destination, bool verifiedByCaller, CancellationToken cancellationToken, bool renewed = false)
    {
        if (piece.OnMdt)
        {
            await ReadOnMdtAsync(file, piece, destination, verifiedByCaller, cancellationToken).ConfigureAwait(false);
            return;
        }

        var ost = piece.Object.OstIndex;
        try
        {
            await file.EnsureCapabilityAsync(piece.Object, cancellationToken).ConfigureAwait(false);
            using var frame = FrameBuffer.Rent();
            frame.Flags = verifiedByCaller ? FrameFlags.EndToEndVerified : FrameFlags.None;
            new OstReadRequest(new ObjectRef(ost, piece.Object.ObjectId), piece.ObjectOffset, destination.Length).Write(frame.Body);
            file.Capability?.WriteFor(frame.Body, piece.Object);
            using var reply = await file.Session.Targets.CallAsync(TargetKind.Ost, ost, Opcode.OstRead, frame, default, destination, cancellationToken).ConfigureAwait(false);
            if (!renewed && reply.Status == (int)LustreErrno.EACCES)
            {
                await file.RenewCapabilityAsync(cancellationToken).ConfigureAwait(false);
                await ReadPieceAsync(file, piece, destination, verifiedByCaller, cancellationToken, renewed: true).ConfigureAwait(false);
                return;
            }

            ThrowOnError(reply, "read", file, piece);
            file.Session.Answered(ost);
            LustreDiagnostics.IoBytes.Add(reply.BulkLength, new("lustre.direction", "read"), new("lustre.target", file.Session.Targets.Ost(ost).Name));
            if (reply.BulkLength < destination.Length)
            {
                // Past the object's end or in a hole: the file reads zeros there.
                destination.Span[reply.BulkLength..].Clear();
            }
        }
        catch (LustreException ex) when (ex is not LustreServerException)
        {
            throw Wrap(ex, "read", file, piece);
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private static async ValueTask WritePieceAsync(LustreFile file, StripeExtent piece, ReadOnlyMemory<byte> data, CancellationToken cancellationToken, bool renewed = false)
    {
        if (piece.OnMdt)
        {
            await WriteOnMdtAsync(file, piece, data, cancellationToken).ConfigureAwait(false);
            return;
        }

        var ost = piece.Object.OstIndex;
        try
        {
            await file.EnsureCapabilityAsync(piece.Object, cancellationToken).ConfigureAwait(false);
            using var frame = FrameBuffer.Rent();
            new OstWriteRequest(new ObjectRef(ost, piece.Object.ObjectId), piece.ObjectOffset).Write(frame.Body);
            file.Capability?.WriteFor(frame.Body, piece.Object);
            using var reply = await file.Session.Targets.CallAsync(TargetKind.Ost, ost, Opcode.OstWrite, frame, data, default, cancellationToken).ConfigureAwait(false);
            if (!renewed && reply.Status == (int)LustreErrno.EACCES)
            {
                await file.RenewCapabilityAsync(cancellationToken).ConfigureAwait(false);
                await WritePieceAsync(file, piece, data, cancellationToken, renewed: true).ConfigureAwait(false);
                return;
            }

            ThrowOnError(reply, "write", file, piece);
            file.GrowTo(piece.FileOffset + piece.Length);
            file.Session.Answered(ost);
            LustreDiagnostics.IoBytes.Add(data.Length, new("lustre.direction", "write"), new("lustre.target", file.Session.Targets.Ost(ost).Name));
        }
        catch (LustreException ex) when (ex is not LustreServerException)
        {
            throw Wrap(ex, "write", file, piece);
        }
    }

    /// <summary>
    /// One read of Data-on-MDT bytes into <paramref name="destination"/> (zeros past the file's bytes on the MDT): from
    /// the bytes the open brought (read-on-open) when it has them, else with an <see cref="Opcode.MdsDomRead"/>.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private static async ValueTask ReadOnMdtAsync(LustreFile file, StripeExtent piece, Memory<byte> destination, bool verifiedByCaller, CancellationToken cancellationToken)
    {
        if (file.TryReadOpened(piece.FileOffset, destination.Span))
        {
            return;
        }

        var session = file.Session;
        using var frame = FrameBuffer.Rent();
        frame.Flags = verifiedByCaller ? FrameFlags.EndToEndVerified : FrameFlags.None;
        new DomReadRequest(file.Fid, piece.FileOffset, destination.Length).Write(frame.Body);
        try
        {
            using var reply = await session.CallMdsWithBulkAsync(Opcode.MdsDomRead, frame, default, destination, cancellationToken).ConfigureAwait(false);
            ThrowOnMdtError(reply, "read", file, piece);
            LustreDiagnostics.IoBytes.Add(reply.BulkLength, new("lustre.direction", "read"), new("lustre.target", TargetNames.Mdt(session.FsName)));
            if (reply.BulkLength < destination.Length)
            {
                // Past the file's bytes on the MDT, or in a hole: zeros.
                destination.Span[reply.BulkLength..].Clear();
            }
        }
        catch (LustreException ex) when (ex is not LustreServerException)
        {
            throw WrapOnMdt(ex, "read", file, piece);
        }
    }

    /// <summary>One write of Data-on-MDT bytes (<see cref="Opcode.MdsDomWrite"/>), durable on the MDT once answered.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private static async ValueTask WriteOnMdtAsync(LustreFile file, StripeExtent piece, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var session = file.Session;
        using var frame = FrameBuffer.Rent();
        new DomWriteRequest(file.Fid, piece.FileOffset).Write(frame.Body);
        try
        {
            using var reply = await session.CallMdsWithBulkAsync(Opcode.MdsDomWrite, frame, data, default, cancellationToken).ConfigureAwait(false);
            ThrowOnMdtError(reply, "write", file, piece);
            var reader = reply.Reader;
            var size = DomWriteReply.Read(ref reader).Size;
            file.GrowTo(piece.FileOffset + piece.Length);
            file.SizeRecorded(size);
            LustreDiagnostics.IoBytes.Add(data.Length, new("lustre.direction", "write"), new("lustre.target", TargetNames.Mdt(session.FsName)));
        }
        catch (LustreException ex) when (ex is not LustreServerException)
        {
            throw WrapOnMdt(ex, "write", file, piece);
        }
    }

    private static void ThrowOnMdtError(in RpcReply reply, string operation, LustreFile file, StripeExtent piece)
    {
        if (reply.Status != 0)
        {
            throw new LustreServerException(
                (LustreErrno)reply.Status,
                $"{operation} of {piece.Length} bytes at offset {piece.FileOffset} of {file.Path} (Data-on-MDT): {reply.ErrorMessage}",
                TargetNames.Mdt(file.Session.FsName));
        }
    }

    private static LustreException WrapOnMdt(LustreException inner, string operation, LustreFile file, StripeExtent piece) =>
        new($"{TargetNames.Mdt(file.Session.FsName)}: {operation} of {piece.Length} bytes at offset {piece.FileOffset} of {file.Path} (Data-on-MDT) failed: {inner.Message}", inner.Errno, inner.IsTransient, inner);

    private static async Task ObjectCallAsync(
        LustreFile file, OstObject obj, Opcode opcode, Action<BodyWriter, OstObject> body, string what, CancellationToken cancellationToken, bool renewed = false)
    {
        await file.EnsureCapabilityAsync(obj, cancellationToken).ConfigureAwait(false);
        using var frame = FrameBuffer.Rent();
        body(frame.Body, obj);
        using var reply = await file.Session.Targets.CallAsync(TargetKind.Ost, obj.OstIndex, opcode, frame, default, default, cancellationToken).ConfigureAwait(false);
        if (!renewed && reply.Status == (int)LustreErrno.EACCES)
        {
            await file.RenewCapabilityAsync(cancellationToken).ConfigureAwait(false);
            await ObjectCallAsync(file, obj, opcode, body, what, cancellationToken, renewed: true).ConfigureAwait(false);
            return;
        }

        if (reply.Status != 0)
        {
            throw new LustreServerException((LustreErrno)reply.Status, $"{what}: object {obj}: {reply.ErrorMessage}", OstName(file, obj.OstIndex));
        }
    }

    private static void ThrowOnError(in RpcReply reply, string operation, LustreFile file, StripeExtent piece)
    {
        if (reply.Status != 0)
        {
            throw new LustreServerException(
                (LustreErrno)reply.Status,
                $"{operation} of {piece.Length} bytes at offset {piece.FileOffset} of {file.Path} (object {piece.Object}): {reply.ErrorMessage}",
                OstName(file, piece.Object.OstIndex));
        }
    }

    private static LustreException Wrap(LustreException inner, string operation, LustreFile file, StripeExtent piece) =>
        new($"{OstName(file, piece.Object.OstIndex)}: {operation} of {piece.Length} bytes at offset {piece.FileOffset} of {file.Path} failed: {inner.Message}", inner.Errno, inner.IsTransient, inner);

    /// <summary>An OST as messages name it ("lustre-OST0002"), for error paths only.</summary>
    private static string OstName(LustreFile file, int index) => TargetNames.Ost(file.Session.FsName, index);

    /// <summary>Waits for all; throws the first failure (not an AggregateException) once every piece has finished.</summary>
    internal static async Task WhenAllOrFirstFailure(Task[] tasks)
    {
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch
        {
            foreach (var task in tasks)
            {
                if (task.IsFaulted && task.Exception!.InnerException is { } first)
                {
                    System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
                }
            }

            throw;
        }
    }
}
