using System.Buffers;
using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;

namespace Lustre.IO;

/// <summary>
/// An open file with positional, thread-safe reads and writes that fan out to every OST of the range at once.
/// Data is durable, and the size recorded on the MDS, when <see cref="FlushAsync"/> returns or the file is disposed.
/// </summary>
public sealed class LustreFile : IAsyncDisposable
{
    private readonly FilesystemSession _session;
    // Objects written since the last flush; made by the first write, so a read-only handle (one per file of a folder data set) carries none.
    private HashSet<OstObject>? _dirty;
    private readonly Lock _lock = new();
    private volatile FileLayout _layout;
    private int _readCursor;
    private long _length;
    private long _flushedLength;
    private Exception? _failure;
    private bool _disposed;
    private volatile FileCapability? _capability;
    private long _renewCapabilityAt;
    private Task? _renewing;
    private Task? _instantiating;
    private long _instantiatingEnd;

    // The file's bytes as the open found them, when they all live on the MDT and the open brought them (read-on-open):
    // a read-only handle's first read they cover is answered from here, as Lustre's client reads from the pages the
    // open reply filled; later reads go to the MDT (TryReadOpened). An array of ArrayPool<byte>.Shared holding
    // _openedLength bytes, given back when that read or the dispose takes it.
    private byte[]? _opened;
    private readonly int _openedLength;

    /// <param name="session">The client's session.</param>
    /// <param name="path">The path the file was opened by.</param>
    /// <param name="attributes">The file as the open found it.</param>
    /// <param name="writable">Opened for writing.</param>
    /// <param name="opened">Read-on-open: every byte of the file (its size, at the start of an array of
    /// <see cref="ArrayPool{T}.Shared"/> the file now owns), for a read-only handle; else null.</param>
    internal LustreFile(FilesystemSession session, string path, InodeAttributes attributes, bool writable, byte[]? opened = null)
    {
        _session = session;
        CanWrite = writable;
        Path = path;
        Fid = attributes.Fid;
        try
        {
            _layout = LayoutCodec.Decode(attributes.Layout);
        }
        catch when (opened is not null)
        {
            ArrayPool<byte>.Shared.Return(opened);
            throw;
        }
        _length = attributes.Size;
        _flushedLength = attributes.Size;
        if (opened is not null)
        {
            if (!writable && (ulong)attributes.Size <= (ulong)opened.Length)
            {
                _opened = opened;
                _openedLength = (int)attributes.Size;
            }
            else
            {
                ArrayPool<byte>.Shared.Return(opened);
            }
        }

        SetCapability(attributes.Capability);
    }

    /// <summary>True when opened with write access.</summary>
    public bool CanWrite { get; }

    /// <summary>The path the file was opened by.</summary>
    public string Path { get; }

    /// <summary>The file identifier.</summary>
    public LustreFid Fid { get; }

    /// <summary>Where the file's bytes live: as at open, or as changed since by a mirror this handle marked stale.</summary>
    public FileLayout Layout => _layout;

    /// <summary>The size: as recorded at open, grown by this handle's writes, or as set by <see cref="SetLengthAsync"/>.</summary>
    public long Length => Interlocked.Read(ref _length);

    internal FilesystemSession Session => _session;

    /// <summary>True once disposed: a batched read refuses it as <see cref="ReadAtAsync(long, Memory{byte}, CancellationToken)"/> does.</summary>
    internal bool IsDisposed => _disposed;

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>; returns fewer only at end of file. Holes read as zeros.</summary>
    public ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReadAtAsync(offset, buffer, verifiedByCaller: false, cancellationToken);

    /// <summary>
    /// As <see cref="ReadAtAsync(long, Memory{byte}, CancellationToken)"/>; with <paramref name="verifiedByCaller"/> the
    /// caller checks the bytes against its own checksum (a checkpoint's chunk hash), so the transfers skip the bulk checksum.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    internal async ValueTask<int> ReadAtAsync(long offset, Memory<byte> buffer, bool verifiedByCaller, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, ProtocolLimits.MaxFileSize);
        var length = Length;
        if (offset >= length || buffer.IsEmpty)
        {
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, length - offset);
        using var activity = LustreDiagnostics.StartOperation("lustre.read", Path);
        try
        {
            await StripedIo.ReadAsync(this, offset, buffer[..count], verifiedByCaller, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }

        return count;
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/>, extending the file as needed.</summary>
    /// <remarks>
    /// Cancelling stops the pieces not sent yet and waits for the replies of those sent (so none lands after this
    /// returns), then throws <see cref="OperationCanceledException"/>: part of the range may be written, the rest holds
    /// what it held (zeros past the old end), and <see cref="Length"/> covers every piece that landed. The handle stays
    /// usable; write the range again to be sure of it.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask WriteAtAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (offset > ProtocolLimits.MaxFileSize - data.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"Writing {data.Length} bytes at {offset} goes past the maximum file size of {ProtocolLimits.MaxFileSize} bytes.");
        }

        ThrowIfFailed();
        if (!CanWrite)
        {
            throw new NotSupportedException($"{Path} was opened read-only.");
        }

        if (data.IsEmpty)
        {
            return;
        }

        ThrowIfPastLayout(offset + data.Length, $"writing {data.Length} bytes at offset {offset}");

        using var activity = LustreDiagnostics.StartOperation("lustre.write", Path);
        if (offset + data.Length > _layout.InstantiatedEnd)
        {
            try
            {
                // Refused (past the layout's end), nothing was written: the handle stays good.
                await InstantiateAsync(offset + data.Length, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
            {
                throw;
            }
        }

        try
        {
            await StripedIo.WriteAsync(this, offset, data, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            lock (_lock)
            {
                // Some stripes may have landed and others not: no later flush may claim this data is safe.
                _failure ??= ex;
            }

            throw;
        }

        GrowTo(offset + data.Length);
    }

    /// <summary>
    /// A file whose layout is one Data-on-MDT component cannot grow past it: EFBIG, as Lustre answers, naming the limit
    /// and the way out (a migration to a layout with OST components).
    /// </summary>
    private void ThrowIfPastLayout(long end, string what)
    {
        // A PFL layout that stops short is extended by --component-add: a write past it is the MDS's ENODATA, as Lustre's.
        var layout = _layout;
        if (layout.HasDataOnMdt && layout.Components.Count == 1 && end > layout.End)
        {
            throw new LustreException(
                $"{Path}: {what} would take the file to {end} bytes, past the end of its layout at {layout.End} bytes: it keeps its bytes on the MDT (Data-on-MDT) and has no OST component after that (EFBIG, as in Lustre). Migrate it to a layout with OST components (lfs migrate) to grow it.",
                LustreErrno.EFBIG,
                isTransient: false);
        }
    }

    /// <summary>
    /// Copies bytes the open brought (read-on-open) to <paramref name="destination"/> and returns true, when this handle
    /// has them for the whole range; false when the range must be read from the MDT. Once only: the bytes are the file
    /// as the open found it, and a later read asks the MDT, as every read without read-on-open does, so it sees what
    /// other clients wrote since (<c>ReadAtAsync</c> keeps no cache).
    /// </summary>
    internal bool TryReadOpened(long offset, Span<byte> destination)
    {
        if (Interlocked.Exchange(ref _opened, null) is not { } opened)
        {
            return false;
        }

        if (offset > _openedLength - destination.Length)
        {
            // Not this range: the bytes stay for the read that wants them, unless the handle was disposed meanwhile
            // (its dispose found nothing to give back), in which case they go back to the pool here.
            if (Interlocked.CompareExchange(ref _opened, opened, null) is null && Volatile.Read(ref _disposed)
                && Interlocked.Exchange(ref _opened, null) is { } late)
            {
                ArrayPool<byte>.Shared.Return(late);
            }

            return false;
        }

        opened.AsSpan((int)offset, destination.Length).CopyTo(destination);
        ArrayPool<byte>.Shared.Return(opened);
        return true;
    }

    /// <summary>
    /// The MDS recorded <paramref name="size"/> with a Data-on-MDT write, with the write's mtime: a flush or close has no
    /// size to send for it.
    /// </summary>
    internal void SizeRecorded(long size) => RaiseTo(ref _flushedLength, size);

    /// <summary>Raises <see cref="Length"/> to <paramref name="end"/>: as each piece of a write lands, so a write that stops part way still counts what it wrote.</summary>
    internal void GrowTo(long end) => RaiseTo(ref _length, end);

    /// <summary>Raises <paramref name="field"/> to <paramref name="value"/>, never lowering it, whatever other threads do meanwhile.</summary>
    private static void RaiseTo(ref long field, long value)
    {
        long current;
        while ((current = Interlocked.Read(ref field)) < value && Interlocked.CompareExchange(ref field, value, current) != current)
        {
        }
    }

    internal void MarkDirty(OstObject obj)
    {
        lock (_lock)
        {
            (_dirty ??= []).Add(obj);
        }
    }

    /// <summary>The in-sync mirrors in the order a read tries them: preferred first, else starting one further each call; those on OSTs that failed lately last.</summary>
    internal LayoutMirror[] ReadOrder(FileLayout layout)
    {
        var inSync = layout.Mirrors.Where(m => !m.IsStale).ToArray();
        if (inSync.Length == 0)
        {
            throw new LustreException($"{Path}: no mirror is in sync, so there is no copy to read", LustreErrno.EIO, isTransient: false);
        }

        // Sorted by one key per mirror: suspect last, then preferred first, then its turn after this call's start.
        var start = (int)((uint)Interlocked.Increment(ref _readCursor) % (uint)inSync.Length);
        var keys = new int[inSync.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            var turn = (i - start + inSync.Length) % inSync.Length;
            keys[i] = ((_session.IsSuspect(inSync[i].Layout) ? 2 : 0) + (inSync[i].IsPreferred ? 0 : 1)) * FileLayout.MaxMirrors + turn;
        }

        Array.Sort(keys, inSync);
        return inSync;
    }

    /// <summary>
    /// Runs <paramref name="action"/> on every in-sync mirror at once. Mirrors it failed on are marked stale on the MDS
    /// (durably, before this returns); it throws only when it failed on every mirror, or a failed mirror could not be
    /// marked stale (then a later read could find old bytes there, so the data is not safe). Every in-sync mirror is
    /// tried, even one whose OST failed lately: a mirror is only marked stale for a failure it had.
    /// </summary>
    internal async Task OnEachMirrorAsync(FileLayout layout, Func<LayoutMirror, Task> action, string operation, CancellationToken cancellationToken)
    {
        var mirrors = layout.Mirrors.Where(m => !m.IsStale).ToArray();
        if (mirrors.Length == 0)
        {
            throw new LustreException($"{Path}: no mirror is in sync, so the {operation} has nowhere to go", LustreErrno.EIO, isTransient: false);
        }

        var tasks = new Task[mirrors.Length];
        for (var i = 0; i < mirrors.Length; i++)
        {
            tasks[i] = action(mirrors[i]);
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
            return;
        }
        catch when (!cancellationToken.IsCancellationRequested && tasks.Any(t => t.IsCompletedSuccessfully) && !tasks.Any(t => t.IsCanceled))
        {
            // Some mirrors took it: the others go stale below.
        }

        for (var i = 0; i < mirrors.Length; i++)
        {
            if (tasks[i].IsFaulted)
            {
                _session.MarkSuspect(mirrors[i].Layout);
                await MarkStaleAsync(mirrors[i].Id, operation, tasks[i].Exception!.InnerException!, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task MarkStaleAsync(int mirrorId, string operation, Exception reason, CancellationToken cancellationToken)
    {
        InodeAttributes attributes;
        try
        {
            attributes = await _session.MirrorAsync(new MirrorRequest(Fid, MirrorOperation.MarkStale, mirrorId, 0, []), Path, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LustreException or IOException)
        {
            throw new LustreException(
                $"{Path}: mirror {mirrorId} missed a {operation} ({reason.Message}) and could not be marked stale, so the {operation} is not safe: {ex.Message}",
                LustreErrno.EIO,
                isTransient: false,
                ex);
        }

        var layout = LayoutCodec.Decode(attributes.Layout);
        UpdateLayout(layout);
        LustreDiagnostics.MirrorsMarkedStale.Add(1);
        ClientLog.MirrorStale(_session.Logger, Path, mirrorId, operation, layout.Generation, reason.Message);
    }

    /// <summary>The OST capability the MDS issued with the open (a cluster with client keys), sent with every read, write and punch; else null.</summary>
    internal FileCapability? Capability => _capability;

    private void SetCapability(byte[]? encoded)
    {
        var capability = FileCapability.Decode(encoded);
        if (capability is not null)
        {
            // Renewed with a quarter of its life left, by this host's monotonic clock (the expiry is the servers').
            var life = capability.ExpiresMs - DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            Volatile.Write(ref _renewCapabilityAt, Environment.TickCount64 + Math.Max(0, life * 3 / 4));
        }

        _capability = capability;
    }

    /// <summary>Completes at once unless the capability is near its expiry or lacks <paramref name="obj"/> (the layout grew since).</summary>
    internal ValueTask EnsureCapabilityAsync(OstObject obj, CancellationToken cancellationToken) =>
        _capability is not { } capability || (Environment.TickCount64 < Volatile.Read(ref _renewCapabilityAt) && capability.Covers(obj))
            ? ValueTask.CompletedTask
            : new ValueTask(RenewCapabilityAsync(cancellationToken));

    /// <summary>
    /// Asks the MDS for a fresh capability with the rights this handle has (one request for every caller at once):
    /// before the last one expires, and once after an OST refused a request (EACCES: the capability expired early by
    /// the servers' clocks, or an open resent across an MDS restart came back without one), after which the request
    /// is sent again once; a second refusal is the caller's error.
    /// </summary>
    internal Task RenewCapabilityAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_renewing is { IsCompleted: false } running)
            {
                return running.WaitAsync(cancellationToken);
            }

            _renewing = RenewCoreAsync();
            return _renewing.WaitAsync(cancellationToken);
        }
    }

    private async Task RenewCoreAsync()
    {
        var rights = _capability?.Rights ?? (CanWrite ? CapabilityRights.Read | CapabilityRights.Write : CapabilityRights.Read);
        var flags = ((rights & CapabilityRights.Read) != 0 ? OpenFlags.Read : OpenFlags.None) | ((rights & CapabilityRights.Write) != 0 ? OpenFlags.Write : OpenFlags.None);
        var attributes = await _session.RenewCapabilityAsync(new CapabilityRequest(Fid, flags), Path, CancellationToken.None).ConfigureAwait(false);
        UpdateLayout(LayoutCodec.Decode(attributes.Layout));
        SetCapability(attributes.Capability);
    }

    /// <summary>
    /// A write or truncate reaches <paramref name="end"/>, past the components this handle knows to have objects: asks
    /// the MDS to instantiate every component below it (Lustre's layout intent write) and takes the layout and
    /// capability it answers. Another client may have done it already; the MDS then answers the layout as it is. The
    /// writes of this handle that need it at once share one request (chunked copies have several in flight).
    /// </summary>
    /// <exception cref="LustreServerException">ENODATA: the layout ends before <paramref name="end"/> (a PFL layout that stops short of EOF).</exception>
    private Task InstantiateAsync(long end, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_instantiating is not { IsCompleted: false } || _instantiatingEnd < end)
            {
                _instantiatingEnd = end;
                _instantiating = InstantiateCoreAsync(end);
            }

            return _instantiating.WaitAsync(cancellationToken);
        }
    }

    private async Task InstantiateCoreAsync(long end)
    {
        // Not cancelled by one writer: others may wait for it, and the MDS applies it anyway once sent.
        var attributes = await _session.ChangeLayoutAsync(new LayoutRequest(Fid, LayoutOperation.Instantiate, end, 0, ComponentSelection.ById, []), Path, CancellationToken.None).ConfigureAwait(false);
        var layout = LayoutCodec.Decode(attributes.Layout);
        UpdateLayout(layout);
        if (attributes.Capability is not null)
        {
            SetCapability(attributes.Capability);
        }

        await _session.EnsureOstsKnownAsync(layout, CancellationToken.None).ConfigureAwait(false);
    }

    /// <summary>Takes a layout the MDS returned, unless this handle already holds a newer one.</summary>
    internal void UpdateLayout(FileLayout layout)
    {
        var current = _layout;
        while (layout.Generation > current.Generation)
        {
            var seen = Interlocked.CompareExchange(ref _layout, layout, current);
            if (ReferenceEquals(seen, current))
            {
                return;
            }

            current = seen;
        }
    }

    /// <summary>
    /// Makes every byte written so far durable on its OST (fsync of each touched object, in parallel) and records
    /// the size on the MDS. Throws if an earlier write failed: that data is not safe.
    /// </summary>
    public Task FlushAsync(CancellationToken cancellationToken = default) => FlushCoreAsync(closing: false, cancellationToken).AsTask();

    /// <summary>
    /// Syncs every touched object, then records the size on the MDS: with a setattr, or, when closing, in the close
    /// itself (one durable MDS operation instead of two, as Lustre's size-on-close).
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask FlushCoreAsync(bool closing, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ThrowIfFailed();
        using var activity = LustreDiagnostics.StartOperation("lustre.flush", Path);
        OstObject[] dirty;
        lock (_lock)
        {
            dirty = _dirty is null ? [] : [.. _dirty];
            _dirty?.Clear();
        }

        try
        {
            var layout = _layout;
            if (layout.IsMirrored)
            {
                await SyncMirrorsAsync(layout, dirty, cancellationToken).ConfigureAwait(false);
            }
            else if (dirty.Length > 0)
            {
                await StripedIo.SyncAsync(this, dirty, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            LustreDiagnostics.Fail(activity, ex);
            lock (_lock)
            {
                (_dirty ??= []).UnionWith(dirty);
            }

            throw;
        }

        var length = Length;
        var changed = dirty.Length > 0 || length != Interlocked.Read(ref _flushedLength);
        var now = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;
        try
        {
            if (closing)
            {
                await _session.CloseAsync(new CloseRequest(Fid, Writer: true, changed ? length : CloseRequest.NoSize, now), cancellationToken).ConfigureAwait(false);
                Interlocked.Exchange(ref _flushedLength, length);
            }
            else if (changed)
            {
                await _session.SetAttributesAsync(new SetAttrRequest(Fid, SetAttrMask.SizeAtLeast | SetAttrMask.ModifyTime, length, 0, 0, 0, 0, now), Path, cancellationToken).ConfigureAwait(false);
                Interlocked.Exchange(ref _flushedLength, length);
            }
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }
    }

    /// <summary>
    /// Each in-sync mirror syncs its own objects; one that fails goes stale. Objects of stale mirrors are not synced.
    /// In its own method: the lambda's closure would otherwise be allocated on every flush and close.
    /// </summary>
    private Task SyncMirrorsAsync(FileLayout layout, OstObject[] dirty, CancellationToken cancellationToken) =>
        OnEachMirrorAsync(
            layout,
            mirror =>
            {
                var own = mirror.Layout.AllObjects().ToHashSet();
                return StripedIo.SyncAsync(this, [.. dirty.Where(own.Contains)], cancellationToken);
            },
            "sync",
            cancellationToken);

    /// <summary>Truncates or extends the file (the extension reads as zeros), on every object and on the MDS.</summary>
    public async Task SetLengthAsync(long length, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, ProtocolLimits.MaxFileSize);
        ThrowIfFailed();
        if (!CanWrite)
        {
            throw new NotSupportedException($"{Path} was opened read-only.");
        }

        ThrowIfPastLayout(length, "setting its length");

        // The object holding the new last byte records the size: its component needs objects, as for a write there.
        if (length > _layout.InstantiatedEnd)
        {
            await InstantiateAsync(length, cancellationToken).ConfigureAwait(false);
        }

        await StripedIo.PunchAsync(this, length, cancellationToken).ConfigureAwait(false);
        var attributes = await _session.SetAttributesAsync(new SetAttrRequest(Fid, SetAttrMask.Size, length, 0, 0, 0, 0, 0), Path, cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _length, attributes.Size);
        Interlocked.Exchange(ref _flushedLength, attributes.Size);
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw new LustreException($"{Path}: an earlier write failed, so its data is not durable: {failure.Message}", LustreErrno.EIO, isTransient: false, failure);
        }
    }

    /// <summary>Flushes (see <see cref="FlushAsync"/>) and closes the file; the size goes to the MDS with the close.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        if (!CanWrite)
        {
            _disposed = true;
            if (Interlocked.Exchange(ref _opened, null) is { } unread)
            {
                ArrayPool<byte>.Shared.Return(unread);
            }

            return;
        }

        var closed = false;
        try
        {
            if (_failure is null)
            {
                await FlushCoreAsync(closing: true, CancellationToken.None).ConfigureAwait(false);
                closed = true;
            }
        }
        finally
        {
            _disposed = true;
            if (!closed)
            {
                await CloseQuietlyAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task CloseQuietlyAsync()
    {
        try
        {
            await _session.CloseAsync(new CloseRequest(Fid, Writer: true), CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The MDS forgets open handles at restart anyway; a lost close only costs later stats a glimpse.
        }
    }
}
