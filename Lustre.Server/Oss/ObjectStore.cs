using System.Buffers;
using System.Runtime.CompilerServices;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Lustre.Threading;
using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// One OST: a directory of object files on the local filesystem, as Lustre's ldiskfs OSTs keep one file per
/// object. Objects live in 256 sharded subdirectories (<c>objects/ab/&lt;id&gt;</c>) so no folder holds millions
/// of files. I/O is positional (<see cref="RandomAccess"/>) through a bounded cache of open handles.
/// </summary>
internal sealed class ObjectStore : IDisposable
{
    private const int ErrnoNoSpace = 28;
    private readonly string _objectsRoot;
    private readonly HandleCache _handles;
    private readonly PunchRecords _punches;
    private readonly Lock _punchLock = new();
    private readonly long? _capacity;
    private readonly DirectReader? _directReads;
    private readonly DirectWriter? _directWrites;
    private long _directReadCount;
    private long _fileRangeCount;
    private long _directWriteCount;
    private long _objectCount;
    private long _usedBytes;

    // Object count and quota accounting (the quota only with a capacity: reserved sizes of objects written since start).
    private readonly Lock _accountingLock = new();
    private readonly Dictionary<ulong, long> _accounted = [];

    /// <param name="index">The OST index.</param>
    /// <param name="root">The OST's folder.</param>
    /// <param name="handleCacheSize">Open object handles kept.</param>
    /// <param name="capacityBytes">
    /// A quota for this OST (tests, small deployments): statfs reports it as the total, and a write that would
    /// take the objects' sizes past it fails with ENOSPC. Null: the local filesystem's own size and free space.
    /// </param>
    /// <param name="directReads">Reads large ranges that are not in the page cache past it (<see cref="DirectReader"/>); null: all reads use the cache.</param>
    /// <param name="directWrites">Writes the aligned middle of large writes past the page cache (<see cref="DirectWriter"/>); null: all writes use the cache.</param>
    public ObjectStore(int index, string root, int handleCacheSize = 256, long? capacityBytes = null, DirectReader? directReads = null, DirectWriter? directWrites = null)
    {
        if (capacityBytes is { } capacity)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity, nameof(capacityBytes));
        }

        Index = index;
        Name = TargetNames.Ost(index);
        Root = root;
        _capacity = capacityBytes;
        _directReads = directReads;
        _directWrites = directWrites;
        _objectsRoot = Path.Combine(root, "objects");
        Directory.CreateDirectory(_objectsRoot);
        _handles = new HandleCache(handleCacheSize);
        _punches = new PunchRecords(root);
        foreach (var shard in Directory.EnumerateDirectories(_objectsRoot))
        {
            foreach (var file in new DirectoryInfo(shard).EnumerateFiles())
            {
                _objectCount++;
                _usedBytes += file.Length;
            }
        }
    }

    public int Index { get; }

    /// <summary>"OST" and the index in four hex digits, as in Lustre's target names (OST0003); a tag of its metrics.</summary>
    public string Name { get; }

    public string Root { get; }

    public long ObjectCount
    {
        get
        {
            lock (_accountingLock)
            {
                return _objectCount;
            }
        }
    }

    /// <summary>Reads up to this size first try the page cache inline (<see cref="CachedRead"/>).</summary>
    internal const int CachedReadLimit = 64 * 1024;

    private string PathOf(ulong objectId) => Path.Combine(_objectsRoot, (objectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), objectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>
    /// Reads into <paramref name="destination"/>; returns how many bytes the object has there (0 for a missing object).
    /// A read of up to <see cref="CachedReadLimit"/> bytes is served from the page cache on the calling thread when it
    /// is there.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<int> ReadAsync(ulong objectId, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        using var lease = OpenExisting(objectId);
        if (lease.Handle is null)
        {
            return 0;
        }

        // A small read whose pages are cached completes here, without the thread-pool hop of an async read.
        var total = destination.Length <= CachedReadLimit ? CachedRead.TryRead(lease.Handle, destination.Span, offset) : 0;
        if (total < 0)
        {
            // Past the object's end.
            return 0;
        }

        if (total < destination.Length)
        {
            // Not (all) cached: the read waits for the disk, on a thread of the server's own (BlockingCall). On the
            // thread pool, as few threads as cores would each hold one read, and the disk would see a queue that short.
            cancellationToken.ThrowIfCancellationRequested();
            total = await BlockingCall.RunAsync(
                static r => ReadFully(r.Handle, r.Destination, r.Offset, r.Total),
                (lease.Handle, Destination: destination, Offset: offset, Total: total)).ConfigureAwait(false);
        }

        return total;
    }

    /// <summary>
    /// Reads each of <paramref name="ranges"/> of this OST's objects into the next slice of <paramref name="destination"/>,
    /// each exactly its length: zeros past an object's end and for a missing object, as a hole reads. Ranges the page
    /// cache holds are copied on the calling thread. The rest wait for the disk together, read in order in one call on a
    /// thread of the server's own (<see cref="BlockingCall"/>): one hop there and back per batch instead of one per range.
    /// (Telling the kernel of all of them first, <c>POSIX_FADV_WILLNEED</c>, measured no faster: the loaders that send
    /// such batches keep many in flight, and the CPU, not the disk, is their limit here.)
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask ReadRangesAsync(ObjectRange[] ranges, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var misses = ArrayPool<Miss>.Shared.Rent(ranges.Length);
        var count = 0;
        try
        {
            var at = 0;
            foreach (var range in ranges)
            {
                var slice = destination.Slice(at, range.Length);
                at += range.Length;
                var lease = OpenExisting(range.ObjectId);
                var kept = false;
                try
                {
                    var cached = lease.Handle is null ? -1 : CachedRead.TryRead(lease.Handle, slice.Span, range.Offset);
                    if (cached < 0)
                    {
                        // Missing, or at or past its end.
                        slice.Span.Clear();
                    }
                    else if (cached < slice.Length)
                    {
                        // Not (all) cached, or the object ends inside the range: the read from the disk finds out which.
                        // The lease goes with it, so the handle stays open however many other objects the batch opens.
                        misses[count++] = new Miss(lease, range.Offset, slice, cached);
                        kept = true;
                    }
                }
                finally
                {
                    if (!kept)
                    {
                        lease.Dispose();
                    }
                }
            }

            if (count > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                await BlockingCall.RunAsync(static m => ReadMisses(m.Misses.AsSpan(0, m.Count)), (Misses: misses, Count: count)).ConfigureAwait(false);
            }
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                misses[i].Lease.Dispose();
            }

            ArrayPool<Miss>.Shared.Return(misses, clearArray: true);
        }
    }

    /// <summary>
    /// A range of <see cref="ReadRangesAsync"/> the page cache did not hold whole, with the lease on its object's open
    /// handle: <see cref="Done"/> bytes of it came from the cache.
    /// </summary>
    private readonly record struct Miss(HandleCache.Lease Lease, long Offset, Memory<byte> Destination, int Done);

    private static void ReadMisses(ReadOnlySpan<Miss> misses)
    {
        foreach (var miss in misses)
        {
            var total = ReadFully(miss.Lease.Handle!, miss.Destination, miss.Offset, miss.Done);
            miss.Destination.Span[total..].Clear();
        }
    }

    /// <summary>Reads on from <paramref name="total"/> bytes into <paramref name="destination"/> until it is full or the file ends; returns the bytes read in all.</summary>
    private static int ReadFully(SafeFileHandle handle, Memory<byte> destination, long offset, int total)
    {
        while (total < destination.Length)
        {
            var read = RandomAccess.Read(handle, destination.Span[total..], offset + total);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>
    /// The object's bytes in [offset, offset + length), clipped to its end as <see cref="ReadAsync(ulong, long, Memory{byte}, CancellationToken)"/> reads them, for a
    /// send without a copy into a buffer of ours: read past the page cache as <see cref="TryReadDirectAsync"/> does,
    /// else mapped from it (<see cref="MappedRegion"/>). Null for a missing object or a range past its end; the caller
    /// disposes the region.
    /// </summary>
    public ValueTask<MemoryManager<byte>?> ReadRegionAsync(ulong objectId, long offset, int length) => ReadRegionAsync(objectId, offset, length, map: true);

    /// <summary>
    /// The object's bytes in [offset, offset + length), clipped to its end, as a range of its file to send with sendfile
    /// (<see cref="FileRegion"/>), when every page of it is in the page cache (the send must not wait for the disk).
    /// Null otherwise (missing, past its end, not all cached): the caller reads it the other ways. The caller disposes
    /// the region.
    /// </summary>
    public FileRegion? TryCachedFileRange(ulong objectId, long offset, int length)
    {
        var lease = OpenExisting(objectId);
        if (lease.Handle is null)
        {
            return null;
        }

        var count = (int)Math.Clamp(RandomAccess.GetLength(lease.Handle) - offset, 0, length);
        if (count <= 0 || !MappedRegion.IsCached(lease.Handle, offset, count))
        {
            lease.Dispose();
            return null;
        }

        Interlocked.Increment(ref _fileRangeCount);
        return FileRegion.Of(lease, offset, count);
    }

    /// <summary>Reads sent as a range of the object's file so far (<see cref="TryCachedFileRange"/>).</summary>
    public long FileRangeCount => Interlocked.Read(ref _fileRangeCount);

    /// <summary>
    /// With direct reads on, the object's bytes in [offset, offset + length) (clipped to its end) read past the page
    /// cache into a buffer of ours (<see cref="DirectRegion"/>), when the range is at least
    /// <see cref="DirectReader.MinimumLength"/> and not all cached. Null otherwise: off, small, cached, missing, or a file
    /// system that refuses O_DIRECT (then the page cache serves every read from now on).
    /// </summary>
    public ValueTask<MemoryManager<byte>?> TryReadDirectAsync(ulong objectId, long offset, int length) =>
        _directReads is { Supported: true } && length >= DirectReader.MinimumLength
            ? ReadRegionAsync(objectId, offset, length, map: false)
            : ValueTask.FromResult<MemoryManager<byte>?>(null);

    /// <summary>Reads served past the page cache so far (<see cref="TryReadDirectAsync"/>).</summary>
    public long DirectReadCount => Interlocked.Read(ref _directReadCount);

    /// <summary>Writes whose aligned part went past the page cache so far (<see cref="DirectWriter"/>).</summary>
    public long DirectWriteCount => Interlocked.Read(ref _directWriteCount);

    /// <summary>One lease and one size lookup for both: a direct read when it applies, else a mapping if <paramref name="map"/>.</summary>
    private async ValueTask<MemoryManager<byte>?> ReadRegionAsync(ulong objectId, long offset, int length, bool map)
    {
        var lease = OpenExisting(objectId);
        if (lease.Handle is null)
        {
            return null;
        }

        // The lease is given back here unless a mapping takes it over.
        var leased = true;
        try
        {
            var count = (int)Math.Clamp(RandomAccess.GetLength(lease.Handle) - offset, 0, length);
            if (count <= 0)
            {
                return null;
            }

            if (_directReads is { Supported: true } direct && count >= DirectReader.MinimumLength && !MappedRegion.IsCached(lease.Handle, offset, count)
                && await direct.ReadAsync(lease.Handle, offset, count).ConfigureAwait(false) is { } region)
            {
                Interlocked.Increment(ref _directReadCount);
                return region;
            }

            if (!map)
            {
                return null;
            }

            var mapped = MappedRegion.Map(lease, offset, count);
            leased = false;
            return mapped;
        }
        finally
        {
            if (leased)
            {
                lease.Dispose();
            }
        }
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask WriteAsync(ulong objectId, long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        using var lease = OpenOrCreate(objectId);
        if (_capacity is not null)
        {
            // A reservation is kept even if the write then fails: the object may have grown partly.
            Reserve(lease.Handle!, objectId, offset + data.Length);
        }

        try
        {
            var (start, end) = DirectWriter.AlignedPart(offset, data.Length);
            if (_directWrites is { Supported: true } direct && end - start >= DirectWriter.MinimumLength)
            {
                await WriteDirectAsync(direct, lease.Handle!, offset, data, start, end, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await RandomAccess.WriteAsync(lease.Handle!, data, offset, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new RpcStatusException(LustreErrno.ENOSPC, $"{Name} is full: no space for {data.Length} bytes of object {objectId:x}");
        }
    }

    /// <summary>
    /// A write whose page-aligned part [<paramref name="start"/>, <paramref name="end"/>) goes past the page cache: the
    /// unaligned head and tail through it, in pages of their own. A page the direct write could not drop from the cache
    /// (mapped by a read being sent meanwhile) would keep the bytes from before; then the aligned part is written again
    /// through the cache, so every later read sees this write.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    private async ValueTask WriteDirectAsync(DirectWriter direct, SafeFileHandle handle, long offset, ReadOnlyMemory<byte> data, long start, long end, CancellationToken cancellationToken)
    {
        var head = (int)(start - offset);
        var middle = data[head..(int)(end - offset)];
        if (head > 0)
        {
            await RandomAccess.WriteAsync(handle, data[..head], offset, cancellationToken).ConfigureAwait(false);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var wroteDirect = await direct.WriteAsync(handle, start, middle).ConfigureAwait(false);
        if (wroteDirect)
        {
            Interlocked.Increment(ref _directWriteCount);
        }

        if (!wroteDirect || MappedRegion.AnyCached(handle, start, middle.Length))
        {
            await RandomAccess.WriteAsync(handle, middle, start, cancellationToken).ConfigureAwait(false);
        }

        if (end < offset + data.Length)
        {
            await RandomAccess.WriteAsync(handle, data[(int)(end - offset)..], end, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Counts the bytes a write past the object's end adds against the quota; refuses with ENOSPC when they do not fit.</summary>
    private void Reserve(SafeFileHandle handle, ulong objectId, long end)
    {
        lock (_accountingLock)
        {
            var accounted = AccountedSize(handle, objectId);
            var growth = Math.Max(0, end - accounted);
            if (growth == 0)
            {
                return;
            }

            if (_usedBytes + growth > _capacity)
            {
                throw new RpcStatusException(LustreErrno.ENOSPC, $"{Name} is full: {growth} more bytes for object {objectId:x} do not fit in its {_capacity} byte quota ({_usedBytes} used)");
            }

            _usedBytes += growth;
            _accounted[objectId] = end;
        }
    }

    /// <summary>
    /// The size an object counts for: its furthest reserved byte, which runs ahead of the file while concurrent
    /// writes are landing, so two pieces extending one object are not both charged from the same old length.
    /// </summary>
    private long AccountedSize(SafeFileHandle? handle, ulong objectId) =>
        _accounted.TryGetValue(objectId, out var size) ? size : handle is null ? 0 : RandomAccess.GetLength(handle);

    /// <summary>Bytes held by objects (their sizes; holes count), as counted against the quota.</summary>
    public long UsedBytes
    {
        get
        {
            lock (_accountingLock)
            {
                return _usedBytes;
            }
        }
    }

    /// <summary>Whether the object's handle is open (cached): then a read needs no open() on the calling thread.</summary>
    public bool HasOpenHandle(ulong objectId) => _handles.Contains(objectId);

    /// <summary>Sets the object's size: truncates, or extends with a hole.</summary>
    /// <summary>
    /// A client's punch, applied once per (client, xid) even across restarts (<see cref="PunchRecords"/>): durable
    /// before it is recorded, and a resend of a recorded one changes nothing.
    /// </summary>
    public void Punch(ulong objectId, long size, string client, ulong xid)
    {
        lock (_punchLock)
        {
            if (_punches.Contains(client, xid))
            {
                return;
            }

            Punch(objectId, size);
            Sync(objectId);
            _punches.Add(client, xid);
        }
    }

    public void Punch(ulong objectId, long size)
    {
        if (size == 0 && !File.Exists(PathOf(objectId)))
        {
            return;
        }

        using var lease = OpenOrCreate(objectId);
        if (_capacity is null)
        {
            RandomAccess.SetLength(lease.Handle!, size);
            return;
        }

        lock (_accountingLock)
        {
            var before = AccountedSize(lease.Handle, objectId);
            if (size > before && _usedBytes + size - before > _capacity)
            {
                throw new RpcStatusException(LustreErrno.ENOSPC, $"{Name} is full: cannot extend object {objectId:x} to {size} bytes within its {_capacity} byte quota");
            }

            RandomAccess.SetLength(lease.Handle!, size);
            _usedBytes += size - before;
            _accounted[objectId] = size;
        }
    }

    /// <summary>Makes the object's data durable (fsync).</summary>
    public void Sync(ulong objectId)
    {
        using var lease = OpenExisting(objectId);
        if (lease.Handle is not null)
        {
            RandomAccess.FlushToDisk(lease.Handle);
        }
    }

    public (bool Exists, long Size, long Allocated) GetAttributes(ulong objectId)
    {
        var info = new FileInfo(PathOf(objectId));
        return info.Exists ? (true, info.Length, info.Length) : (false, 0, 0);
    }

    /// <summary>Removes the object; destroying a missing object succeeds (destroys are retried from the MDS's queue).</summary>
    public void Destroy(ulong objectId)
    {
        _handles.Evict(objectId);
        // Under the lock, so two destroys of one object (a retried queue entry) cannot both count it gone.
        lock (_accountingLock)
        {
            var info = new FileInfo(PathOf(objectId));
            if (info.Exists)
            {
                var length = _accounted.Remove(objectId, out var accounted) ? accounted : info.Length;
                info.Delete();
                _usedBytes -= length;
                _objectCount--;
            }
        }
    }

    public (long Total, long Available) SpaceUsage()
    {
        if (_capacity is { } capacity)
        {
            return (capacity, Math.Max(0, capacity - UsedBytes));
        }

        var drive = new DriveInfo(Path.GetFullPath(Root));
        return (drive.TotalSize, drive.AvailableFreeSpace);
    }

    private HandleCache.Lease OpenExisting(ulong objectId)
    {
        var lease = _handles.Acquire(objectId);
        if (lease.Handle is not null)
        {
            return lease;
        }

        try
        {
            var handle = File.OpenHandle(PathOf(objectId), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            return _handles.Install(objectId, handle);
        }
        catch (FileNotFoundException)
        {
            return default;
        }
        catch (DirectoryNotFoundException)
        {
            return default;
        }
    }

    private HandleCache.Lease OpenOrCreate(ulong objectId)
    {
        var lease = _handles.Acquire(objectId);
        if (lease.Handle is not null)
        {
            return lease;
        }

        var path = PathOf(objectId);
        SafeFileHandle handle;
        var created = false;
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            try
            {
                // Only the opener that creates the file counts it: concurrent first writes of one object race here.
                handle = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
                created = true;
            }
            catch (IOException ex) when (!IsNoSpace(ex) && ex is not (FileNotFoundException or DirectoryNotFoundException))
            {
                handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.Asynchronous);
            }
        }
        catch (IOException ex) when (IsNoSpace(ex))
        {
            throw new RpcStatusException(LustreErrno.ENOSPC, $"{Name} is full: cannot create object {objectId:x}");
        }

        if (created)
        {
            lock (_accountingLock)
            {
                _objectCount++;
            }
        }

        return _handles.Install(objectId, handle);
    }

    private static bool IsNoSpace(IOException ex) => (ex.HResult & 0xFFFF) == ErrnoNoSpace || ex.Message.Contains("No space left", StringComparison.Ordinal);

    public void Dispose()
    {
        _handles.Dispose();
        _punches.Dispose();
    }
}
