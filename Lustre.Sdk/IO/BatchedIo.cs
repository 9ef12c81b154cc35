using System.Runtime.InteropServices;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.IO;

/// <summary>
/// Many reads at once, batched per OST as 3FS's USRBIO batches them. Each request's range is cut by its file's layout
/// into object ranges; ranges of one object that overlap or touch are merged (a byte read by two requests crosses the
/// network once); an OST's small ranges travel together in <see cref="Opcode.OstReadBatch"/> requests of up to
/// <see cref="BatchBytes"/> and 1,024 ranges, and a range of <see cref="SeparateRangeLimit"/> or more alone as an
/// <see cref="Opcode.OstRead"/>, which the OSS can send from the page cache without a copy. Everything goes out at once,
/// bounded per OST by the target's RPCs in flight (and by the caller's <c>limiter</c>, if any). A batch's ranges are
/// received straight into the requests' destinations (<see cref="ReplyBulk"/>), as a range read alone is; a range
/// that several requests share goes through a buffer and is copied out to each. Mirrored files are
/// read one request at a time through <see cref="StripedIo"/>, which picks a mirror and fails over. Bytes in a file's
/// Data-on-MDT component travel in <see cref="Opcode.MdsDomReadBatch"/> requests to the MDS the same way.
/// </summary>
internal static class BatchedIo
{
    /// <summary>
    /// Object ranges at least this long are read alone. A batched range costs a copy on the OSS (into its reply buffer,
    /// where a range read alone is sent from the page cache or read past it) and saves one round trip: worth it for
    /// small files, not for large ranges.
    /// </summary>
    public const int SeparateRangeLimit = 256 << 10;

    /// <summary>
    /// The most bytes one batch asks for. The OSS reads a batch's ranges one after another, so a window of small files
    /// is read as several batches per OST (several reads in flight on its disk) rather than one long one.
    /// </summary>
    public const int BatchBytes = 1 << 20;

    /// <summary>
    /// Reads every request; <paramref name="counts"/>[i] gets how many bytes request i read (fewer than its destination
    /// only at the end of its file). Every file must belong to one client. Throws the first failure once every read has
    /// finished; destinations may then hold part of their bytes.
    /// </summary>
    public static async Task ReadAsync(IReadOnlyList<LustreReadRequest> requests, int[] counts, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        var pieces = new List<Piece>();
        var onMdt = new List<DomPiece>();
        var extents = new List<StripeExtent>();
        var tasks = new List<Task>();
        FilesystemSession? session = null;
        for (var i = 0; i < requests.Count; i++)
        {
            var (file, offset, destination) = requests[i];
            session ??= file.Session;
            var length = file.Length;
            var count = offset >= length ? 0 : (int)Math.Min(destination.Length, length - offset);
            counts[i] = count;
            if (count == 0)
            {
                continue;
            }

            var layout = file.Layout;
            if (layout.IsMirrored)
            {
                tasks.Add(ReadMirroredAsync(file, offset, destination[..count], limiter, cancellationToken));
                continue;
            }

            // Past the instantiated components: zeros, nothing to read (StripedIo.ZeroUninstantiated).
            var mapped = StripedIo.ZeroUninstantiated(layout, offset, destination[..count]).Length;
            extents.Clear();
            StripeMath.MapRange(layout, offset, mapped, extents);
            foreach (var extent in extents)
            {
                if (extent.OnMdt)
                {
                    // Data-on-MDT bytes come from the open (read-on-open) or from the MDS, in batches below.
                    var mdtBulk = session.Targets.MdtMaxBulkLength();
                    for (long done = 0; done < extent.Length; done += mdtBulk)
                    {
                        var part = extent with { FileOffset = extent.FileOffset + done, ObjectOffset = extent.ObjectOffset + done, Length = Math.Min(mdtBulk, extent.Length - done) };
                        var into = destination.Slice((int)(part.FileOffset - offset), (int)part.Length);
                        if (!file.TryReadOpened(part.FileOffset, into.Span))
                        {
                            onMdt.Add(new DomPiece(file, part, into));
                        }
                    }

                    continue;
                }

                // Capped per OST at what its server accepts, as StripedIo cuts a range.
                var maxBulk = session.Targets.OstMaxBulkLength(extent.Object.OstIndex);
                for (long done = 0; done < extent.Length; done += maxBulk)
                {
                    var size = (int)Math.Min(maxBulk, extent.Length - done);
                    pieces.Add(new Piece(i, file, extent.Object, extent.ObjectOffset + done, (int)(extent.FileOffset - offset + done), size));
                }
            }
        }

        if (pieces.Count > 0)
        {
            StartReads(session!, [.. pieces], requests, limiter, tasks, cancellationToken);
        }

        if (onMdt.Count > 0)
        {
            StartMdtReads(session!, onMdt, limiter, tasks, cancellationToken);
        }

        await StripedIo.WhenAllOrFirstFailure([.. tasks]).ConfigureAwait(false);
    }

    /// <summary>
    /// Data-on-MDT pieces in <see cref="Opcode.MdsDomReadBatch"/> requests of up to 1,024 ranges and one bulk each (a
    /// folder of small files on the MDT costs a round trip per batch, not per file); a lone piece, or every piece once
    /// the MDS has answered that it does not know batches (an older one), in its own <see cref="Opcode.MdsDomRead"/>.
    /// </summary>
    private static void StartMdtReads(FilesystemSession session, List<DomPiece> onMdt, SemaphoreSlim? limiter, List<Task> tasks, CancellationToken cancellationToken)
    {
        if (onMdt.Count == 1 || !session.ServesDomReadBatch)
        {
            foreach (var piece in onMdt)
            {
                tasks.Add(ReadOnMdtAsync(piece, limiter, cancellationToken));
            }

            return;
        }

        var limit = (int)Math.Min(BatchBytes, session.Targets.MdtMaxBulkLength());
        var batch = new List<DomPiece>();
        var batchBytes = 0L;
        foreach (var piece in onMdt)
        {
            if (batch.Count > 0 && (batch.Count == DomReadBatchRequest.MaxRanges || batchBytes + piece.Extent.Length > limit))
            {
                tasks.Add(ReadMdtBatchAsync(session, [.. batch], limiter, cancellationToken));
                batch.Clear();
                batchBytes = 0;
            }

            batch.Add(piece);
            batchBytes += piece.Extent.Length;
        }

        tasks.Add(batch.Count == 1 ? ReadOnMdtAsync(batch[0], limiter, cancellationToken) : ReadMdtBatchAsync(session, [.. batch], limiter, cancellationToken));
    }

    /// <summary>
    /// One batched Data-on-MDT read, received straight into the pieces' destinations. When the MDS refuses it (any file
    /// of it: gone, migrated off the MDT, not readable) or does not know it, its pieces are read one by one instead, so
    /// each fails or succeeds as a single read does, with that read's own error.
    /// </summary>
    private static async Task ReadMdtBatchAsync(FilesystemSession session, DomPiece[] batch, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        var ranges = new DomReadRequest[batch.Length];
        var segments = new Memory<byte>[batch.Length];
        var total = 0;
        for (var i = 0; i < batch.Length; i++)
        {
            ranges[i] = new DomReadRequest(batch[i].File.Fid, batch[i].Extent.FileOffset, (int)batch[i].Extent.Length);
            segments[i] = batch[i].Destination;
            total += ranges[i].Length;
        }

        int status;
        if (limiter is not null)
        {
            await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            using var frame = FrameBuffer.Rent(64 + (batch.Length * DomReadRequest.Size));
            new DomReadBatchRequest(ranges).Write(frame.Body);
            using var reply = await session.CallMdsWithBulkAsync(Opcode.MdsDomReadBatch, frame, default, new ReplyBulk(segments), cancellationToken).ConfigureAwait(false);
            status = reply.Status;
            if (status == 0 && reply.BulkLength != total)
            {
                throw new LustreException($"{TargetNames.Mdt(session.FsName)}: batched Data-on-MDT read of {batch.Length} files (the first {batch[0].File.Path}): the reply holds {reply.BulkLength} bytes, not the {total} asked for", LustreErrno.EPROTO, isTransient: false);
            }
        }
        finally
        {
            limiter?.Release();
        }

        if (status != 0)
        {
            if (status == (int)LustreErrno.ENOSYS)
            {
                session.StopDomReadBatches();
            }

            var singles = new Task[batch.Length];
            for (var i = 0; i < batch.Length; i++)
            {
                singles[i] = ReadOnMdtAsync(batch[i], limiter, cancellationToken);
            }

            await StripedIo.WhenAllOrFirstFailure(singles).ConfigureAwait(false);
            return;
        }

        LustreDiagnostics.IoBytes.Add(total, new("lustre.direction", "read"), new("lustre.target", TargetNames.Mdt(session.FsName)));
    }

    /// <summary>Sorts the pieces by OST, object and offset, merges each object's overlapping and touching ones, and starts the batches and single reads.</summary>
    private static void StartReads(FilesystemSession session, Piece[] pieces, IReadOnlyList<LustreReadRequest> requests, SemaphoreSlim? limiter, List<Task> tasks, CancellationToken cancellationToken)
    {
        Array.Sort(pieces, static (a, b) =>
            a.Object.OstIndex != b.Object.OstIndex ? a.Object.OstIndex.CompareTo(b.Object.OstIndex)
            : a.Object.ObjectId != b.Object.ObjectId ? a.Object.ObjectId.CompareTo(b.Object.ObjectId)
            : a.ObjectOffset.CompareTo(b.ObjectOffset));
        var spans = new List<ObjectSpan>();
        for (var k = 0; k < pieces.Length; k++)
        {
            var piece = pieces[k];
            if (spans.Count > 0 && spans[^1] is var last && last.Object == piece.Object && piece.ObjectOffset <= last.End
                && Math.Max(last.End, piece.End) - last.Start <= session.Targets.OstMaxBulkLength(piece.Object.OstIndex))
            {
                spans[^1] = last with { End = Math.Max(last.End, piece.End), Count = last.Count + 1 };
            }
            else
            {
                spans.Add(new ObjectSpan(piece.Object, piece.ObjectOffset, piece.End, k, 1));
            }
        }

        var all = CollectionsMarshal.AsSpan(spans).ToArray();
        for (var first = 0; first < all.Length;)
        {
            // One OST's spans: the large ones alone, the small ones packed into batches in object order.
            var ost = all[first].Object.OstIndex;
            var end = first;
            while (end < all.Length && all[end].Object.OstIndex == ost)
            {
                end++;
            }

            var batches = session.ServesReadBatch(ost);
            var batch = new List<ObjectSpan>();
            long batchBytes = 0;
            var limit = Math.Min(BatchBytes, session.Targets.OstMaxBulkLength(ost));
            for (var s = first; s < end; s++)
            {
                var span = all[s];
                if (!batches || span.Length >= SeparateRangeLimit)
                {
                    tasks.Add(ReadSeparateAsync(pieces, span, requests, limiter, cancellationToken));
                    continue;
                }

                if (batch.Count == OstReadBatchRequest.MaxRanges || batchBytes + span.Length > limit)
                {
                    tasks.Add(StartBatch(session, ost, pieces, [.. batch], requests, limiter, cancellationToken));
                    batch.Clear();
                    batchBytes = 0;
                }

                batch.Add(span);
                batchBytes += span.Length;
            }

            if (batch.Count > 0)
            {
                tasks.Add(StartBatch(session, ost, pieces, [.. batch], requests, limiter, cancellationToken));
            }

            first = end;
        }
    }

    private static Task StartBatch(FilesystemSession session, int ost, Piece[] pieces, ObjectSpan[] spans, IReadOnlyList<LustreReadRequest> requests, SemaphoreSlim? limiter, CancellationToken cancellationToken) =>
        spans.Length == 1
            ? ReadSeparateAsync(pieces, spans[0], requests, limiter, cancellationToken)
            : ReadBatchAsync(session, ost, pieces, spans, requests, limiter, cancellationToken);

    /// <summary>One object range as its own OstRead: into the destination when one request wants exactly it, else through a buffer.</summary>
    private static async Task ReadSeparateAsync(Piece[] pieces, ObjectSpan span, IReadOnlyList<LustreReadRequest> requests, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        var first = pieces[span.First];
        var length = span.Length;
        var scratch = span.Count == 1 ? null : BulkPool.Shared.Rent(length);
        try
        {
            var destination = scratch is null ? requests[first.Request].Destination.Slice(first.DestinationOffset, length) : scratch.AsMemory(0, length);
            var fileOffset = requests[first.Request].Offset + first.DestinationOffset;
            if (limiter is not null)
            {
                await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await StripedIo.ReadPieceAsync(first.File, new StripeExtent(0, 0, span.Object, span.Start, fileOffset, length), destination, verifiedByCaller: false, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                limiter?.Release();
            }

            if (scratch is not null)
            {
                Scatter(scratch.AsSpan(0, length), span, pieces, requests);
            }
        }
        finally
        {
            if (scratch is not null)
            {
                BulkPool.Shared.Return(scratch);
            }
        }
    }

    /// <summary>
    /// Several object ranges of one OST in one OstReadBatch, received straight into the requests' buffers (a span that
    /// several requests share goes through a buffer and is copied out); an OSS that does not serve batches (an older
    /// one) gets them one by one from then on.
    /// </summary>
    private static async Task ReadBatchAsync(FilesystemSession session, int ost, Piece[] pieces, ObjectSpan[] spans, IReadOnlyList<LustreReadRequest> requests, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        var shared = 0;
        foreach (var span in spans)
        {
            shared += span.Count > 1 ? span.Length : 0;
        }

        var scratch = shared == 0 ? null : BulkPool.Shared.Rent(shared);
        try
        {
            var segments = new Memory<byte>[spans.Length];
            var at = 0;
            for (var s = 0; s < spans.Length; s++)
            {
                var span = spans[s];
                if (span.Count == 1)
                {
                    var piece = pieces[span.First];
                    segments[s] = requests[piece.Request].Destination.Slice(piece.DestinationOffset, piece.Length);
                }
                else
                {
                    segments[s] = scratch.AsMemory(at, span.Length);
                    at += span.Length;
                }
            }

            bool served;
            if (limiter is not null)
            {
                await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                served = await CallBatchAsync(session, ost, pieces, spans, new ReplyBulk(segments), renewed: false, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                limiter?.Release();
            }

            if (!served)
            {
                session.StopReadBatches(ost);
                var singles = new Task[spans.Length];
                for (var s = 0; s < spans.Length; s++)
                {
                    singles[s] = ReadSeparateAsync(pieces, spans[s], requests, limiter, cancellationToken);
                }

                await StripedIo.WhenAllOrFirstFailure(singles).ConfigureAwait(false);
                return;
            }

            // The spans several requests share came into the buffer: copied out to each.
            for (var s = 0; s < spans.Length; s++)
            {
                if (spans[s].Count > 1)
                {
                    Scatter(segments[s].Span, spans[s], pieces, requests);
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                BulkPool.Shared.Return(scratch);
            }
        }
    }

    /// <summary>Sends one batch; false when the OSS answers that it does not know the opcode. Renews the files' capabilities once after a refusal.</summary>
    private static async Task<bool> CallBatchAsync(FilesystemSession session, int ost, Piece[] pieces, ObjectSpan[] spans, ReplyBulk bulk, bool renewed, CancellationToken cancellationToken)
    {
        var first = pieces[spans[0].First];
        try
        {
            var ranges = new ObjectRange[spans.Length];
            var capabilities = false;
            for (var s = 0; s < spans.Length; s++)
            {
                var span = spans[s];
                var file = pieces[span.First].File;
                await file.EnsureCapabilityAsync(span.Object, cancellationToken).ConfigureAwait(false);
                capabilities |= file.Capability is not null;
                ranges[s] = new ObjectRange(span.Object.ObjectId, span.Start, span.Length);
            }

            using var frame = FrameBuffer.Rent(64 + (spans.Length * (ObjectRange.Size + FileCapability.OstFieldLength)));
            new OstReadBatchRequest(ost, ranges).Write(frame.Body);
            if (capabilities)
            {
                foreach (var span in spans)
                {
                    WriteCapability(frame.Body, pieces[span.First].File.Capability, span.Object);
                }
            }

            using var reply = await session.Targets.CallAsync(TargetKind.Ost, ost, Opcode.OstReadBatch, frame, default, bulk, cancellationToken).ConfigureAwait(false);
            if (reply.Status == (int)LustreErrno.ENOSYS)
            {
                return false;
            }

            if (!renewed && reply.Status == (int)LustreErrno.EACCES)
            {
                var files = new HashSet<LustreFile>(ReferenceEqualityComparer.Instance);
                foreach (var span in spans)
                {
                    files.Add(pieces[span.First].File);
                }

                await Task.WhenAll(files.Select(f => f.RenewCapabilityAsync(cancellationToken))).ConfigureAwait(false);
                return await CallBatchAsync(session, ost, pieces, spans, bulk, renewed: true, cancellationToken).ConfigureAwait(false);
            }

            if (reply.Status != 0)
            {
                throw new LustreServerException((LustreErrno)reply.Status, $"{Describe(spans, first)}: {reply.ErrorMessage}", TargetNames.Ost(session.FsName, ost));
            }

            if (reply.BulkLength != bulk.Length)
            {
                throw new LustreException($"{TargetNames.Ost(session.FsName, ost)}: {Describe(spans, first)}: the reply holds {reply.BulkLength} bytes, not the {bulk.Length} asked for", LustreErrno.EPROTO, isTransient: false);
            }

            session.Answered(ost);
            LustreDiagnostics.IoBytes.Add(bulk.Length, new("lustre.direction", "read"), new("lustre.target", session.Targets.Ost(ost).Name));
            return true;
        }
        catch (LustreException ex) when (ex is not LustreServerException && ex.Errno != LustreErrno.EPROTO)
        {
            throw new LustreException($"{TargetNames.Ost(session.FsName, ost)}: {Describe(spans, first)} failed: {ex.Message}", ex.Errno, ex.IsTransient, ex);
        }
    }

    private static string Describe(ObjectSpan[] spans, Piece first) =>
        $"batched read of {spans.Length} ranges (the first of {first.File.Path}, object {spans[0].Object})";

    /// <summary>One range's capability field; zeros (refused) for a file that holds none while others of the batch do.</summary>
    private static void WriteCapability(BodyWriter writer, FileCapability? capability, OstObject obj)
    {
        if (capability is not null)
        {
            capability.WriteFor(writer, obj);
            return;
        }

        writer.WriteByte(0);
        writer.WriteInt64(0);
        writer.WriteFixed(stackalloc byte[FileCapability.TagLength]);
    }

    /// <summary>Copies each piece of <paramref name="span"/> from the span's bytes (<paramref name="bytes"/>) to its request's destination.</summary>
    private static void Scatter(ReadOnlySpan<byte> bytes, ObjectSpan span, Piece[] pieces, IReadOnlyList<LustreReadRequest> requests)
    {
        for (var k = span.First; k < span.First + span.Count; k++)
        {
            var piece = pieces[k];
            bytes.Slice((int)(piece.ObjectOffset - span.Start), piece.Length)
                .CopyTo(requests[piece.Request].Destination.Span.Slice(piece.DestinationOffset, piece.Length));
        }
    }

    private static async Task ReadOnMdtAsync(DomPiece piece, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        if (limiter is not null)
        {
            await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await StripedIo.ReadPieceAsync(piece.File, piece.Extent, piece.Destination, verifiedByCaller: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            limiter?.Release();
        }
    }

    private static async Task ReadMirroredAsync(LustreFile file, long offset, Memory<byte> destination, SemaphoreSlim? limiter, CancellationToken cancellationToken)
    {
        if (limiter is not null)
        {
            await limiter.WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await StripedIo.ReadAsync(file, offset, destination, verifiedByCaller: false, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            limiter?.Release();
        }
    }

    /// <summary>Bytes of a file's Data-on-MDT component (<paramref name="Extent"/>) and where they go.</summary>
    private readonly record struct DomPiece(LustreFile File, StripeExtent Extent, Memory<byte> Destination);

    /// <summary>
    /// The part of request <paramref name="Request"/> that lives in one stripe unit of one object: object bytes
    /// [<paramref name="ObjectOffset"/>, +<paramref name="Length"/>) go to its destination at <paramref name="DestinationOffset"/>.
    /// </summary>
    private readonly record struct Piece(int Request, LustreFile File, OstObject Object, long ObjectOffset, int DestinationOffset, int Length)
    {
        public long End => ObjectOffset + Length;
    }

    /// <summary>Object bytes [<paramref name="Start"/>, <paramref name="End"/>) that pieces <paramref name="First"/> to <paramref name="First"/> + <paramref name="Count"/> − 1 (sorted) cover.</summary>
    private readonly record struct ObjectSpan(OstObject Object, long Start, long End, int First, int Count)
    {
        public int Length => (int)(End - Start);
    }
}
