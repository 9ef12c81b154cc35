using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Diagnostics;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Lustre.Server.Stats;
using Lustre.Server.Storage;
using Lustre.Threading;

namespace Lustre.Server.Oss;

/// <summary>
/// The object storage service: answers OST opcodes for the OSTs this server hosts. Bulk writes were
/// checksum-verified by the session before they get here; reads go out with a checksum the client verifies. With a
/// key file, a client key's read, write or punch of an object needs a capability the MDS signed for it (Lustre's capa).
/// </summary>
internal sealed class OssService : IRpcService, IDisposable
{
    /// <summary>
    /// Reads at least this large whose reply needs no checksum may be sent from a mapping of the page cache
    /// (<see cref="MappedRegion"/>, Linux only: its mmap flags are Linux's; with <see cref="CachedReadMode.Map"/>); below it,
    /// mapping costs more than the copy it saves.
    /// </summary>
    internal const int ZeroCopyMinimum = 64 * 1024;

    private const string ReadDirection = "read";
    private const string WriteDirection = "write";

    private readonly Dictionary<int, ObjectStore> _targets;
    private readonly Dictionary<int, TargetStats> _stats;

    /// <summary>
    /// Destroy requests that run at once on this server. A destroy unlinks files, which blocks a thread; many of them
    /// blocked at once on a 2-core pool starve every other request of the server. Waiting here holds no thread.
    /// </summary>
    private readonly SemaphoreSlim _destroys = new(Math.Max(1, Environment.ProcessorCount / 2));

    private readonly CapabilityKeys? _capabilities;

    /// <param name="targets">The OSTs this server hosts.</param>
    /// <param name="capabilities">The keys capabilities are checked with; null when none are needed.</param>
    /// <param name="mapCachedReads">Whether large cached reads without a checksum are sent from a mapping of the page cache (<see cref="CachedReadMode.Map"/>); else through a pooled buffer.</param>
    public OssService(IEnumerable<ObjectStore> targets, CapabilityKeys? capabilities = null, bool mapCachedReads = false)
    {
        _targets = targets.ToDictionary(t => t.Index);
        _stats = _targets.Keys.ToDictionary(i => i, _ => TargetStats.ForOst());
        _capabilities = capabilities;
        MapsCachedReads = mapCachedReads && OperatingSystem.IsLinux();
    }

    /// <summary>Whether large cached reads without a checksum go out from a mapping of the page cache (else through a pooled buffer).</summary>
    public bool MapsCachedReads { get; }

    public IReadOnlyCollection<ObjectStore> Targets => _targets.Values;

    /// <summary>What OST <paramref name="index"/> counts: <c>obdfilter.*.stats</c>, <c>job_stats</c>, <c>brw_stats</c>.</summary>
    public TargetStats Stats(int index) => _stats[index];

    /// <summary>
    /// Counts an answered request in its OST's stats and its job's, as Lustre's OST counts them: bytes moved in
    /// <c>read_bytes</c>/<c>write_bytes</c>, each operation with its time in microseconds. Destroys come from the MDS,
    /// whose connection has no job.
    /// </summary>
    public void Account(RpcRequest request, int replyBulk, TimeSpan elapsed)
    {
        var body = request.Body;
        if (body.Length < sizeof(int) || !_stats.TryGetValue(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body), out var stats))
        {
            return;
        }

        var micros = (long)elapsed.TotalMicroseconds;
        var job = request.JobId;
        switch (request.Opcode)
        {
            case Opcode.OstRead or Opcode.OstReadBatch:
                stats.Add(TargetStats.OstReadBytes, replyBulk, job);
                stats.Add(TargetStats.OstRead, micros, job);
                break;
            case Opcode.OstWrite:
                stats.Add(TargetStats.OstWriteBytes, request.Header.BulkLength, job);
                stats.Add(TargetStats.OstWrite, micros, job);
                break;
            case Opcode.OstPunch:
                stats.Add(TargetStats.OstPunch, micros, job);
                break;
            case Opcode.OstSync:
                stats.Add(TargetStats.OstSync, micros, job);
                break;
            case Opcode.OstGetAttr:
                stats.Add(TargetStats.OstGetattr, micros, job);
                break;
            case Opcode.OstDestroy or Opcode.OstDestroyObjects:
                stats.Add(TargetStats.OstDestroy, micros, job);
                break;
            case Opcode.OstStatFs:
                stats.Add(TargetStats.OstStatfs, micros, job);
                break;
        }
    }

    public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
    [
        (Opcode.OstRead, ReadAsync),
        (Opcode.OstWrite, WriteAsync),
        (Opcode.OstPunch, PunchAsync),
        (Opcode.OstSync, SyncAsync),
        (Opcode.OstGetAttr, GetAttr),
        (Opcode.OstDestroy, DestroyAsync),
        (Opcode.OstDestroyObjects, DestroyObjectsAsync),
        (Opcode.OstStatFs, StatFs),
        (Opcode.OstReadBatch, ReadBatchAsync),
    ];

    /// <summary>
    /// A small read of an object whose handle is open runs on the reader loop: it tries the page cache without
    /// waiting (<see cref="CachedRead"/>) and, on a miss, its async read waits on the thread pool, not here.
    /// Anything that may open a file, map pages or wait for the disk on the calling thread goes to the OST's queue.
    /// </summary>
    public long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body)
    {
        if (opcode == Opcode.OstReadBatch)
        {
            try
            {
                return Math.Clamp(OstReadBatchRequest.TotalLengthOf(body), 0, ProtocolLimits.MaxBulkLength);
            }
            catch (ProtocolException)
            {
                return 0;
            }
        }

        if (opcode != Opcode.OstRead || body.Length < OstReadRequest.Size)
        {
            return 0;
        }

        var reader = new BodyReader(body);
        return Math.Clamp(OstReadRequest.Read(ref reader).Length, 0, ProtocolLimits.MaxBulkLength);
    }

    public bool CanRunInline(RpcRequest request)
    {
        if (request.Opcode != Opcode.OstRead || request.Body.Length < OstReadRequest.Size)
        {
            return false;
        }

        var reader = request.Reader;
        var read = OstReadRequest.Read(ref reader);
        return read.Length is >= 0 and <= ObjectStore.CachedReadLimit && read.Offset >= 0
            && _targets.TryGetValue(read.Object.OstIndex, out var store) && store.HasOpenHandle(read.Object.ObjectId);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> ReadAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var read = OstReadRequest.Read(ref reader);
        CheckCapability(request, ref reader, read.Object, CapabilityRights.Read);
        var store = Target(read.Object.OstIndex);
        CheckRange(read.Offset, read.Length, "read");
        var brw = _stats[store.Index].Brw!;
        var io = brw.Begin();
        try
        {
            if (read.Length >= ZeroCopyMinimum && OperatingSystem.IsLinux())
            {
                // On a plain local socket, bytes without a checksum go from the page cache with sendfile: the client's
                // receive is their only copy (docs/benchmarks.md, "Servers on the client's host through a local socket").
                if (request.ReplyBulkFromFile && store.TryCachedFileRange(read.Object.ObjectId, read.Offset, read.Length) is { } file)
                {
                    return RpcResponse.WithBulk(file, Counted(store, brw, io, ReadDirection, file.Memory.Length));
                }

                if (!request.ReplyBulkChecksummed && MapsCachedReads)
                {
                    // Nothing to hash, and mapping chosen (CachedReadMode.Map): the socket copies the bytes straight
                    // from the page cache, or, for an uncached range with direct reads on, from the buffer the disk
                    // wrote them into.
                    var region = await store.ReadRegionAsync(read.Object.ObjectId, read.Offset, read.Length).ConfigureAwait(false);
                    return region is null ? RpcResponse.Ok() : RpcResponse.WithBulk(region, Counted(store, brw, io, ReadDirection, region.Memory.Length));
                }

                // The session hashes a checksummed reply's bulk, which a mapping must not be (an object truncated
                // meanwhile would raise SIGBUS in this process); a direct read's buffer is ours, so it may. Without a
                // checksum, cached reads come here too unless mapping was chosen (CachedReadMode.Copy, the default).
                if (await store.TryReadDirectAsync(read.Object.ObjectId, read.Offset, read.Length).ConfigureAwait(false) is { } direct)
                {
                    return RpcResponse.WithBulk(direct, Counted(store, brw, io, ReadDirection, direct.Memory.Length));
                }
            }

            var buffer = BulkPool.Shared.Rent(Math.Max(read.Length, 1));
            try
            {
                var count = await store.ReadAsync(read.Object.ObjectId, read.Offset, buffer.AsMemory(0, read.Length), cancellationToken).ConfigureAwait(false);
                return RpcResponse.WithBulk(null, buffer, Counted(store, brw, io, ReadDirection, count));
            }
            catch
            {
                BulkPool.Shared.Return(buffer);
                throw;
            }
        }
        finally
        {
            brw.Leave();
        }
    }

    /// <summary>
    /// Many ranges of this OST's objects in one reply (<see cref="Opcode.OstReadBatch"/>): each range's capability is
    /// checked before any is read, then the ranges are read into one pooled bulk, each exactly its length (zeros past
    /// an object's end, or for a missing object, as a hole reads): cached ones at once, the others from the disk
    /// together (<see cref="ObjectStore.ReadRangesAsync"/>).
    /// </summary>
    private async ValueTask<RpcResponse> ReadBatchAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var batch = OstReadBatchRequest.Read(ref reader);
        var store = Target(batch.OstIndex);
        foreach (var range in batch.Ranges)
        {
            CheckCapability(request, ref reader, new ObjectRef(batch.OstIndex, range.ObjectId), CapabilityRights.Read);
            CheckRange(range.Offset, range.Length, "batched read");
        }

        var total = batch.TotalLength;
        if (total > ProtocolLimits.MaxBulkLength)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"batched read of {batch.Ranges.Length} ranges totals {total} bytes, over the bulk limit of {ProtocolLimits.MaxBulkLength}");
        }

        var brw = _stats[store.Index].Brw!;
        var io = brw.Begin();
        var buffer = BulkPool.Shared.Rent(Math.Max((int)total, 1));
        try
        {
            await store.ReadRangesAsync(batch.Ranges, buffer.AsMemory(0, (int)total), cancellationToken).ConfigureAwait(false);
            return RpcResponse.WithBulk(null, buffer, Counted(store, brw, io, ReadDirection, (int)total));
        }
        catch
        {
            BulkPool.Shared.Return(buffer);
            throw;
        }
        finally
        {
            brw.Leave();
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> WriteAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var write = OstWriteRequest.Read(ref reader);
        CheckCapability(request, ref reader, write.Object, CapabilityRights.Write);
        var store = Target(write.Object.OstIndex);
        CheckRange(write.Offset, request.Bulk.Length, "write");
        var brw = _stats[store.Index].Brw!;
        var io = brw.Begin();
        try
        {
            await store.WriteAsync(write.Object.ObjectId, write.Offset, request.Bulk, cancellationToken).ConfigureAwait(false);
            Counted(store, brw, io, WriteDirection, request.Bulk.Length);
        }
        finally
        {
            brw.Leave();
        }

        return RpcResponse.Ok();
    }

    private async ValueTask<RpcResponse> PunchAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var punch = OstPunchRequest.Read(ref reader);
        CheckCapability(request, ref reader, punch.Object, CapabilityRights.Write);
        CheckRange(punch.Size, 0, "punch");
        await BlockingCall.RunAsync(
            static p => p.Store.Punch(p.ObjectId, p.Size, p.ClientUuid, p.Xid),
            (Store: Target(punch.Object.OstIndex), punch.Object.ObjectId, punch.Size, request.ClientUuid, request.Header.Xid)).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    private async ValueTask<RpcResponse> SyncAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var target = ObjectRef.Read(ref reader);
        await BlockingCall.RunAsync(static t => t.Store.Sync(t.ObjectId), (Store: Target(target.OstIndex), target.ObjectId)).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    /// <summary>
    /// A client key's request must carry, after its fields, a capability for this object with <paramref name="needed"/>
    /// that a server key signed for that client key and that has not expired; anything else is EACCES, before the
    /// object is touched. Server and admin keys, one shared secret and clusters without keys are trusted.
    /// </summary>
    private void CheckCapability(RpcRequest request, ref BodyReader reader, ObjectRef target, CapabilityRights needed)
    {
        if (_capabilities is null || request.Key is not { Role: KeyRole.Client } key)
        {
            return;
        }

        var obj = new OstObject(target.OstIndex, target.ObjectId);
        if (reader.Remaining < FileCapability.OstFieldLength)
        {
            throw new RpcStatusException(LustreErrno.EACCES, $"object {obj}: client key '{key.Name}' sent no capability; open the file through the MDS to get one");
        }

        var rights = (CapabilityRights)reader.ReadByte("capability rights");
        var expires = reader.ReadInt64("capability expiry");
        var tag = reader.ReadFixed(FileCapability.TagLength, "capability tag");
        if (!_capabilities.Verify(key.Name, obj, rights, expires, tag))
        {
            throw new RpcStatusException(LustreErrno.EACCES, $"object {obj}: the capability does not verify for client key '{key.Name}' (forged, or issued for another object, key, rights or expiry)");
        }

        if (expires < DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())
        {
            throw new RpcStatusException(LustreErrno.EACCES, $"object {obj}: the capability expired at {DateTimeOffset.FromUnixTimeMilliseconds(expires):u}; renew it with the MDS");
        }

        if ((rights & needed) != needed)
        {
            throw new RpcStatusException(LustreErrno.EACCES, $"object {obj}: the capability grants {rights}, not {needed} (the file was opened without it)");
        }
    }

    private ValueTask<RpcResponse> GetAttr(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var target = ObjectRef.Read(ref reader);
        var (exists, size, allocated) = Target(target.OstIndex).GetAttributes(target.ObjectId);
        var body = FrameBuffer.Rent();
        new OstAttrReply(exists, size, allocated).Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    /// <summary>One object: the same path as <see cref="DestroyObjectsAsync"/> with a list of one.</summary>
    private ValueTask<RpcResponse> DestroyAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var target = ObjectRef.Read(ref reader);
        return DestroyAsync(Target(target.OstIndex), [target.ObjectId], cancellationToken);
    }

    /// <summary>
    /// The objects of unlinked files, up to <see cref="OstDestroyObjectsRequest.MaxObjects"/> in one request: one queue
    /// hop and one reply for all of them. Objects already gone count as destroyed.
    /// </summary>
    private ValueTask<RpcResponse> DestroyObjectsAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var destroy = OstDestroyObjectsRequest.Read(ref reader);
        return DestroyAsync(Target(destroy.OstIndex), destroy.ObjectIds, cancellationToken);
    }

    /// <summary>Unlinks on a thread of their own (each blocks it), behind the server's destroy gate.</summary>
    private async ValueTask<RpcResponse> DestroyAsync(ObjectStore store, ulong[] objectIds, CancellationToken cancellationToken)
    {
        await _destroys.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await BlockingCall.RunAsync(
                static d =>
                {
                    foreach (var id in d.objectIds)
                    {
                        d.store.Destroy(id);
                    }
                },
                (store, objectIds)).ConfigureAwait(false);
        }
        finally
        {
            _destroys.Release();
        }

        return RpcResponse.Ok();
    }

    private ValueTask<RpcResponse> StatFs(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var body = FrameBuffer.Rent();
        Usage(Target(OstIndexRequest.Read(ref reader).OstIndex)).Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    /// <summary>An OST's space, objects and state: what <c>lfs df</c> and its <c>kbytes*</c>, <c>files*</c> parameters show.</summary>
    public static StatFsReply Usage(ObjectStore store)
    {
        var (total, available) = store.SpaceUsage();

        // Each object is a file: the objects that still fit are the free inodes of the filesystem under the OST.
        var (freeInodes, state) = LocalVolume.Probe(store.Root);
        state |= (available <= 0 ? LustreTargetState.NoSpace : 0) | (freeInodes == 0 ? LustreTargetState.NoInodes : 0);
        return new StatFsReply(total, available, total - available, store.ObjectCount, freeInodes ?? 0, state);
    }

    /// <summary>Adds <paramref name="bytes"/> to the OST's I/O counter and its <c>brw_stats</c>; returns them.</summary>
    private static int Counted(ObjectStore store, BrwStats brw, (int InFlight, long Started) io, string direction, int bytes)
    {
        ServerDiagnostics.IoBytes.Add(bytes, new KeyValuePair<string, object?>(ServerDiagnostics.TargetTag, store.Name), new KeyValuePair<string, object?>(ServerDiagnostics.DirectionTag, direction));
        brw.End(io, ReferenceEquals(direction, WriteDirection), bytes);
        return bytes;
    }

    private ObjectStore Target(int index) =>
        _targets.TryGetValue(index, out var store)
            ? store
            : throw new RpcStatusException(LustreErrno.ENOENT, $"no OST with index {index} on this server");

    private static void CheckRange(long offset, long length, string operation)
    {
        if (offset < 0 || length < 0 || offset > ProtocolLimits.MaxFileSize - length)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"{operation} range offset {offset}, length {length} is outside 0..{ProtocolLimits.MaxFileSize}");
        }

        if (length > ProtocolLimits.MaxBulkLength)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"{operation} length {length} is over the bulk limit of {ProtocolLimits.MaxBulkLength}");
        }
    }

    public void Dispose()
    {
        _destroys.Dispose();
        foreach (var store in _targets.Values)
        {
            store.Dispose();
        }
    }
}
