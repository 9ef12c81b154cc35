using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Lustre.Server.Stats;
using Lustre.Server.Storage;
using Lustre.Threading;

namespace Lustre.Server.Mds;

/// <summary>
/// The metadata service: decodes MDS requests and answers them from the namespace. It is served from the node's
/// start, before the namespace exists (the MDS learns its own address only once it listens); until
/// <see cref="Attach"/>, every request is told EBUSY, which clients retry. Each request acts as its connection's
/// identity (<see cref="RpcRequest.Identity"/>); an open by a client key is answered with OST capabilities.
/// </summary>
internal sealed class MdsService(CapabilityKeys? capabilities = null) : IRpcService
{
    private MdtNamespace? _namespace;

    public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
    [
        (Opcode.MdsGetAttr, GetAttr),
        (Opcode.MdsOpen, OpenAsync),
        (Opcode.MdsClose, CloseAsync),
        (Opcode.MdsSetAttr, SetAttrAsync),
        (Opcode.MdsReadDir, ReadDir),
        (Opcode.MdsMkdir, MkdirAsync),
        (Opcode.MdsRmdir, (request, _) => RemoveAsync(request, directory: true)),
        (Opcode.MdsUnlink, (request, _) => RemoveAsync(request, directory: false)),
        (Opcode.MdsRename, RenameAsync),
        (Opcode.MdsSetDirLayout, SetDirLayoutAsync),
        (Opcode.MdsStatFs, StatFs),
        (Opcode.MdsBackup, BackupAsync),
        (Opcode.MdsDisconnect, DisconnectAsync),
        (Opcode.MdsMirror, MirrorAsync),
        (Opcode.MdsCapability, Capability),
        (Opcode.MdsReadDirPlus, ReadDirPlus),
        (Opcode.MdsGetAttrBatch, GetAttrBatch),
        (Opcode.MdsMigrate, MigrateAsync),
        (Opcode.MdsOpenBatch, OpenBatch),
        (Opcode.MdsLayout, LayoutAsync),
        (Opcode.MdsDomRead, DomRead),
        (Opcode.MdsDomWrite, DomWriteAsync),
        (Opcode.MdsDomReadBatch, DomReadBatch),
        (Opcode.MdsStatAheadRelease, StatAheadRelease),
    ];

    /// <summary>A Data-on-MDT read's length, and the file bytes a read-only open asked for (read-on-open): set aside before the request is read.</summary>
    public long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body)
    {
        if (opcode == Opcode.MdsOpen)
        {
            return OpenRequest.ReplyBulkBytes(body);
        }

        if (opcode == Opcode.MdsDomReadBatch)
        {
            try
            {
                return Math.Clamp(DomReadBatchRequest.TotalLengthOf(body), 0, ProtocolLimits.MaxBulkLength);
            }
            catch (ProtocolException)
            {
                // Malformed: the handler refuses it with the reader's own message.
                return 0;
            }
        }

        if (opcode != Opcode.MdsDomRead || body.Length < DomReadRequest.Size)
        {
            return 0;
        }

        var reader = new BodyReader(body);
        return Math.Clamp(DomReadRequest.Read(ref reader).Length, 0, ProtocolLimits.MaxBulkLength);
    }

    private MdtNamespace Namespace => _namespace ?? throw new RpcStatusException(LustreErrno.EBUSY, "the MDS is starting");

    /// <summary>What the MDT counts: <c>mdt.*.md_stats</c> and <c>job_stats</c>.</summary>
    public TargetStats Stats { get; } = TargetStats.ForMdt();

    /// <summary>
    /// Counts an answered request in <c>md_stats</c> and its job's, under Lustre's MDT counter names: a create is an
    /// <c>open</c> (as Lustre counts an open that creates), a directory's default layout a <c>setxattr</c> (Lustre's
    /// <c>lfs setstripe</c> on a directory sets the <c>lustre.lov</c> xattr; so do a mirror change and a component change),
    /// a directory page a <c>readpage</c>, Data-on-MDT reads and writes <c>read</c>/<c>write</c> and their bytes (a create with
    /// data is an <c>open</c> and a <c>write</c>); batched
    /// getattrs and opens count one sample per file, each with its share of the time.
    /// </summary>
    public void Account(RpcRequest request, int replyBulk, TimeSpan elapsed)
    {
        var micros = (long)elapsed.TotalMicroseconds;
        var job = request.JobId;
        var stats = Stats;
        switch (request.Opcode)
        {
            case Opcode.MdsOpen:
                stats.Add(TargetStats.MdtOpen, micros, job);
                if (request.Header.BulkLength > 0)
                {
                    // A create with data: its bytes count as a Data-on-MDT write's do.
                    stats.Add(TargetStats.MdtWriteBytes, request.Header.BulkLength, job);
                    stats.Add(TargetStats.MdtWrite, micros, job);
                }

                break;
            case Opcode.MdsOpenBatch or Opcode.MdsGetAttrBatch:
                var body = request.Body;
                var count = body.Length >= 8 ? Math.Max(1, System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body[4..])) : 1;
                var reads = request.Opcode == Opcode.MdsOpenBatch || (System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(body) & (uint)OpenFlags.Read) != 0;
                for (var i = 0; i < count; i++)
                {
                    stats.Add(reads ? TargetStats.MdtOpen : TargetStats.MdtGetattr, micros / count, job);
                }

                break;
            case Opcode.MdsClose:
                stats.Add(TargetStats.MdtClose, micros, job);
                break;
            case Opcode.MdsGetAttr:
                stats.Add(TargetStats.MdtGetattr, micros, job);
                break;
            case Opcode.MdsSetAttr:
                stats.Add(TargetStats.MdtSetattr, micros, job);
                break;
            case Opcode.MdsMkdir:
                stats.Add(TargetStats.MdtMkdir, micros, job);
                break;
            case Opcode.MdsRmdir:
                stats.Add(TargetStats.MdtRmdir, micros, job);
                break;
            case Opcode.MdsUnlink:
                stats.Add(TargetStats.MdtUnlink, micros, job);
                break;
            case Opcode.MdsRename:
                stats.Add(TargetStats.MdtRename, micros, job);
                var reader = request.Reader;
                var rename = RenameRequest.Read(ref reader);
                var sameDirectory = string.Equals(Parent(rename.From), Parent(rename.To), StringComparison.Ordinal);
                stats.Add(sameDirectory ? TargetStats.MdtSamedirRename : TargetStats.MdtCrossdirRename, micros, job);
                break;
            case Opcode.MdsSetDirLayout or Opcode.MdsMirror or Opcode.MdsLayout:
                stats.Add(TargetStats.MdtSetxattr, micros, job);
                break;
            case Opcode.MdsDomRead:
                // Data-on-MDT bytes, as Lustre's MDT counts them: read_bytes/write_bytes and read/write.
                stats.Add(TargetStats.MdtReadBytes, replyBulk, job);
                stats.Add(TargetStats.MdtRead, micros, job);
                break;
            case Opcode.MdsDomReadBatch:
                // One read per range, each with its share of the time, as batched opens count.
                stats.Add(TargetStats.MdtReadBytes, replyBulk, job);
                var ranges = DomRangeCount(request.Body);
                for (var i = 0; i < ranges; i++)
                {
                    stats.Add(TargetStats.MdtRead, micros / ranges, job);
                }

                break;
            case Opcode.MdsDomWrite:
                stats.Add(TargetStats.MdtWriteBytes, request.Header.BulkLength, job);
                stats.Add(TargetStats.MdtWrite, micros, job);
                break;
            case Opcode.MdsStatFs:
                stats.Add(TargetStats.MdtStatfs, micros, job);
                break;
            case Opcode.MdsReadDir or Opcode.MdsReadDirPlus:
                stats.Add(TargetStats.MdtReadpage, micros, job);
                break;
            case Opcode.MdsMigrate:
                stats.Add(TargetStats.MdtMigrate, micros, job);
                break;
        }

        static string Parent(string path) => path[..Math.Max(0, path.TrimEnd('/').LastIndexOf('/'))];
    }

    /// <summary>Starts answering from <paramref name="ns"/>.</summary>
    public void Attach(MdtNamespace ns) => _namespace = ns;

    private ValueTask<RpcResponse> GetAttr(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        return ValueTask.FromResult(RpcResponse.Ok(Namespace.GetAttrReply(PathRequest.Read(ref reader).Path, request.Identity)));
    }

    // The handlers of the common changes (open, close, unlink, mkdir, setattr, Data-on-MDT write) use pooled builders: the session awaits
    // a handler's result exactly once.
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> OpenAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var open = OpenRequest.Read(ref reader);

        // Read before the inode is: a layout swap completed in between makes a writer read it again.
        var swaps = Namespace.LayoutSwaps;
        // Bulk with an open is a create with data: the new file's Data-on-MDT bytes, committed with it.
        var attributes = await Namespace.OpenAsync(open, ChangeOrigin.Of(request), request.Identity, request.Bulk).ConfigureAwait(false);
        if ((open.Flags & OpenFlags.Write) != 0)
        {
            attributes = await Namespace.OpenForWriteAsync(attributes, swaps).ConfigureAwait(false);
        }

        var reply = Attributes(WithCapability(request, attributes, open.Flags));
        if (open.WantsData && Namespace.ReadOnOpen(attributes, Math.Min(open.ReadOnOpen, ProtocolLimits.MaxBulkLength)) is { } data)
        {
            // Read-on-open: the whole file, from its Data-on-MDT component, as the reply's bulk.
            return RpcResponse.WithBulk(reply.Body, data.Buffer, data.Length);
        }

        return reply;
    }

    /// <summary>Bytes of a file's Data-on-MDT component, as the reply's bulk (short at the end of the file's bytes).</summary>
    private ValueTask<RpcResponse> DomRead(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var (buffer, length) = Namespace.ReadDataOnMdt(DomReadRequest.Read(ref reader), request.Identity);
        return ValueTask.FromResult(buffer is null ? RpcResponse.Ok() : RpcResponse.WithBulk(null, buffer, length));
    }

    /// <summary>
    /// Ranges of many files' Data-on-MDT components, back to back in the reply's bulk (<see cref="Opcode.MdsDomReadBatch"/>).
    /// Read on <see cref="BlockingCall"/>'s threads: a batch of files not in RocksDB's cache waits for the disk once per
    /// file, and on the thread pool (about two threads on two cores) that would hold the disk to a queue of two.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> DomReadBatch(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var batch = DomReadBatchRequest.Read(ref reader);
        var (buffer, length) = await BlockingCall.RunAsync(
            static s => s.Namespace.ReadDataOnMdt(s.Batch, s.Identity),
            (Namespace, Batch: batch, request.Identity)).ConfigureAwait(false);
        return buffer is null ? RpcResponse.Ok() : RpcResponse.WithBulk(null, buffer, length);
    }

    /// <summary>The ranges of a batched Data-on-MDT read (its leading count), 1 when it cannot be read.</summary>
    private static int DomRangeCount(ReadOnlySpan<byte> body) =>
        body.Length >= 4 ? Math.Clamp(System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(body), 1, DomReadBatchRequest.MaxRanges) : 1;

    /// <summary>The request's bulk into a file's Data-on-MDT component, durable before the reply; the reply is the file's size.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> DomWriteAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var write = DomWriteRequest.Read(ref reader);
        var size = await Namespace.WriteDataOnMdtAsync(write, request.Bulk, ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        var body = FrameBuffer.Rent(64);
        new DomWriteReply(size).Write(body.Body);
        return RpcResponse.Ok(body);
    }

    /// <summary>Many files of one directory opened for reading at once, each with its own status and, for a client key, its capability.</summary>
    private ValueTask<RpcResponse> OpenBatch(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var open = OpenBatchRequest.Read(ref reader);
        var entries = Namespace.OpenBatch(open, request.Identity, attributes => WithCapability(request, attributes, OpenFlags.Read), OpenBatchReply.MaxBodyBytes);
        var bytes = sizeof(int);
        foreach (var entry in entries)
        {
            bytes += entry.EncodedLength;
        }

        var body = FrameBuffer.Rent(bytes + 64);
        new OpenBatchReply(entries).Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    /// <summary>Fresh OST capabilities for a file a client has open, its permission checked again.</summary>
    private ValueTask<RpcResponse> Capability(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var renew = CapabilityRequest.Read(ref reader);
        var attributes = Namespace.Reauthorize(renew.Fid, renew.Flags, request.Identity);

        // A migrator's handle renews too: while a migration runs, the objects it copies to are covered.
        return ValueTask.FromResult(Attributes(WithCapability(request, attributes, renew.Flags, Namespace.MigrationLayoutOf(renew.Fid))));
    }

    /// <summary>
    /// A client key's open gets a capability for every object of the file (and of <paramref name="migrating"/>, the
    /// new layout of a migration), with the rights the open asked for (a reply cached for a resend keeps the one first
    /// issued). Server and admin keys, and clusters without a key file, need none: their OSS checks nothing.
    /// </summary>
    private InodeAttributes WithCapability(RpcRequest request, InodeAttributes attributes, OpenFlags flags, byte[]? migrating = null)
    {
        if (capabilities is null || request.Key is not { Role: KeyRole.Client } key || attributes.Type != EntryType.File || attributes.Layout.Length == 0)
        {
            return attributes;
        }

        var access = MdtNamespace.OpenAccess(flags);
        var rights = ((access & Access.Read) != 0 ? CapabilityRights.Read : 0) | ((access & Access.Write) != 0 ? CapabilityRights.Write : 0);
        OstObject[] objects = migrating is null
            ? [.. LayoutCodec.Decode(attributes.Layout).AllObjects()]
            : [.. LayoutCodec.Decode(attributes.Layout).AllObjects(), .. LayoutCodec.Decode(migrating).AllObjects()];
        return attributes with { Capability = capabilities.Issue(key.Name, rights, objects) };
    }

    /// <summary>
    /// A step of a layout migration. Before the swap, the reply carries a capability to read the file's objects and
    /// write the new ones (the migrator copies one to the other); the swap's reply carries the new layout.
    /// </summary>
    private async ValueTask<RpcResponse> MigrateAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var migrate = MigrateRequest.Read(ref reader);
        if (await Namespace.MigrateAsync(migrate, ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false) is not { } reply)
        {
            return RpcResponse.Ok();
        }

        if (reply.State != MigrateState.Swapped)
        {
            reply = reply with { File = WithCapability(request, reply.File, OpenFlags.Read | OpenFlags.Write, reply.NewLayout) };
        }

        var body = FrameBuffer.Rent(256 + reply.File.Layout.Length + reply.NewLayout.Length + (reply.File.Capability?.Length ?? 0));
        reply.Write(body.Body);
        return RpcResponse.Ok(body);
    }

    private async ValueTask<RpcResponse> MirrorAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var mirror = MirrorRequest.Read(ref reader);
        var attributes = await Namespace.MirrorAsync(mirror, ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);

        // A resync copies from the in-sync mirrors to the stale ones: it reads and writes the file's objects.
        return Attributes(mirror.Operation == MirrorOperation.BeginResync ? WithCapability(request, attributes, OpenFlags.Read | OpenFlags.Write) : attributes);
    }

    /// <summary>
    /// A change to a file's components. The reply carries a capability to read and write every object of the file,
    /// the new ones included: a writer instantiating a component writes to it next.
    /// </summary>
    private async ValueTask<RpcResponse> LayoutAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var attributes = await Namespace.ChangeComponentsAsync(LayoutRequest.Read(ref reader), ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        return Attributes(WithCapability(request, attributes, OpenFlags.Read | OpenFlags.Write));
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> CloseAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        await Namespace.CloseAsync(CloseRequest.Read(ref reader), ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> SetAttrAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        return Attributes(await Namespace.SetAttrAsync(ChangeOrigin.Of(request), request.Identity, SetAttrRequest.Read(ref reader)).ConfigureAwait(false));
    }

    private ValueTask<RpcResponse> ReadDir(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var readDir = ReadDirRequest.Read(ref reader);
        var page = Namespace.ReadDir(readDir.Path, readDir.Cookie, readDir.MaxEntries, request.Identity);
        var body = FrameBuffer.Rent(4096);
        page.Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    private ValueTask<RpcResponse> ReadDirPlus(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var page = Namespace.ReadDirPlus(ReadDirPlusRequest.Read(ref reader), request.Identity);
        var body = FrameBuffer.Rent(16 * 1024);
        page.Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    /// <summary>Many getattrs, or opens for reading (each with the capability its own open would get), in one request.</summary>
    private ValueTask<RpcResponse> GetAttrBatch(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var batch = GetAttrBatchRequest.Read(ref reader);
        return ValueTask.FromResult(RpcResponse.Ok(Namespace.GetAttrBatch(batch, request.Identity, attributes => WithCapability(request, attributes, OpenFlags.Read))));
    }

    /// <summary>A client is done with a statahead lease: changes need not wait for it any more.</summary>
    private ValueTask<RpcResponse> StatAheadRelease(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        Namespace.Store.Leases.Release(StatAheadReleaseRequest.Read(ref reader).LeaseId);
        return ValueTask.FromResult(RpcResponse.Ok());
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> MkdirAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        return Attributes(await Namespace.MkdirAsync(MkdirRequest.Read(ref reader), ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false));
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<RpcResponse> RemoveAsync(RpcRequest request, bool directory)
    {
        var reader = request.Reader;
        await Namespace.RemoveAsync(PathRequest.Read(ref reader).Path, directory, ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    private async ValueTask<RpcResponse> RenameAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        await Namespace.RenameAsync(RenameRequest.Read(ref reader), ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    private async ValueTask<RpcResponse> SetDirLayoutAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        await Namespace.SetDirLayoutAsync(SetDirLayoutRequest.Read(ref reader), ChangeOrigin.Of(request), request.Identity).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    /// <summary>
    /// The MDT's space, inodes and state. Free inodes are an estimate, as ZFS-backed Lustre targets make theirs: the MDT
    /// has no inode table, so the free space above the create reserve divided by the bytes an inode takes now (RocksDB's
    /// live data over the inode count, kept within [256 B, 4 KiB] so that a young MDT's fixed overhead does not count).
    /// </summary>
    private ValueTask<RpcResponse> StatFs(RpcRequest request, CancellationToken cancellationToken)
    {
        var body = FrameBuffer.Rent();
        Usage(Namespace.Store).Write(body.Body);
        return ValueTask.FromResult(RpcResponse.Ok(body));
    }

    /// <summary>The MDT's space, inodes and state: what <c>lfs df</c> and its <c>kbytes*</c>, <c>files*</c> parameters show.</summary>
    public static StatFsReply Usage(MdtStore store)
    {
        var path = Path.GetFullPath(store.Path);
        var drive = new DriveInfo(path);
        var available = drive.AvailableFreeSpace;
        var inodes = (long)Math.Min(store.InodeCount, long.MaxValue);
        var live = long.TryParse(store.Database.GetProperty("rocksdb.estimate-live-data-size"), out var bytes) ? bytes : 0;
        var perInode = Math.Clamp(live / Math.Max(inodes, 1), MinBytesPerInode, MaxBytesPerInode);
        var (_, state) = LocalVolume.Probe(path);
        state |= available < store.ReserveBytes ? LustreTargetState.NoSpace : 0;
        return new StatFsReply(drive.TotalSize, available, drive.TotalSize - available, inodes, Math.Max(0, available - store.ReserveBytes) / perInode, state);
    }

    private const long MinBytesPerInode = 256;
    private const long MaxBytesPerInode = 4096;

    /// <summary>A client going away cleanly: it will resend nothing, so its reply records go.</summary>
    private async ValueTask<RpcResponse> DisconnectAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var store = Namespace.Store;
        await store.ChangeAsync(tx =>
        {
            store.Replies.Forget(tx, request.ClientUuid);
            return true;
        }).ConfigureAwait(false);
        return RpcResponse.Ok();
    }

    private async ValueTask<RpcResponse> BackupAsync(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var name = MdtBackupRequest.Read(ref reader).Name;
        if (!MdtBackupRequest.IsValidName(name))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"backup name '{name}' must be 1-{MdtBackupRequest.MaxNameLength} letters, digits, '.', '-' or '_', not starting with '.'");
        }

        (string Path, ulong Commit) backup;
        try
        {
            // A checkpoint flushes the memtable and links files.
            backup = await BlockingCall.RunAsync(static b => b.Store.Backup(b.name), (Namespace.Store, name)).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new RpcStatusException(LustreErrno.EEXIST, ex.Message);
        }

        var body = FrameBuffer.Rent(256);
        new MdtBackupReply(backup.Path, backup.Commit).Write(body.Body);
        return RpcResponse.Ok(body);
    }

    private static RpcResponse Attributes(InodeAttributes attributes)
    {
        var body = FrameBuffer.Rent(128 + attributes.Layout.Length);
        attributes.Write(body.Body);
        return RpcResponse.Ok(body);
    }
}
