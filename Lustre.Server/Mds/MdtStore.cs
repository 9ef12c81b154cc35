using System.Buffers.Binary;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using Lustre.Protocol;
using Lustre.Server.Diagnostics;
using Lustre.Server.Rpc;
using Lustre.Threading;
using Microsoft.Extensions.ObjectPool;
using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDT: a RocksDB database with one writer. Every metadata change is one write batch; changes queue to a
/// single writer loop that applies each batch (so later changes see earlier ones), then makes the whole group
/// durable with one WAL fsync before any of them is acknowledged — group commit: concurrent operations share
/// one sync. Reads go straight to RocksDB from any thread, except the directories of path walks, which
/// <see cref="Walks"/> keeps.
/// </summary>
internal sealed class MdtStore : IDisposable
{
    private const int MaxGroup = 256;
    private const ulong FidSequenceBase = 0x200000400;

    /// <summary>
    /// How far the FID and object-id counters jump when an MDS first starts on a restored backup. Files created
    /// after the backup left objects on the OSTs and FIDs in clients' hands; the restored MDT must never hand out
    /// those numbers again (Lustre's MDT resynchronises its last object ids with the OSTs for the same reason).
    /// </summary>
    internal const ulong RestoreSkip = 1UL << 32;
    private readonly RocksDb _db;
    private readonly WriteOptions _applyOptions = new WriteOptions().SetSync(false);
    private readonly WriteOptions _syncOptions = new WriteOptions().SetSync(true);
    private readonly Channel<PendingChange> _queue = Channel.CreateUnbounded<PendingChange>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Task _writer;
    private ulong _nextFid;
    private ulong _inodeCount;

    /// <summary>
    /// The next object id of each OST (the writer loop's, read from the MDT on first use): a create reads no counter.
    /// Advanced at once, as the next FID is, so a change that then fails leaves its ids unused, never handed out twice.
    /// </summary>
    private readonly Dictionary<int, ulong> _objectIds = [];
    private ulong _commits;
    private int _fullReported;
    private readonly DriveInfo _drive;
    private bool _low;

    /// <summary>How long the results of a client that made no change are kept (<see cref="ReplyRecords.IdleLifetime"/>).</summary>
    public static readonly TimeSpan DefaultReplyLifetime = TimeSpan.FromHours(1);

    /// <summary>
    /// What each recycled WAL file is written to when the MDT opens (<see cref="PrewriteWal"/>): RocksDB's default memtable
    /// size (<c>write_buffer_size</c>, which the MDT keeps), about what a log holds when RocksDB switches to the next.
    /// </summary>
    public const long DefaultWalPrewriteBytes = 64L << 20;

    /// <summary>The largest <c>walPrewriteBytes</c> taken: far more than a log holds before RocksDB switches to the next.</summary>
    public const long MaxWalPrewriteBytes = 1L << 30;

    /// <summary>
    /// WAL files RocksDB keeps to write over again instead of creating new ones (<c>recycle_log_file_num</c>). Safe only
    /// while every change goes through the WAL: recovery goes on from a log ending in records left from its last use
    /// into the next log only when the sequence numbers join up, so the MDT must never write with the WAL disabled
    /// (RocksDB refuses that with recycling) nor ingest table files.
    /// </summary>
    private const int RecycledLogs = 2;

    /// <param name="directory">Where the RocksDB database lives.</param>
    /// <param name="replyLifetime">How long an idle client's reply records are kept.</param>
    /// <param name="reserveBytes">
    /// Free space kept for changes that free space: below it, creates and mkdirs get ENOSPC while unlink, rmdir, rename
    /// and setattr go on. Default: 5 % of the filesystem, at most 256 MiB (ext4 reserves 5 % for root the same way).
    /// </param>
    /// <param name="walPrewriteBytes">
    /// How far to write each of the WAL files RocksDB recycles when the MDT opens, so group commits overwrite blocks
    /// already on disk (<see cref="PrewriteWal"/>); 0: not at all (the logs still recycle once RocksDB has filled them).
    /// </param>
    /// <param name="leases">The statahead leases every change waits for; default <see cref="StatAheadLeases.DefaultDuration"/> and <see cref="StatAheadLeases.DefaultQuiet"/>.</param>
    public MdtStore(string directory, TimeSpan? replyLifetime = null, long? reserveBytes = null, long walPrewriteBytes = 0, StatAheadLeases? leases = null)
    {
        Leases = leases ?? new StatAheadLeases(StatAheadLeases.DefaultDuration, StatAheadLeases.DefaultQuiet);
        ArgumentOutOfRangeException.ThrowIfNegative(walPrewriteBytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(walPrewriteBytes, MaxWalPrewriteBytes);
        Directory.CreateDirectory(directory);
        Path = directory;
        _drive = new DriveInfo(System.IO.Path.GetFullPath(directory));
        ReserveBytes = reserveBytes ?? Math.Min(256L << 20, _drive.TotalSize / 20);
        var options = new DbOptions().SetCreateIfMissing(true).SetKeepLogFileNum(4).SetRecycleLogFileNum(RecycledLogs)
            .SetBlockBasedTableFactory(new BlockBasedTableOptions().SetFilterPolicy(BloomFilterPolicy.Create(10, false)).SetWholeKeyFiltering(true));
        _db = RocksDb.Open(options, directory);
        try
        {
            WalPrewritten = walPrewriteBytes > 0 && PrewriteWal(walPrewriteBytes);
        }
        catch
        {
            // Let go of the database (and its lock file), so that the MDT can be opened again once there is room.
            _db.Dispose();
            throw;
        }
        LoadCounters();
        if (_db.Get(MdtKeys.RestoredKey) is not null)
        {
            SkipCountersAfterRestore();
        }

        _commits = ReadCounter(MdtKeys.CommitKey);
        Replies = new ReplyRecords(_db, replyLifetime ?? DefaultReplyLifetime);
        _writer = Task.Factory.StartNew(WriterLoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public string Path { get; }

    /// <summary>Whether the WAL files were written ahead when the MDT opened (false: not asked, or no room for them).</summary>
    public bool WalPrewritten { get; }

    /// <summary>
    /// Writes <paramref name="bytes"/> into each of the two WAL files RocksDB will recycle and makes one of them the
    /// current log, so a group commit's <c>fdatasync</c> overwrites blocks already on disk. Growing a file changes its
    /// size, which on ext4 commits the journal as well; an overwrite does not: about 100 against 150 µs per sync on the
    /// CI machine's disk. RocksDB recycles a log only once its memtable is flushed, trims a log to what it holds when it
    /// closes, and forgets its recycled logs when the database closes, so without this a new or reopened MDT grows its
    /// first two logs (a whole io500 run's metadata fits in them). The filler is log data
    /// (<see cref="WriteBatch.PutLogData"/>): it goes to the WAL only, never to the memtable, and recovery skips it.
    /// A log of recycled records carries its log number in each, so recovery stops at the first record left from
    /// before. Skipped (false) when the filesystem has no room for both logs above <see cref="ReserveBytes"/>. A disk
    /// that fills up during these writes fails the open with RocksDB's error; the next open finds no room and skips them.
    /// An online backup (<see cref="Backup"/>) flushes while RocksDB keeps every file, so the MDT goes on in a new log
    /// that grows, until RocksDB has filled and recycled two logs of its own or the MDT opens again.
    /// </summary>
    private bool PrewriteWal(long bytes)
    {
        if (_drive.AvailableFreeSpace - RecycledLogs * bytes < ReserveBytes)
        {
            return false;
        }

        var filler = new byte[1 << 20];
        var flush = new FlushOptions().SetWaitForFlush(true);
        for (var log = 0; log < RecycledLogs; log++)
        {
            for (long written = 0; written < bytes; written += filler.Length)
            {
                using var batch = new WriteBatch();
                batch.PutLogData(filler, (ulong)filler.Length);
                _db.Write(batch, _applyOptions);
            }

            // A synced change puts the filler's blocks on disk (allocated and written, not just allocated), and gives the
            // memtable something to flush: only a flush switches to the next log and lets this one be recycled.
            _db.Put(MdtKeys.WalPrewriteKey, MdtKeys.WalPrewriteKey, writeOptions: _syncOptions);
            _db.Flush(flush);
        }

        _db.Remove(MdtKeys.WalPrewriteKey, writeOptions: _syncOptions);
        return true;
    }

    /// <summary>The statahead leases: the writer loop applies no change while one runs (<see cref="StatAheadLeases"/>).</summary>
    public StatAheadLeases Leases { get; }

    /// <summary>How many group commits (WAL syncs) have run; lets tests and benchmarks see grouping.</summary>
    public ulong Commits => Interlocked.Read(ref _commits);

    public byte[]? Get(byte[] key) => _db.Get(key);

    /// <summary>The directories a path walk passes through, kept coherent by the writer loop (see <see cref="WalkCache"/>).</summary>
    public WalkCache Walks { get; } = new();

    /// <summary>The inode of <paramref name="fid"/>, or null: decoded from RocksDB's own copy of the record, with no key or value array.</summary>
    public MdtInode? GetInode(LustreFid fid)
    {
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        return _db.Get(key, InodeReader.Instance);
    }

    /// <summary>
    /// The type and permission bits of <paramref name="fid"/>'s inode, or null: as <see cref="GetInode"/>, with no inode
    /// object; a directory's from <see cref="Walks"/> when kept there.
    /// </summary>
    public InodeAccess? GetAccess(LustreFid fid)
    {
        if (Walks.TryGetAccess(fid, out var kept))
        {
            return kept;
        }

        var generation = Walks.Generation;
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        var access = _db.Get(key, AccessReader.Instance);
        if (access is { } read)
        {
            Walks.AddAccess(generation, fid, read);
        }

        return access;
    }

    /// <summary>The permission bits and default layout of <paramref name="fid"/>'s inode, or null: as <see cref="GetAccess"/>, with an array only for a default layout.</summary>
    public (InodeAccess Access, byte[] DefaultLayout)? GetAccessAndDefault(LustreFid fid)
    {
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        return _db.Get(key, AccessAndDefaultReader.Instance);
    }

    /// <summary>
    /// A stat's reply body for <paramref name="fid"/> (<see cref="MdtInode.WriteAttributes(ReadOnlySpan{byte}, LustreFid, Protocol.Messages.InodeFlags)"/>),
    /// or null when it has no inode: written from RocksDB's copy of the record, with no inode object or layout array.
    /// </summary>
    public FrameBuffer? GetAttributesReply(LustreFid fid, Protocol.Messages.InodeFlags flags)
    {
        Span<byte> key = stackalloc byte[MdtKeys.FidKeyLength];
        MdtKeys.WriteInodeKey(key, fid);
        return _db.Get(key, AttributesWriter.For(fid, flags));
    }

    /// <summary>
    /// The entry <paramref name="name"/> of directory <paramref name="parent"/>, or null; as <see cref="GetInode"/>, with
    /// no array; an entry naming a directory from <see cref="Walks"/> when kept there.
    /// </summary>
    public (LustreFid Fid, Protocol.Messages.EntryType Type)? GetEntry(LustreFid parent, ReadOnlySpan<char> name)
    {
        if (Walks.TryGetDirectory(parent, name, out var child))
        {
            return (child, Protocol.Messages.EntryType.Directory);
        }

        var generation = Walks.Generation;
        var length = MdtKeys.EntryKeyLength(name);
        Span<byte> key = length <= MdtKeys.MaxEntryKeyLength ? stackalloc byte[MdtKeys.MaxEntryKeyLength] : new byte[length];
        MdtKeys.WriteEntryKey(key, parent, name);
        var entry = _db.Get(key[..length], EntryReader.Instance);
        if (entry is { Type: Protocol.Messages.EntryType.Directory } directory)
        {
            Walks.AddDirectory(generation, parent, name, directory.Fid);
        }

        return entry;
    }

    /// <summary>A counter's value, 0 when missing or not 8 bytes.</summary>
    private sealed class CounterReader : ISpanDeserializer<ulong>
    {
        public static readonly CounterReader Instance = new();

        public ulong Deserialize(ReadOnlySpan<byte> buffer) => buffer.Length == sizeof(ulong) ? BinaryPrimitives.ReadUInt64LittleEndian(buffer) : 0;
    }

    private sealed class InodeReader : ISpanDeserializer<MdtInode?>
    {
        public static readonly InodeReader Instance = new();

        public MdtInode? Deserialize(ReadOnlySpan<byte> buffer) => MdtInode.Decode(buffer);
    }

    private sealed class AccessReader : ISpanDeserializer<InodeAccess?>
    {
        public static readonly AccessReader Instance = new();

        public InodeAccess? Deserialize(ReadOnlySpan<byte> buffer) => MdtInode.DecodeAccess(buffer);
    }

    private sealed class AccessAndDefaultReader : ISpanDeserializer<(InodeAccess, byte[])?>
    {
        public static readonly AccessAndDefaultReader Instance = new();

        public (InodeAccess, byte[])? Deserialize(ReadOnlySpan<byte> buffer) => MdtInode.DecodeAccessAndDefault(buffer);
    }

    /// <summary>Writes a stat's reply from the record; one per thread, holding the FID and flags of the call running on it.</summary>
    private sealed class AttributesWriter : ISpanDeserializer<FrameBuffer?>
    {
        [ThreadStatic]
        private static AttributesWriter? t_current;

        private LustreFid _fid;
        private Protocol.Messages.InodeFlags _flags;

        public static AttributesWriter For(LustreFid fid, Protocol.Messages.InodeFlags flags)
        {
            var writer = t_current ??= new AttributesWriter();
            writer._fid = fid;
            writer._flags = flags;
            return writer;
        }

        public FrameBuffer? Deserialize(ReadOnlySpan<byte> buffer) => MdtInode.WriteAttributes(buffer, _fid, _flags);
    }

    private sealed class EntryReader : ISpanDeserializer<(LustreFid Fid, Protocol.Messages.EntryType Type)?>
    {
        public static readonly EntryReader Instance = new();

        public (LustreFid Fid, Protocol.Messages.EntryType Type)? Deserialize(ReadOnlySpan<byte> buffer) => MdtKeys.ParseEntryValue(buffer);
    }

    public Iterator NewIterator() => _db.NewIterator();

    /// <summary>
    /// An iterator over the keys that start with <paramref name="prefix"/> only, as of <paramref name="snapshot"/> if
    /// given. Bounded, RocksDB stops at the end of the prefix; unbounded, a seek or next past its last live key walks on
    /// over every tombstone that follows (the deleted entries of other directories, the reply records after the destroy
    /// queue) to the next live key.
    /// </summary>
    public Iterator NewIterator(ReadOnlySpan<byte> prefix, Snapshot? snapshot = null)
    {
        var read = new ReadOptions();
        if (snapshot is not null)
        {
            read.SetSnapshot(snapshot);
        }

        if (MdtKeys.PrefixEnd(prefix) is { } end)
        {
            read.SetIterateUpperBound(end);
        }

        return _db.NewIterator(readOptions: read);
    }

    public RocksDb Database => _db;

    /// <summary>Free bytes below which creates are refused (see the constructor).</summary>
    public long ReserveBytes { get; }

    /// <summary>
    /// Called when free space falls below <see cref="ReserveBytes"/> (true: creates are refused from now on) and when it
    /// is back (false: creates go on), with the free bytes then; the node logs both.
    /// </summary>
    public event Action<bool, long>? SpaceChanged;

    /// <summary>Called once, with RocksDB's message, the first time a change meets a full MDT (the node logs it).</summary>
    public event Action<string>? FoundFull;

    /// <summary>Each client's recorded results; touched only by the writer loop.</summary>
    internal ReplyRecords Replies { get; }

    /// <summary>Runs <paramref name="change"/> in the writer loop and completes once its batch is durable; await it once.</summary>
    public ValueTask<T> ChangeAsync<T>(Func<MdtTransaction, T> change) => Enqueue(PendingChange<Func<MdtTransaction, T>, T>.Rent(static (tx, change) => change(tx), change, null, null, creates: false));

    /// <summary>
    /// Runs a change of the MDT's own bookkeeping that no getattr, open or listing reads (the destroy queue's entries) as
    /// <see cref="ChangeAsync{T}(Func{MdtTransaction, T})"/> does, except that a group of only such changes neither waits
    /// for statahead leases nor ends the MDT's quiet time: a lease promises that what its answers show does not change.
    /// </summary>
    public ValueTask<T> BookkeepingAsync<T>(Func<MdtTransaction, T> change) =>
        Enqueue(PendingChange<Func<MdtTransaction, T>, T>.Rent(static (tx, change) => change(tx), change, null, null, creates: false, unseen: true));

    /// <summary>
    /// Runs a change a client asked for, exactly once per (client, xid): its result is recorded in the same batch, and
    /// a resend of an applied change gets the recorded result instead of running it again (<see cref="ReplyRecords"/>).
    /// </summary>
    /// <param name="origin">Who asked.</param>
    /// <param name="result">How the result is recorded.</param>
    /// <param name="change">The change.</param>
    /// <param name="creates">Whether it takes new space (a new inode, Data-on-MDT bytes): refused with ENOSPC while free space is under the reserve.</param>
    public ValueTask<T> ChangeAsync<T>(ChangeOrigin origin, ChangeResult<T> result, Func<MdtTransaction, T> change, bool creates = false) =>
        Enqueue(PendingChange<Func<MdtTransaction, T>, T>.Rent(static (tx, change) => change(tx), change, origin, result, creates));

    /// <summary>
    /// <see cref="ChangeAsync{T}(ChangeOrigin, ChangeResult{T}, Func{MdtTransaction, T}, bool)"/> with the change's
    /// <paramref name="state"/> passed to it: with a static <paramref name="change"/>, the change allocates no closure.
    /// </summary>
    public ValueTask<T> ChangeAsync<TState, T>(ChangeOrigin origin, ChangeResult<T> result, TState state, Func<MdtTransaction, TState, T> change, bool creates = false) =>
        Enqueue(PendingChange<TState, T>.Rent(change, state, origin, result, creates));

    private ValueTask<T> Enqueue<TState, T>(PendingChange<TState, T> pending)
    {
        // Taken before the write: once queued, the change may complete and be awaited (and go back to its pool) at once.
        var task = pending.Task;
        if (!_queue.Writer.TryWrite(pending))
        {
            pending.Return();
            throw new ObjectDisposedException(nameof(MdtStore), "The MDT is shut down.");
        }

        return task;
    }

    internal LustreFid AllocateFid(MdtTransaction transaction)
    {
        var n = _nextFid++;
        transaction.CountersChanged = true;
        return new LustreFid(FidSequenceBase + (n >> 32), (uint)n, 0);
    }

    /// <summary>The inodes on the MDT, as of the changes applied so far.</summary>
    public ulong InodeCount => Volatile.Read(ref _inodeCount);

    /// <summary>
    /// Adds <paramref name="delta"/> (1 for a create, -1 for a delete) to the inode count, in the operation's batch;
    /// the writer loop takes the new count once the batch is applied, so a change that fails counts nothing.
    /// </summary>
    internal void CountInode(MdtTransaction transaction, int delta)
    {
        var count = transaction.PendingInodeCount ?? _inodeCount;
        count = delta < 0 ? count - Math.Min(count, (ulong)-delta) : count + (ulong)delta;
        transaction.PendingInodeCount = count;
        transaction.CountersChanged = true;
    }

    /// <summary>Writes the counters record (<see cref="MdtKeys.CountersKey"/>) as this operation leaves it, into its batch.</summary>
    private void PutCounters(MdtTransaction transaction)
    {
        Span<byte> value = stackalloc byte[CountersLength];
        WriteCounters(value, _nextFid, transaction.PendingInodeCount ?? _inodeCount);
        transaction.Put(MdtKeys.CountersKey, value);
    }

    private const int CountersLength = 2 * sizeof(ulong);

    private static byte[] Counters(ulong nextFid, ulong inodes)
    {
        var value = new byte[CountersLength];
        WriteCounters(value, nextFid, inodes);
        return value;
    }

    private static void WriteCounters(Span<byte> value, ulong nextFid, ulong inodes)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(value, nextFid);
        BinaryPrimitives.WriteUInt64LittleEndian(value[sizeof(ulong)..], inodes);
    }

    /// <summary>
    /// Reads the next FID and the inode count. An MDT written before they shared one record holds the FID alone, and the
    /// count in a key of its own or nowhere (then its inodes are counted once): it is brought to one record first.
    /// </summary>
    private void LoadCounters()
    {
        var value = _db.Get(MdtKeys.CountersKey);
        if (value is { Length: CountersLength })
        {
            _nextFid = BinaryPrimitives.ReadUInt64LittleEndian(value);
            _inodeCount = BinaryPrimitives.ReadUInt64LittleEndian(value.AsSpan(sizeof(ulong)));
            return;
        }

        _nextFid = value is { Length: sizeof(ulong) } && BinaryPrimitives.ReadUInt64LittleEndian(value) is var next and > 0 ? next : 1;
        _inodeCount = _db.Get(MdtKeys.InodeCountKey) is { Length: sizeof(ulong) } count ? BinaryPrimitives.ReadUInt64LittleEndian(count) : CountInodeRecords();
        using var batch = new WriteBatch();
        batch.Put(MdtKeys.CountersKey, Counters(_nextFid, _inodeCount));
        batch.Delete(MdtKeys.InodeCountKey);
        _db.Write(batch, _syncOptions);
    }

    private ulong CountInodeRecords()
    {
        ulong count = 0;
        using var iterator = _db.NewIterator();
        for (iterator.Seek([MdtKeys.Inode]); iterator.Valid() && iterator.Key()[0] == MdtKeys.Inode; iterator.Next())
        {
            count++;
        }

        return count;
    }

    internal ulong AllocateObjectId(MdtTransaction transaction, int ostIndex)
    {
        Span<byte> key = stackalloc byte[MdtKeys.SequenceKeyLength];
        MdtKeys.WriteSequenceKey(key, ostIndex);
        if (!_objectIds.TryGetValue(ostIndex, out var next))
        {
            next = ReadCounter(key) is var stored and > 0 ? stored : 1;
        }

        _objectIds[ostIndex] = next + 1;
        transaction.PutCounter(key, next + 1);
        return next;
    }

    /// <summary>
    /// An online backup: a RocksDB checkpoint (hard links to the immutable table files plus a copy of the live
    /// log), a consistent point between two write batches, so between two metadata operations, taken without
    /// stopping writers. It goes to <c>DATA/mdt-backups/NAME</c> next to the MDT; returns its path and commit.
    /// </summary>
    public (string Path, ulong Commit) Backup(string name)
    {
        var root = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(Path))!, "mdt-backups");
        Directory.CreateDirectory(root);
        var destination = System.IO.Path.Combine(root, name);
        if (Directory.Exists(destination))
        {
            throw new IOException($"the backup '{destination}' already exists");
        }

        using (var checkpoint = _db.Checkpoint())
        {
            checkpoint.Save(destination);
        }

        // Mark the copy so an MDS started on it skips its counters ahead (see RestoreSkip).
        using var backup = RocksDb.Open(new DbOptions(), destination);
        var commit = backup.Get(MdtKeys.CommitKey) is { Length: 8 } value ? BinaryPrimitives.ReadUInt64LittleEndian(value) : 0;
        backup.Put(MdtKeys.RestoredKey, new byte[] { 1 }, writeOptions: _syncOptions);
        return (destination, commit);
    }

    private void SkipCountersAfterRestore()
    {
        using var batch = new WriteBatch();
        _nextFid += RestoreSkip;
        batch.Put(MdtKeys.CountersKey, Counters(_nextFid, _inodeCount));
        using (var iterator = _db.NewIterator())
        {
            for (iterator.Seek([MdtKeys.ObjectSequence]); iterator.Valid() && iterator.Key()[0] == MdtKeys.ObjectSequence; iterator.Next())
            {
                var value = iterator.Value();
                var next = value.Length == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(value) : 1;
                batch.Put(iterator.Key(), Counter(next + RestoreSkip));
            }
        }

        batch.Delete(MdtKeys.RestoredKey);
        _db.Write(batch, _syncOptions);
    }

    private ulong ReadCounter(ReadOnlySpan<byte> key) => _db.Get(key, CounterReader.Instance);

    private static byte[] Counter(ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        return bytes;
    }

    private async Task WriterLoopAsync()
    {
        // A change answered early (failed) leaves null behind: its caller may already have recycled it.
        var group = new List<PendingChange?>(MaxGroup);
        var reader = _queue.Reader;

        // One batch and one transaction serve every change in turn, cleared between them.
        using var batch = new WriteBatch();
        var transaction = new MdtTransaction(this, batch);
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (group.Count < MaxGroup && reader.TryRead(out var change))
            {
                group.Add(change);
            }

            // No change applies while a statahead lease runs; a lease is granted only over a read no change overlapped.
            // Bookkeeping alone changes nothing a lease's answers show.
            if (group.TrueForAll(static change => change!.Unseen))
            {
                ApplyGroup(group, batch, transaction);
                continue;
            }

            await Leases.BeginChangeAsync().ConfigureAwait(false);
            try
            {
                ApplyGroup(group, batch, transaction);
            }
            finally
            {
                Leases.EndChange();
            }
        }
    }

    /// <summary>Runs and applies each change of <paramref name="group"/>, commits them with one WAL sync and answers each.</summary>
    private void ApplyGroup(List<PendingChange?> group, WriteBatch batch, MdtTransaction transaction)
    {
        var wrote = false;
        var low = CheckSpace();
        for (var i = 0; i < group.Count; i++)
        {
            var change = group[i]!;
            if (low is { } free && change.Creates)
            {
                // A resend of a create that was applied before space ran low is still answered from its record.
                try
                {
                    if (!change.AnsweredFromRecord(this))
                    {
                        change.Fail(new RpcStatusException(
                            LustreErrno.ENOSPC,
                            $"the MDT has {free} bytes free, under the {ReserveBytes} kept for unlink, rmdir and rename: no new files, directories or Data-on-MDT bytes until space is freed"));
                        group[i] = null;
                    }
                }
                catch (RpcStatusException ex)
                {
                    change.Fail(ex);
                    group[i] = null;
                }

                continue;
            }

            batch.Clear();
            transaction.Reset();
            try
            {
                change.Run(transaction);
                if (transaction.CountersChanged)
                {
                    PutCounters(transaction);
                }

                if (batch.Count() > 0)
                {
                    Apply(batch, transaction.WalkChanged);
                    wrote = true;
                    if (transaction.PendingInodeCount is { } inodes)
                    {
                        Volatile.Write(ref _inodeCount, inodes);
                    }
                }
            }
#pragma warning disable CA1031 // The failure belongs to that one operation and goes back to its caller.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                change.Fail(IsNoSpace(ex) ? Full(ex) : ex);
                group[i] = null;
            }
        }

        Exception? syncError = null;
        if (wrote)
        {
            try
            {
                batch.Clear();
                transaction.Reset();
                transaction.PutCounter(MdtKeys.CommitKey, _commits + 1);
                _db.Write(batch, _syncOptions);
                Interlocked.Increment(ref _commits);
                ServerDiagnostics.CommitSize.Record(group.Count);
            }
#pragma warning disable CA1031 // Reported to every operation of the group: none of them is durable.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                syncError = IsNoSpace(ex) ? Full(ex) : new IOException($"The MDT could not sync its log: {ex.Message}", ex);
            }
        }

        foreach (var change in group)
        {
            if (change is null)
            {
                continue;
            }

            if (syncError is null)
            {
                change.Complete();
            }
            else
            {
                change.Fail(syncError);
            }
        }

        group.Clear();
        batch.Clear();
    }

    /// <summary>Applies one change's batch (not yet durable); one that may change what <see cref="Walks"/> keeps is bracketed by emptying it.</summary>
    private void Apply(WriteBatch batch, bool walkChanged)
    {
        if (!walkChanged)
        {
            _db.Write(batch, _applyOptions);
            return;
        }

        Walks.BeginChange();
        try
        {
            _db.Write(batch, _applyOptions);
        }
        finally
        {
            Walks.EndChange();
        }
    }

    /// <summary>The free bytes when under the reserve, else null; tells <see cref="SpaceChanged"/> when that flips.</summary>
    private long? CheckSpace()
    {
        long free;
        try
        {
            free = _drive.AvailableFreeSpace;
        }
        catch (IOException)
        {
            return null;
        }

        var low = free < ReserveBytes;
        if (low != _low)
        {
            _low = low;
            SpaceChanged?.Invoke(low, free);
        }

        return low ? free : null;
    }

    /// <summary>RocksDB could not append to its log because the MDT's filesystem is full.</summary>
    private static bool IsNoSpace(Exception exception) =>
        exception is RocksDbException && exception.Message.Contains("No space left on device", StringComparison.Ordinal);

    /// <summary>
    /// What the caller of a change that met a full MDT gets: ENOSPC saying so, not an I/O error. RocksDB refuses every
    /// write after a failed log append until it is reopened, so the MDS must be restarted once space is freed.
    /// </summary>
    private RpcStatusException Full(Exception exception)
    {
        if (Interlocked.Exchange(ref _fullReported, 1) == 0)
        {
            FoundFull?.Invoke(exception.Message);
        }

        return new RpcStatusException(LustreErrno.ENOSPC, $"the MDT is full ({exception.Message}); free space on the MDS host, then restart the MDS");
    }

    public void Dispose()
    {
        _queue.Writer.TryComplete();
        _writer.GetAwaiter().GetResult();
        _db.Dispose();
    }

    private abstract class PendingChange
    {
        /// <summary>Takes new space (an inode, Data-on-MDT bytes): refused while free space is under the reserve.</summary>
        public abstract bool Creates { get; }

        /// <summary>Changes only the MDT's own bookkeeping, which no answer reads (<see cref="BookkeepingAsync"/>).</summary>
        public abstract bool Unseen { get; }

        /// <summary>If a reply record answers this change, takes its result and returns true (nothing to run).</summary>
        public abstract bool AnsweredFromRecord(MdtStore store);

        public abstract void Run(MdtTransaction transaction);

        /// <summary>Answers the caller with the result. The loop touches the change no more after this (its caller may recycle it).</summary>
        public abstract void Complete();

        /// <summary>Answers the caller with <paramref name="exception"/>. As after <see cref="Complete"/>, the loop touches the change no more.</summary>
        public abstract void Fail(Exception exception);
    }

    /// <summary>
    /// A change waiting for the writer loop, and its caller's completion: pooled, so a change costs no task or completion
    /// source of its own. It goes back to its pool once its caller has taken the result (awaited it once). What it runs
    /// is a delegate and its state: the common changes pass a static delegate, so no closure per change; a change given
    /// as a plain delegate is its own state.
    /// </summary>
    private sealed class PendingChange<TState, T> : PendingChange, IValueTaskSource<T>
    {
        /// <summary>Changes kept for reuse: above the changes in flight at once on a busy MDT.</summary>
        private const int PoolLimit = 1024;

        private static readonly ObjectPool<PendingChange<TState, T>> Pool = ReusedObjects.Pool(() => new PendingChange<TState, T>(), PoolLimit);

        private readonly DeferredCompletion<T> _completion = new();
        private Func<MdtTransaction, TState, T>? _change;
        private TState? _state;
        private ChangeOrigin? _origin;
        private ChangeResult<T>? _recorder;
        private bool _creates;
        private bool _unseen;
        private T? _result;

        private PendingChange()
        {
        }

        public static PendingChange<TState, T> Rent(Func<MdtTransaction, TState, T> change, TState state, ChangeOrigin? origin, ChangeResult<T>? recorder, bool creates, bool unseen = false)
        {
            var pending = Pool.Get();
            pending._change = change;
            pending._state = state;
            pending._origin = origin;
            pending._recorder = recorder;
            pending._creates = creates;
            pending._unseen = unseen;
            return pending;
        }

        /// <summary>Clears this change and keeps it for the next one (the pool drops it when full).</summary>
        public void Return()
        {
            _change = null;
            _state = default;
            _origin = null;
            _recorder = null;
            _result = default;
            _completion.Reset();
            Pool.Return(this);
        }

        public ValueTask<T> Task => new(this, _completion.Version);

        public override bool Creates => _creates;

        public override bool Unseen => _unseen;

        public override bool AnsweredFromRecord(MdtStore store)
        {
            using var batch = new WriteBatch();
            return Answered(new MdtTransaction(store, batch));
        }

        public override void Run(MdtTransaction transaction)
        {
            if (_origin is not { } from || _recorder is null)
            {
                _result = _change!(transaction, _state!);
                return;
            }

            // Every send is checked, not only resends: a resend can overtake its first send on the way here.
            if (!Answered(transaction))
            {
                _result = _change!(transaction, _state!);
                transaction.Store.Replies.Record(transaction, from, _recorder, _result);
            }
        }

        /// <summary>Applied before (its reply was lost, perhaps with the MDS that sent it): takes the result as then.</summary>
        private bool Answered(MdtTransaction transaction)
        {
            if (_origin is { } from && _recorder is not null && transaction.Store.Replies.TryGet(transaction, from, out var recorded))
            {
                _result = _recorder.Decode(recorded);
                return true;
            }

            return false;
        }

        public override void Complete() => _completion.SetResult(_result!);

        public override void Fail(Exception exception) => _completion.SetException(exception);

        public T GetResult(short token)
        {
            try
            {
                return _completion.GetResult(token);
            }
            finally
            {
                Return();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }
}
