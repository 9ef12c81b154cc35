using System.Buffers;
using Lustre.Layouts;
using Lustre.Namespace;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Lustre.Threading;
using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>
/// The namespace on one MDT: path walks, and every change as one transaction of the store's writer loop.
/// Errors are <see cref="RpcStatusException"/>s thrown before anything is written, so a refused operation
/// changes nothing.
/// </summary>
internal sealed class MdtNamespace
{
    /// <summary>
    /// Reads of files' bytes at the latest state, past RocksDB's block cache (as <see cref="ReadDataOnMdt(DomReadBatchRequest, ClientIdentity)"/>
    /// reads them), shared: RocksDB's read options are only read by a read.
    /// </summary>
    private static readonly ReadOptions UncachedRead = new ReadOptions().SetFillCache(false);

    private readonly MdtStore _store;
    private readonly IOstPlacement _placement;

    // Files open for write, by FID: in memory only, as Lustre's open handles; a restart forgets them (and
    // clients that still write will update the size on their close or flush anyway).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<LustreFid, int> _writers = new();

    // Resyncs running, by FID, with when their hold lapses: one at a time per file, so two copies never write the same
    // mirror. In memory, as open handles: a restart forgets them, and the generation each began with still guards.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<LustreFid, long> _resyncs = new();

    /// <summary>How long a resync holds a file without finishing before another may start.</summary>
    public static readonly TimeSpan ResyncHold = TimeSpan.FromMinutes(5);

    private readonly LayoutMigrations _migrations;

    // Only for WalkedDefaults: touched by the MDT's writer loop alone.
    private readonly List<byte[]> _walkedDefaults = [];
    private long _dataOnMdtLimit;

    /// <param name="store">The MDT.</param>
    /// <param name="placement">Where new objects go.</param>
    /// <param name="migrationLease">How long a layout migration holds a file without a renewal (<see cref="LayoutMigrations.DefaultLease"/>).</param>
    /// <param name="dataOnMdtLimit">The largest Data-on-MDT component accepted (<see cref="DataOnMdtLimit"/>); default 1 MiB.</param>
    public MdtNamespace(MdtStore store, IOstPlacement placement, TimeSpan? migrationLease = null, long dataOnMdtLimit = LayoutDefaults.DefaultDataOnMdtLimit)
    {
        _store = store;
        _placement = placement;
        _migrations = new LayoutMigrations(migrationLease ?? LayoutMigrations.DefaultLease);
        DataOnMdtLimit = dataOnMdtLimit;
        EnsureRoot();
        AdoptMigrations();
    }

    /// <summary>
    /// The largest Data-on-MDT component this MDT takes (Lustre's <c>lod.*.dom_stripesize</c>): a file or directory
    /// default with a larger one is refused with EFBIG, as Lustre 2.11 refused it (later Lustre shrinks the component to
    /// the limit instead; a layout that silently differs from the one asked for is worse than an error). 0 refuses every
    /// Data-on-MDT layout. Files made before a change keep their layouts.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative, over 1 GiB or not a multiple of 64 KiB.</exception>
    public long DataOnMdtLimit
    {
        get => Volatile.Read(ref _dataOnMdtLimit);
        set
        {
            ValidateDataOnMdtLimit(value);
            Volatile.Write(ref _dataOnMdtLimit, value);
        }
    }

    /// <summary>Throws unless <paramref name="value"/> is a valid <see cref="DataOnMdtLimit"/>: 0 to 1 GiB in steps of 64 KiB, as Lustre's.</summary>
    public static void ValidateDataOnMdtLimit(long value, [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(value))] string? name = null)
    {
        if (value < 0 || value > LayoutDefaults.MaxDataOnMdtSize || value % LayoutDefaults.StripeAlignment != 0)
        {
            throw new ArgumentOutOfRangeException(name, value, $"The Data-on-MDT limit (dom_stripesize) must be 0 (off) or a multiple of 64 KiB up to {LayoutDefaults.MaxDataOnMdtSize} (1 GiB), got {value}.");
        }
    }

    public MdtStore Store => _store;

    /// <summary>Layout swaps completed so far: an open reads it before it reads the inode (see <see cref="OpenForWriteAsync"/>).</summary>
    public long LayoutSwaps => _migrations.Swaps;

    private static long Now() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) * 100;

    private void EnsureRoot()
    {
        if (_store.Get(MdtKeys.InodeKey(LustreFid.Root)) is null)
        {
            var now = Now();
            var root = new MdtInode(EntryType.Directory, 0x41ED, 0, 0, 0, 2, now, now, now, [], []);
            _store.ChangeAsync(tx =>
            {
                tx.PutInode(LustreFid.Root, root);
                _store.CountInode(tx, 1);
                return true;
            }).AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Throws unless <paramref name="path"/> is valid (the client checked it too); true for the root.</summary>
    private static bool IsRoot(string path)
    {
        var error = LustrePath.Check(path);
        if (error is not null)
        {
            throw new RpcStatusException(error.Contains("longer than", StringComparison.Ordinal) ? LustreErrno.ENAMETOOLONG : LustreErrno.EINVAL, error);
        }

        return LustrePath.Trimmed(path).IsEmpty;
    }

    public MdtInode LoadInode(LustreFid fid) =>
        _store.GetInode(fid) ?? throw new RpcStatusException(LustreErrno.ESTALE, $"no inode {fid}");

    /// <summary>
    /// Walks to the directory holding the last component of a path <see cref="IsRoot"/> checked; returns it and where
    /// the last name is in <paramref name="path"/> (empty for the root). Every directory looked in needs search (x)
    /// permission for <paramref name="who"/>, the last one's included. With <paramref name="defaults"/>, adds each
    /// directory's default layout to it on the way (empty for none), root first. The walk reads names in place: a stat
    /// or an unlink makes no string per component.
    /// </summary>
    private (LustreFid Parent, MdtInode ParentInode, Range Name) WalkToParent(string path, ClientIdentity who, List<byte[]>? defaults = null)
    {
        var (parent, parentInode, name) = Walk(path, who, defaults, loadParent: true);
        return (parent, parentInode!, name);
    }

    /// <summary>
    /// <see cref="WalkToParent"/>'s walk. Only the inodes asked for are decoded whole (the last directory's with
    /// <paramref name="loadParent"/>, every one's with <paramref name="defaults"/>); the others are read for their
    /// permission bits alone (<see cref="MdtStore.GetAccess"/>), so a lookup makes no inode object per directory.
    /// </summary>
    private (LustreFid Parent, MdtInode? ParentInode, Range Name) Walk(string path, ClientIdentity who, List<byte[]>? defaults, bool loadParent)
    {
        var current = LustreFid.Root;
        var end = 1 + LustrePath.Trimmed(path).Length;
        var start = 1;
        while (true)
        {
            var slash = end == 1 ? -1 : path.AsSpan(start, end - start).IndexOf('/');
            // The last directory is decoded whole when asked for; one on the way only for its default layout.
            var inode = slash < 0 && loadParent ? LoadInode(current) : null;
            InodeAccess? access = null;
            if (inode is not null)
            {
                defaults?.Add(inode.DefaultLayout);
            }
            else if (defaults is not null)
            {
                var (bits, defaultLayout) = _store.GetAccessAndDefault(current) ?? throw new RpcStatusException(LustreErrno.ESTALE, $"no inode {current}");
                access = bits;
                defaults.Add(defaultLayout);
            }

            if (end == 1)
            {
                return (current, inode, 0..0);
            }

            RequireSearch(inode?.Access ?? access ?? LoadAccess(current), who, path, start);
            if (slash < 0)
            {
                return (current, inode, start..end);
            }

            var component = path.AsSpan(start, slash);
            var (fid, type) = LookupEntry(current, component)
                ?? throw new RpcStatusException(LustreErrno.ENOENT, $"'{path}': no such file or directory ('{component}' is missing)");
            if (type != EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{path}': '{component}' is not a directory");
            }

            current = fid;
            start += slash + 1;
        }
    }

    private InodeAccess LoadAccess(LustreFid fid) =>
        _store.GetAccess(fid) ?? throw new RpcStatusException(LustreErrno.ESTALE, $"no inode {fid}");

    /// <summary>Search permission in <paramref name="directory"/>, the one whose entries start at <paramref name="start"/> in <paramref name="path"/>.</summary>
    private static void RequireSearch(InodeAccess directory, ClientIdentity who, string path, int start)
    {
        if (!Permissions.Allows(directory, who, Access.Execute))
        {
            throw Permissions.Denied(directory, who, Access.Execute, start <= 1 ? "/" : path[..(start - 1)]);
        }
    }

    private (LustreFid Fid, EntryType Type)? LookupEntry(LustreFid parent, ReadOnlySpan<char> name) => _store.GetEntry(parent, name);

    public (LustreFid Fid, MdtInode Inode) Resolve(string path, ClientIdentity who)
    {
        var fid = ResolveFid(path, who);
        return (fid, LoadInode(fid));
    }

    /// <summary>The FID <paramref name="path"/> names, with the permission checks of <see cref="Resolve"/>, without reading its inode.</summary>
    private LustreFid ResolveFid(string path, ClientIdentity who)
    {
        if (IsRoot(path))
        {
            return LustreFid.Root;
        }

        var (parent, _, name) = Walk(path, who, defaults: null, loadParent: false);
        var entry = LookupEntry(parent, path.AsSpan(name)) ?? throw new RpcStatusException(LustreErrno.ENOENT, $"'{path}': no such file or directory");
        return entry.Fid;
    }

    /// <summary>
    /// A stat's reply: the attributes of <paramref name="path"/> (with <see cref="FlagsOf"/>), written straight from the
    /// stored record into a reply body (no inode object, no layout array).
    /// </summary>
    public FrameBuffer GetAttrReply(string path, ClientIdentity who)
    {
        var fid = ResolveFid(path, who);
        return _store.GetAttributesReply(fid, FlagsOf(fid)) ?? throw new RpcStatusException(LustreErrno.ESTALE, $"no inode {fid}");
    }

    /// <summary>What the MDS reports with a file's attributes: whether some client has it open for write.</summary>
    public InodeFlags FlagsOf(LustreFid fid) => _writers.TryGetValue(fid, out var count) && count > 0 ? InodeFlags.OpenForWrite : InodeFlags.None;

    /// <summary>
    /// Notes a writer (refused with EINPROGRESS while a migration holds writers off). When a layout swap completed
    /// since <paramref name="swapsBefore"/>, the inode the open read may hold the old layout: it is read again, after
    /// the writer is noted, so a writer never gets objects a swap has retired.
    /// </summary>
    private InodeAttributes RegisterWriter(InodeAttributes attributes, long swapsBefore)
    {
        var fid = attributes.Fid;
        var flags = attributes.Flags | InodeFlags.OpenForWrite;
        // Every write-open passes here: state-passing, so the registration allocates no closure.
        if (!_migrations.RegisterWriter(fid, swapsBefore, _writers, static (writers, fid) => writers.AddOrUpdate(fid, 1, static (_, count) => count + 1)))
        {
            return attributes.Flags == flags ? attributes : attributes with { Flags = flags };
        }

        try
        {
            return LoadInode(fid).ToAttributes(fid, flags);
        }
        catch
        {
            Close(new CloseRequest(fid, Writer: true));
            throw;
        }
    }

    /// <summary>Records the size a closing writer reports (durably, "at least" as a flush does), then forgets the writer.</summary>
    public async Task CloseAsync(CloseRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        if (request.Size != CloseRequest.NoSize)
        {
            // Checked as a flush's setattr is: the MDS keeps no per-client open handles, so a close naming any FID
            // could otherwise grow a file its sender may not write.
            await SetAttrAsync(origin, who, new SetAttrRequest(request.Fid, SetAttrMask.SizeAtLeast | SetAttrMask.ModifyTime, request.Size, 0, 0, 0, 0, request.ModifyTimeNs)).ConfigureAwait(false);
        }

        Close(request);
    }

    private void Close(CloseRequest request)
    {
        if (!request.Writer)
        {
            return;
        }

        while (_writers.TryGetValue(request.Fid, out var count))
        {
            if (count <= 1 ? _writers.TryRemove(new KeyValuePair<LustreFid, int>(request.Fid, count)) : _writers.TryUpdate(request.Fid, count - 1, count))
            {
                return;
            }
        }
    }

    public ReadDirReply ReadDir(string path, string cookie, int maxEntries, ClientIdentity who)
    {
        var (fid, inode) = Resolve(path, who);
        if (inode.Type != EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{path}' is not a directory");
        }

        Permissions.Require(inode, who, Access.Read, path);

        if (maxEntries <= 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"max entries {maxEntries} must be positive");
        }

        maxEntries = Math.Min(maxEntries, ProtocolLimits.MaxDirectoryPageEntries);
        var prefix = MdtKeys.EntryPrefix(fid);
        var entries = new List<DirEntry>(Math.Min(maxEntries, 128));
        using var iterator = _store.NewIterator(prefix);
        SeekAfter(iterator, fid, cookie);
        var end = true;
        while (iterator.Valid())
        {
            var key = iterator.Key();
            if (!key.AsSpan().StartsWith(prefix))
            {
                break;
            }

            if (entries.Count == maxEntries)
            {
                end = false;
                break;
            }

            var (child, type) = MdtKeys.ParseEntryValue(iterator.Value());
            entries.Add(new DirEntry(MdtKeys.EntryName(key), type, child));
            iterator.Next();
        }

        return new ReadDirReply(entries, end);
    }

    /// <summary>
    /// Positions <paramref name="iterator"/> on the first entry of <paramref name="directory"/> after the name
    /// <paramref name="cookie"/> ("" for the first entry). Entries sort by name bytes, and a page resumes strictly after
    /// the last name it returned whether or not that name still exists: an entry present for the whole listing is
    /// returned exactly once however many names are added or removed meanwhile (only one renamed meanwhile may be seen
    /// under both names, or neither), as POSIX asks of readdir.
    /// </summary>
    private static void SeekAfter(Iterator iterator, LustreFid directory, string cookie)
    {
        if (cookie.Length == 0)
        {
            iterator.Seek(MdtKeys.EntryPrefix(directory));
            return;
        }

        // The same key with a 0 byte appended is the cookie's immediate successor.
        var after = MdtKeys.EntryKey(directory, cookie);
        Array.Resize(ref after, after.Length + 1);
        iterator.Seek(after);
    }

    /// <summary>
    /// A readdir-plus page: the entries after the request's cookie with the attributes a getattr of each would return,
    /// up to its max entries and max bytes of reply (each capped by the protocol's limits; the first entry always goes
    /// in). Listing names needs read permission on the directory and stat'ing what is in it search permission, so both
    /// are required: the reply tells nothing a getattr of each entry would refuse. The whole page is read from one RocksDB snapshot, so an entry and its inode agree even while other
    /// clients unlink or rename. Attributes carry no OST capability (only opens issue them).
    /// </summary>
    public ReadDirPlusReply ReadDirPlus(ReadDirPlusRequest request, ClientIdentity who)
    {
        var (fid, inode) = Resolve(request.Path, who);
        if (inode.Type != EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{request.Path}' is not a directory");
        }

        Permissions.Require(inode, who, Access.Read | Access.Execute, request.Path);
        if (request.MaxEntries <= 0 || request.MaxBytes <= 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"max entries {request.MaxEntries} and max bytes {request.MaxBytes} must be positive");
        }

        var maxEntries = Math.Min(request.MaxEntries, ProtocolLimits.MaxDirectoryPageEntries);
        var budget = Math.Min(request.MaxBytes, ProtocolLimits.MaxMetadataPageBytes) - ReadDirPlusReply.Overhead;
        var prefix = MdtKeys.EntryPrefix(fid);
        var entries = new List<DirEntryPlus>(Math.Min(maxEntries, 128));
        using var snapshot = _store.Database.CreateSnapshot();
        var read = new ReadOptions().SetSnapshot(snapshot);
        using var iterator = _store.NewIterator(prefix, snapshot);
        SeekAfter(iterator, fid, request.Cookie);
        var end = true;
        var used = 0;
        while (iterator.Valid())
        {
            var key = iterator.Key();
            if (!key.AsSpan().StartsWith(prefix))
            {
                break;
            }

            if (entries.Count == maxEntries)
            {
                end = false;
                break;
            }

            var child = MdtKeys.ParseEntryValue(iterator.Value()).Fid;
            var childInode = _store.Database.Get(MdtKeys.InodeKey(child), readOptions: read) is { } bytes
                ? MdtInode.Decode(bytes)
                : throw new InvalidDataException($"The entry '{MdtKeys.EntryName(key)}' of {fid} names {child}, which has no inode: the MDT is damaged.");
            var entry = new DirEntryPlus(MdtKeys.EntryName(key), childInode.ToAttributes(child, FlagsOf(child)));
            used += entry.EncodedLength;
            if (used > budget && entries.Count > 0)
            {
                end = false;
                break;
            }

            entries.Add(entry);
            iterator.Next();
        }

        return new ReadDirPlusReply(entries, end);
    }

    /// <summary>
    /// What a getattr of each path would return, or (with <see cref="OpenFlags.Read"/>) an open of each for reading, each
    /// with its own permission checks and its own errno on failure; in the request's order, as many as fit
    /// <see cref="ProtocolLimits.MaxMetadataPageBytes"/> of reply (the first always). Nothing is changed, so nothing is
    /// recorded for resends. A request for a statahead lease gets one when <see cref="StatAheadLeases.TryGrant"/> does,
    /// else only its first path answered. Opens asked with <see cref="GetAttrBatchRequest.ReadOnOpen"/> also bring each
    /// file's bytes that a single open's read-on-open would bring (<see cref="ReadOnOpen"/>), within
    /// <see cref="GetAttrBatchReply.MaxWithData"/> of reply: the first file's as a single open reads them, the others'
    /// only under the lease, which lets no change apply between their attributes and their bytes. Returns the reply's
    /// body (<see cref="GetAttrBatchReply"/>).
    /// </summary>
    /// <param name="request">The paths and flags.</param>
    /// <param name="who">Who asks.</param>
    /// <param name="issue">Adds the OST capability an open for reading gets (the MDS service knows the keys).</param>
    public FrameBuffer GetAttrBatch(GetAttrBatchRequest request, ClientIdentity who, Func<InodeAttributes, InodeAttributes> issue)
    {
        if ((request.Flags & ~OpenFlags.Read) != 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"a batched getattr takes only the Read flag, not {request.Flags}: it never creates or opens for writing");
        }

        var open = (request.Flags & OpenFlags.Read) != 0;
        var readOnOpen = open ? request.ReadOnOpen : 0;

        // Statahead: a lease over plain stats or opens for reading, when the MDT is quiet; refused, only the path the
        // client waits for.
        var leases = _store.Leases;
        var lease = request.Lease && request.Paths.Count > 1 && leases.MayGrant;
        var sequence = lease ? leases.Sequence : 0;
        var count = request.Lease && !lease ? Math.Min(1, request.Paths.Count) : request.Paths.Count;

        // The reply as GetAttrBatchReply writes it, its count filled in at the end; a stat's attributes straight from
        // RocksDB's copy of the inode. The count is in the body from the start; the lease comes after the results, and
        // the files' bytes, when asked, after the lease.
        var results = FrameBuffer.Rent(16 * 1024);
        var opened = readOnOpen > 0 ? new InodeAttributes?[count] : null;
        try
        {
            var writer = results.Body;
            writer.WriteInt32(0);
            var budget = (readOnOpen > 0 ? GetAttrBatchReply.MaxWithData : ProtocolLimits.MaxMetadataPageBytes) - (GetAttrBatchReply.Overhead - sizeof(int));
            var dataBytes = 0L;
            var answered = 0;
            for (; answered < count; answered++)
            {
                var path = request.Paths[answered];
                var mark = results.Length;
                var blob = 0L;
                try
                {
                    if (open)
                    {
                        var attributes = issue(OpenExisting(path, Access.Read, who));
                        GetAttrResult.Ok(attributes).Write(writer);
                        if (opened is not null)
                        {
                            opened[answered] = attributes;
                            blob = sizeof(int) + (ReadsOnOpen(attributes, readOnOpen) ? attributes.Size : 0);
                        }
                    }
                    else
                    {
                        using var attributes = GetAttrReply(path, who);
                        writer.WriteInt32(0);
                        results.Append(attributes.Written.Span[FrameHeader.Size..]);
                    }
                }
                catch (RpcStatusException ex)
                {
                    results.TrimTo(mark);
                    GetAttrResult.Failed(ex.Errno, ex.Message).Write(writer);
                    blob = opened is null ? 0 : sizeof(int);
                }

                if (results.BodyLength + dataBytes + blob > budget && answered > 0)
                {
                    results.TrimTo(mark);
                    break;
                }

                dataBytes += blob;
            }

            var (granted, id) = lease ? leases.TryGrant(sequence) : default;
            results.WriteInt32At(0, answered);
            GetAttrBatchReply.WriteLease(writer, granted, id, always: opened is not null);
            if (opened is not null)
            {
                try
                {
                    WriteOpenedData(writer, opened.AsSpan(0, answered), readOnOpen, granted > TimeSpan.Zero);
                }
                catch when (granted > TimeSpan.Zero)
                {
                    // No reply goes out, so no client holds this lease: changes need not wait for it.
                    leases.Release(id);
                    throw;
                }
            }

            return results;
        }
        catch
        {
            results.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The byte blobs of a batch of opens that asked for files' bytes: the first file's read as a single open's
    /// read-on-open reads them (from one snapshot, checked against its attributes), the others' only when
    /// <paramref name="leased"/> (no change applied since their attributes were read, nor will until the lease ends);
    /// an empty blob for every other.
    /// </summary>
    private void WriteOpenedData(BodyWriter writer, ReadOnlySpan<InodeAttributes?> opened, int max, bool leased)
    {
        byte[]? scratch = null;
        try
        {
            for (var i = 0; i < opened.Length; i++)
            {
                if (opened[i] is not { } attributes)
                {
                    writer.WriteInt32(0);
                }
                else if (i == 0)
                {
                    if (ReadOnOpen(attributes, max) is { } first)
                    {
                        try
                        {
                            writer.WriteBytes(first.Buffer.AsSpan(0, first.Length));
                        }
                        finally
                        {
                            BulkPool.Shared.Return(first.Buffer);
                        }
                    }
                    else
                    {
                        writer.WriteInt32(0);
                    }
                }
                else if (leased && ReadsOnOpen(attributes, max))
                {
                    var size = (int)attributes.Size;
                    scratch ??= ArrayPool<byte>.Shared.Rent(max);
                    DataOnMdt.Read(_store.Database, UncachedRead, attributes.Fid, 0, scratch, size);
                    writer.WriteBytes(scratch.AsSpan(0, size));
                }
                else
                {
                    writer.WriteInt32(0);
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                ArrayPool<byte>.Shared.Return(scratch);
            }
        }
    }

    /// <summary>Whether an open for reading that found <paramref name="opened"/> brings its bytes (read-on-open): all on the MDT, at most <paramref name="max"/>, and no writer.</summary>
    private static bool ReadsOnOpen(InodeAttributes opened, int max) =>
        opened.Type == EntryType.File && opened.Size > 0 && opened.Size <= max && (opened.Flags & InodeFlags.OpenForWrite) == 0
        && LayoutCodec.DataOnMdtEnd(opened.Layout) >= opened.Size;

    /// <summary>An open of an existing file without create: no change, so no transaction.</summary>
    private InodeAttributes OpenExisting(string path, Access access, ClientIdentity who)
    {
        var (fid, inode) = Resolve(path, who);
        if (inode.Type == EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.EISDIR, $"'{path}' is a directory");
        }

        Permissions.Require(inode, who, access, path);
        return inode.ToAttributes(fid, FlagsOf(fid));
    }

    /// <summary>
    /// Read-on-open: the bytes of a file an open for reading found, when they all live in its Data-on-MDT component and
    /// are no more than <paramref name="max"/> (Lustre's <c>mdt_dom_read_on_open</c>), in a buffer of
    /// <see cref="BulkPool"/> for the reply's bulk; null otherwise. Not while someone writes the file (its size on the
    /// MDS may be behind), nor when the file changed since <paramref name="opened"/> was read: the bytes sent are those
    /// of the size the open answers.
    /// </summary>
    public (byte[] Buffer, int Length)? ReadOnOpen(InodeAttributes opened, int max)
    {
        var size = opened.Size;
        if (!ReadsOnOpen(opened, max))
        {
            return null;
        }

        using var snapshot = _store.Database.CreateSnapshot();
        var read = new ReadOptions().SetSnapshot(snapshot);
        if (_store.Database.Get(MdtKeys.InodeKey(opened.Fid), readOptions: read) is not { } bytes || MdtInode.Decode(bytes) is not { } inode
            || inode.Size != size || !inode.Layout.AsSpan().SequenceEqual(opened.Layout))
        {
            return null;
        }

        var buffer = BulkPool.Shared.Rent((int)size);
        DataOnMdt.Read(_store.Database, read, opened.Fid, 0, buffer, (int)size);
        return (buffer, (int)size);
    }

    /// <summary>
    /// Reads bytes of a file's Data-on-MDT component (<see cref="Opcode.MdsDomRead"/>): those of [offset, offset + length)
    /// below the file's size and the component's end, zeros for a hole, into a buffer of <see cref="BulkPool"/>, read
    /// with the inode from one snapshot. The file's own read permission is checked, as an open's.
    /// </summary>
    public (byte[]? Buffer, int Length) ReadDataOnMdt(DomReadRequest request, ClientIdentity who)
    {
        RequireReadableRange(request, batched: false);
        using var snapshot = _store.Database.CreateSnapshot();
        var read = new ReadOptions().SetSnapshot(snapshot);
        var length = ReadableLength(read, request, who);
        if (length == 0)
        {
            return (null, 0);
        }

        var buffer = BulkPool.Shared.Rent(length);
        DataOnMdt.Read(_store.Database, read, request.Fid, request.Offset, buffer, length);
        return (buffer, length);
    }

    /// <summary>EINVAL for a range no Data-on-MDT read may ask for: a negative offset, or a length outside 0 to one bulk.</summary>
    private static void RequireReadableRange(DomReadRequest range, bool batched)
    {
        if (range.Offset < 0 || range.Length < 0 || range.Length > ProtocolLimits.MaxBulkLength)
        {
            var what = batched
                ? $"a batched Data-on-MDT read of {range.Length} bytes at offset {range.Offset} of {range.Fid}"
                : $"a Data-on-MDT read of {range.Length} bytes at offset {range.Offset}";
            throw new RpcStatusException(LustreErrno.EINVAL, $"{what}: the offset must not be negative and the length 0 to {ProtocolLimits.MaxBulkLength}");
        }
    }

    /// <summary>
    /// The bytes of <paramref name="range"/> that lie below the file's size and its Data-on-MDT component's end, as of
    /// <paramref name="read"/>'s snapshot, once the file is found (ESTALE), has the component and may be read by
    /// <paramref name="who"/>: the checks of a single read and of each range of a batched one.
    /// </summary>
    private int ReadableLength(ReadOptions read, DomReadRequest range, ClientIdentity who)
    {
        var inode = _store.Database.Get(MdtKeys.InodeKey(range.Fid), readOptions: read) is { } bytes
            ? MdtInode.Decode(bytes)
            : throw new RpcStatusException(LustreErrno.ESTALE, $"no inode {range.Fid}");
        var onMdt = RequireDataOnMdt(range.Fid, inode);
        Permissions.Require(inode, who, Access.Read, range.Fid);
        return (int)Math.Clamp(Math.Min(inode.Size, onMdt) - range.Offset, 0, range.Length);
    }

    /// <summary>
    /// Reads ranges of many files' Data-on-MDT components (<see cref="Opcode.MdsDomReadBatch"/>) into one pooled buffer,
    /// back to back, each exactly its length (zeros past a file's bytes), all as of one snapshot. Each range is checked
    /// as a single read is (the file, its component, read permission); the first refused fails the request, naming
    /// its file. The ranges together take at most one bulk.
    /// </summary>
    public (byte[]? Buffer, int Length) ReadDataOnMdt(DomReadBatchRequest request, ClientIdentity who)
    {
        long total = 0;
        foreach (var range in request.Ranges)
        {
            RequireReadableRange(range, batched: true);
            total += range.Length;
        }

        if (total > ProtocolLimits.MaxBulkLength)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"a batched Data-on-MDT read of {request.Ranges.Length} ranges asks for {total} bytes; one request carries at most {ProtocolLimits.MaxBulkLength}");
        }

        if (total == 0)
        {
            return (null, 0);
        }

        var buffer = BulkPool.Shared.Rent((int)total);
        try
        {
            using var snapshot = _store.Database.CreateSnapshot();
            var read = new ReadOptions().SetSnapshot(snapshot);

            // The files' bytes do not go into RocksDB's block cache: a loader streams a whole data set through here,
            // which would push out the inodes and entries every metadata request reads (RocksDB's advice for bulk scans).
            // A range within one chunk (a small file's) is a point read; an iterator only for those that span chunks.
            var bytes = new ReadOptions().SetSnapshot(snapshot).SetFillCache(false);
            Iterator? iterator = null;
            try
            {
                var at = 0;
                foreach (var range in request.Ranges)
                {
                    var available = ReadableLength(read, range, who);
                    if (!DataOnMdt.TryReadOneChunk(_store.Database, bytes, range.Fid, range.Offset, buffer, at, available))
                    {
                        iterator ??= _store.Database.NewIterator(readOptions: bytes);
                        DataOnMdt.Read(iterator, range.Fid, range.Offset, buffer.AsSpan(at, available));
                    }

                    buffer.AsSpan(at + available, range.Length - available).Clear();
                    at += range.Length;
                }
            }
            finally
            {
                iterator?.Dispose();
            }

            return (buffer, (int)total);
        }
        catch
        {
            BulkPool.Shared.Return(buffer);
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> into a file's Data-on-MDT component (<see cref="Opcode.MdsDomWrite"/>): the bytes,
    /// the size raised to cover them and the mtime go in one batch with the reply record, durable with the group commit
    /// before the reply (exactly once, as every change a client asks for). Needs write permission; the range must lie in
    /// the component (EFBIG otherwise), and the file must still have one (ESTALE: a migration moved it to OSTs). Bytes
    /// that take space are refused with ENOSPC under the MDT's reserve, as creates are. Returns the new size.
    /// </summary>
    public ValueTask<long> WriteDataOnMdtAsync(DomWriteRequest request, ReadOnlyMemory<byte> data, ChangeOrigin origin, ClientIdentity who)
    {
        if (request.Offset < 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"a Data-on-MDT write at offset {request.Offset} of {request.Fid}: the offset must not be negative");
        }

        if (request.Offset > LayoutDefaults.MaxDataOnMdtSize - data.Length)
        {
            throw new RpcStatusException(LustreErrno.EFBIG, $"a Data-on-MDT write of {data.Length} bytes at offset {request.Offset} of {request.Fid}: no Data-on-MDT component reaches there (they end by {LayoutDefaults.MaxDataOnMdtSize} bytes)");
        }

        return _store.ChangeAsync(origin, ChangeResults.Size, tx =>
        {
            var inode = LoadInode(request.Fid);
            var onMdt = RequireDataOnMdt(request.Fid, inode);
            Permissions.Require(inode, who, Access.Write, request.Fid);

            var end = request.Offset + data.Length;
            if (end > onMdt)
            {
                throw new RpcStatusException(LustreErrno.EFBIG, $"{request.Fid}: bytes [{request.Offset}, {end}) reach past its Data-on-MDT component, which ends at {onMdt}");
            }

            if (data.IsEmpty)
            {
                return inode.Size;
            }

            DataOnMdt.Write(tx, request.Fid, request.Offset, data.Span, inode.Size);
            var now = Now();
            var updated = inode with { Size = Math.Max(inode.Size, end), ModifyTimeNs = now, ChangeTimeNs = now };
            tx.PutInode(request.Fid, updated);

            // A migration copying the file must not swap without these bytes.
            _migrations.SizeSet(request.Fid);
            return updated.Size;
        }, creates: true);
    }

    /// <summary>The end of the file's Data-on-MDT component; EISDIR for a directory, ESTALE when it has none (its layout changed under the caller).</summary>
    private static long RequireDataOnMdt(LustreFid fid, MdtInode inode)
    {
        if (inode.Type != EntryType.File)
        {
            throw new RpcStatusException(LustreErrno.EISDIR, $"{fid} is a directory");
        }

        return LayoutCodec.DataOnMdtEnd(inode.Layout) is > 0 and var end
            ? end
            : throw new RpcStatusException(LustreErrno.ESTALE, $"{fid} has no Data-on-MDT component (a migration moved its bytes to OSTs since it was opened): open it again");
    }

    /// <summary>What an open with <paramref name="flags"/> needs of the file: read, write, or both.</summary>
    public static Access OpenAccess(OpenFlags flags) =>
        ((flags & OpenFlags.Write) != 0 ? Access.Write : 0) | ((flags & OpenFlags.Read) != 0 || (flags & OpenFlags.Write) == 0 ? Access.Read : 0);

    /// <summary>
    /// Opens or creates a file. With <paramref name="data"/> (a create with data, <see cref="Opcode.MdsOpen"/> carrying
    /// bulk), the request must create a new file (create and exclusive) whose layout keeps at least those bytes on the
    /// MDT: the inode, its entry and the bytes go in one batch with the reply record, durable with one group commit, and
    /// no writer is left open. A layout whose Data-on-MDT component is smaller (or absent) is refused with EFBIG before
    /// anything is placed, and nothing is created: the caller then creates, writes and closes.
    /// </summary>
    public ValueTask<InodeAttributes> OpenAsync(OpenRequest request, ChangeOrigin origin, ClientIdentity who, ReadOnlyMemory<byte> data = default)
    {
        if (IsRoot(request.Path))
        {
            throw new RpcStatusException(LustreErrno.EISDIR, "'/' is a directory");
        }

        if (!data.IsEmpty && (request.Flags & (OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.Write | OpenFlags.Read)) != (OpenFlags.Create | OpenFlags.Exclusive))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"'{request.Path}': data comes with an open only to create a new file (create and exclusive, no read or write flag), not with flags {request.Flags}");
        }

        var requestedLayout = request.Layout.Length == 0 ? null : DecodeLayout(request.Layout, "layout");
        if (requestedLayout is not null && (request.Flags & OpenFlags.Create) != 0 && requestedLayout.AllObjects().Any())
        {
            // Kept, a named object would belong to two files (components with objects are not placed again).
            throw new RpcStatusException(LustreErrno.EINVAL, "a new file's layout must not name OST objects: the MDS places them");
        }

        if ((request.Flags & OpenFlags.Create) == 0)
        {
            return new ValueTask<InodeAttributes>(OpenExisting(request.Path, OpenAccess(request.Flags), who));
        }

        return ChangeWithFreshPlacementAsync(
            origin,
            ChangeResults.Attributes,
            requestedLayout,
            (Self: this, Request: request, Who: who, Data: data, Layout: requestedLayout),
            static (tx, s) => s.Self.CreateOrOpen(tx, s.Request, s.Who, s.Data, s.Layout));
    }

    /// <summary>The change of <see cref="OpenAsync"/> with create: in the writer loop, opens the file if it is there, else creates it.</summary>
    private InodeAttributes CreateOrOpen(MdtTransaction tx, OpenRequest request, ClientIdentity who, ReadOnlyMemory<byte> data, FileLayout? requestedLayout)
    {
        var defaults = WalkedDefaults();
        var (parent, parentInode, name) = WalkToParent(request.Path, who, defaults);
        if (parentInode.Type != EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{LustrePath.Parent(request.Path)}' is not a directory");
        }

        if (LookupEntry(parent, request.Path.AsSpan(name)) is { } found)
        {
            if ((request.Flags & OpenFlags.Exclusive) != 0)
            {
                throw new RpcStatusException(LustreErrno.EEXIST, $"'{request.Path}' already exists");
            }

            var inode = LoadInode(found.Fid);
            if (inode.Type == EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.EISDIR, $"'{request.Path}' is a directory");
            }

            Permissions.Require(inode, who, OpenAccess(request.Flags), request.Path);
            return inode.ToAttributes(found.Fid, FlagsOf(found.Fid));
        }

        Permissions.RequireChange(parentInode, who, request.Path);

        var template = NewFileLayout(requestedLayout, defaults);
        if (template.DataOnMdtEnd < data.Length)
        {
            throw new RpcStatusException(
                LustreErrno.EFBIG,
                $"'{request.Path}': {data.Length} bytes do not fit its Data-on-MDT component ({template.DataOnMdtEnd} bytes), so they cannot come with the create: create the file, then write");
        }

        // Lazily: a PFL file's later components get objects when a write first reaches them (MdsLayout).
        var encoded = Instantiate(template, tx, request.Path, firstOnly: true);
        var fid = _store.AllocateFid(tx);
        var now = Now();
        var created = new MdtInode(EntryType.File, 0x8000 | (request.Mode & 0xFFF), who.Uid, Permissions.NewGroup(parentInode, who), data.Length, 1, now, now, now, encoded, []);
        if (!data.IsEmpty)
        {
            DataOnMdt.Write(tx, fid, 0, data.Span, 0);
        }

        tx.PutInode(fid, created);
        _store.CountInode(tx, 1);
        tx.PutEntry(parent, request.Path.AsSpan(name), fid, EntryType.File);
        tx.PutChangedDirectory(parent, parentInode, parentInode.LinkCount, now);
        // A creating writer is open for write from its reply on: said here, the reply needs no second copy for it.
        return created.ToAttributes(fid, (request.Flags & OpenFlags.Write) != 0 ? InodeFlags.Created | InodeFlags.OpenForWrite : InodeFlags.Created);
    }

    /// <summary>
    /// Places objects for <paramref name="template"/> in <paramref name="tx"/>; returns the encoded layout. With
    /// <paramref name="firstOnly"/>, only the first component of a PFL layout without mirrors gets objects, as Lustre
    /// instantiates at create only the component at offset 0 (a mirrored layout is instantiated whole: every write goes
    /// to every mirror, and each mirror's OSTs must stay apart from the others').
    /// </summary>
    private byte[] Instantiate(FileLayout template, MdtTransaction tx, string path, bool firstOnly = false)
    {
        CheckDataOnMdt(template, $"'{path}'");
        var layout = firstOnly && !template.IsMirrored ? _placement.InstantiateBelow(template, 1, tx) : _placement.Instantiate(template, tx);
        return EncodeChecked(layout, path);
    }

    private static byte[] EncodeChecked(FileLayout layout, string what)
    {
        if (LayoutCodec.GetEncodedLength(layout) > InodeAttributes.MaxLayoutLength)
        {
            // 64 components of 2000 stripes would not fit a reply; no real layout comes near.
            throw new RpcStatusException(LustreErrno.EINVAL, $"the layout of '{what}' would take {LayoutCodec.GetEncodedLength(layout)} bytes, over the limit of {InodeAttributes.MaxLayoutLength}");
        }

        return LayoutCodec.Encode(layout);
    }

    /// <summary>A Data-on-MDT component larger than <see cref="DataOnMdtLimit"/> is refused with EFBIG, naming the limit.</summary>
    private void CheckDataOnMdt(FileLayout layout, string what)
    {
        var end = layout.DataOnMdtEnd;
        var limit = DataOnMdtLimit;
        if (end > limit)
        {
            throw new RpcStatusException(
                LustreErrno.EFBIG,
                limit == 0
                    ? $"{what}: its layout keeps its first {end} bytes on the MDT (Data-on-MDT), which this MDT does not take (dom_stripesize is 0)"
                    : $"{what}: its Data-on-MDT component is {end} bytes, over this MDT's limit of {limit} bytes (dom_stripesize)");
        }
    }

    /// <summary>
    /// Opens many files for reading by FID (<see cref="Opcode.MdsOpenBatch"/>): each is loaded and checked as
    /// <see cref="Reauthorize"/> checks a renewal, and answered on its own, so a file deleted or unreadable since the
    /// caller listed it fails only its own entry. Reads only: no transaction, no reply record. <paramref name="answer"/>
    /// turns each file's attributes into the entry sent (the MDS adds the capability there); the entries stop before
    /// their encoded bytes pass <paramref name="maxBytes"/> (at least one is answered).
    /// </summary>
    public List<OpenBatchEntry> OpenBatch(OpenBatchRequest request, ClientIdentity who, Func<InodeAttributes, InodeAttributes> answer, int maxBytes)
    {
        if ((request.Flags & ~OpenFlags.Read) != 0)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"a batched open only reads; flags {request.Flags} are not allowed (open for writing or creating one file at a time)");
        }

        var entries = new List<OpenBatchEntry>(request.Fids.Count);
        var bytes = sizeof(int);
        foreach (var fid in request.Fids)
        {
            OpenBatchEntry entry;
            try
            {
                entry = new OpenBatchEntry(0, string.Empty, answer(Reauthorize(fid, OpenFlags.Read, who)));
            }
            catch (RpcStatusException ex)
            {
                entry = OpenBatchEntry.Failed(ex.Errno, ex.Message);
            }

            var length = entry.EncodedLength;
            if (entries.Count > 0 && bytes + length > maxBytes)
            {
                break;
            }

            if (length > maxBytes)
            {
                entry = OpenBatchEntry.Failed(LustreErrno.EFBIG, $"{fid}: its attributes take {length} bytes, more than one reply holds");
            }

            entries.Add(entry);
            bytes += entry.EncodedLength;
        }

        return entries;
    }

    /// <summary>
    /// Runs a change that places objects; when no OST could take them (ENOSPC), re-reads the OSTs from the MGS and
    /// their free space once and tries again. The MDS otherwise learns of OSTs every refresh interval, so an OST that
    /// registered since (a cluster whose OSSs start after its MDS, an OSS that joined) would fail creates meanwhile.
    /// A layout the client gave (<paramref name="given"/>, null for a default) is first checked for its pools.
    /// </summary>
    private ValueTask<T> ChangeWithFreshPlacementAsync<T>(ChangeOrigin origin, ChangeResult<T> result, FileLayout? given, Func<MdtTransaction, T> change) =>
        ChangeWithFreshPlacementAsync(origin, result, given, change, static (tx, change) => change(tx));

    /// <inheritdoc cref="ChangeWithFreshPlacementAsync{T}(ChangeOrigin, ChangeResult{T}, FileLayout?, Func{MdtTransaction, T})"/>
    /// <remarks>The change gets <paramref name="state"/>: with a static change, no closure per create.</remarks>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<T> ChangeWithFreshPlacementAsync<TState, T>(ChangeOrigin origin, ChangeResult<T> result, FileLayout? given, TState state, Func<MdtTransaction, TState, T> change)
    {
        if (given is not null)
        {
            await CheckPoolsAsync(given).ConfigureAwait(false);
        }

        RpcStatusException noSpace;
        try
        {
            return await _store.ChangeAsync(origin, result, state, change, creates: true).ConfigureAwait(false);
        }
        catch (RpcStatusException ex) when (ex.Errno == LustreErrno.ENOSPC)
        {
            noSpace = ex;
        }

        try
        {
            await _placement.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Client.LustreException)
        {
            // The MGS did not answer: the OSTs known so far are all there is to go by.
            throw noSpace;
        }

        return await _store.ChangeAsync(origin, result, state, change, creates: true).ConfigureAwait(false);
    }

    /// <summary>
    /// Refuses a layout a client gave (setstripe of a directory, a create, a migration or a mirror extend with a layout) whose pool does
    /// not exist, has no OSTs, or has fewer OSTs than the stripe count (EINVAL, naming the pool). The MDS learns of pool
    /// changes every refresh interval; before refusing, it re-reads the configuration once, so a pool made or filled
    /// a moment ago with lctl is seen.
    /// </summary>
    private async Task CheckPoolsAsync(FileLayout layout)
    {
        if (_placement.CheckPools(layout) is null)
        {
            return;
        }

        try
        {
            await _placement.RefreshAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Client.LustreException)
        {
            // The MGS did not answer: the configuration known so far decides.
        }

        if (_placement.CheckPools(layout) is { } error)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, error);
        }
    }

    /// <summary>
    /// The list a create's or a migration's walk collects the directories' default layouts in, emptied: one list for the
    /// MDT, as only changes use it and the writer loop runs them one at a time.
    /// </summary>
    private List<byte[]> WalkedDefaults()
    {
        _walkedDefaults.Clear();
        return _walkedDefaults;
    }

    /// <summary>
    /// A new file's layout, before its objects: the one the create asked for, else its directory's default, else the
    /// root's, else the filesystem's (as Lustre), with every value it leaves to the default filled in by
    /// <see cref="LayoutInheritance"/> from the defaults of the directories above, from the one whose default it is up
    /// to the root (the root's own default only gives to files under directories without one).
    /// </summary>
    /// <param name="requested">The layout the create named, or null.</param>
    /// <param name="walked">The default layout of every directory from the root to the file's (empty for none), as the walk collected them.</param>
    private FileLayout NewFileLayout(FileLayout? requested, List<byte[]> walked)
    {
        var fromDepth = walked.Count - 1;
        var template = requested;
        if (template is null && walked[^1].Length > 0)
        {
            template = DecodeLayout(walked[^1], "directory default layout");
        }
        else if (template is null && walked[0].Length > 0)
        {
            template = DecodeLayout(walked[0], "root default layout");
            fromDepth = 0;
        }
        else if (template is null)
        {
            // No directory sets anything (the root has no default): the filesystem's default is complete as it is.
            return _placement.FilesystemDefault();
        }

        if (!LayoutInheritance.HasUnsetFields(template))
        {
            return template;
        }

        var defaults = new List<FileLayout>();
        for (var depth = fromDepth; depth >= 0; depth--)
        {
            if (walked[depth].Length > 0)
            {
                defaults.Add(depth == walked.Count - 1 && requested is null ? template : DecodeLayout(walked[depth], "directory default layout"));
            }
        }

        return LayoutInheritance.Resolve(template, defaults, _placement.FilesystemDefault());
    }

    private static FileLayout DecodeLayout(byte[] bytes, string what)
    {
        try
        {
            return LayoutCodec.Decode(bytes);
        }
        catch (InvalidDataException ex)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"bad {what}: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"bad {what}: {ex.Message}");
        }
    }

    public ValueTask<InodeAttributes> SetAttrAsync(ChangeOrigin origin, ClientIdentity who, SetAttrRequest request)
    {
        if ((request.Mask & (SetAttrMask.Size | SetAttrMask.SizeAtLeast)) != 0 && (request.Size < 0 || request.Size > ProtocolLimits.MaxFileSize))
        {
            throw new RpcStatusException(LustreErrno.EFBIG, $"size {request.Size} is outside 0..{ProtocolLimits.MaxFileSize}");
        }

        return _store.ChangeAsync(origin, ChangeResults.Attributes, (Self: this, Who: who, Request: request), static (tx, s) => s.Self.SetAttr(tx, s.Who, s.Request));
    }

    /// <summary>The change of <see cref="SetAttrAsync"/> (a flush's or close's size among them), in the writer loop, with no closure.</summary>
    private InodeAttributes SetAttr(MdtTransaction tx, ClientIdentity who, SetAttrRequest request)
    {
        var inode = LoadInode(request.Fid);
        RequireSetAttr(inode, who, request);
        var now = Now();
        var size = inode.Size;
        if ((request.Mask & SetAttrMask.Size) != 0)
        {
            if (inode.Type == EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.EISDIR, $"{request.Fid} is a directory; it has no size to set");
            }

            size = request.Size;
        }
        else if ((request.Mask & SetAttrMask.SizeAtLeast) != 0)
        {
            size = Math.Max(size, request.Size);
        }

        if ((request.Mask & (SetAttrMask.Size | SetAttrMask.SizeAtLeast)) != 0)
        {
            if (inode.Type == EntryType.File && LayoutCodec.DataOnMdtEnd(inode.Layout) > 0)
            {
                SizeDataOnMdt(tx, request.Fid, inode, size, (request.Mask & SetAttrMask.Size) != 0);
            }

            // A writer flushed, closed or truncated: a migration copying the file must not swap without it.
            _migrations.SizeSet(request.Fid);
        }

        var updated = inode with
        {
            Size = size,
            Mode = (request.Mask & SetAttrMask.Mode) != 0 ? (inode.Mode & 0xF000) | (request.Mode & 0xFFF) : inode.Mode,
            Uid = (request.Mask & SetAttrMask.Uid) != 0 ? request.Uid : inode.Uid,
            Gid = (request.Mask & SetAttrMask.Gid) != 0 ? request.Gid : inode.Gid,
            AccessTimeNs = (request.Mask & SetAttrMask.AccessTime) != 0 ? request.AccessTimeNs : inode.AccessTimeNs,
            ModifyTimeNs = (request.Mask & SetAttrMask.ModifyTime) != 0 ? request.ModifyTimeNs : inode.ModifyTimeNs,
            ChangeTimeNs = now,
        };
        tx.PutInode(request.Fid, updated);
        return updated.ToAttributes(request.Fid, FlagsOf(request.Fid));
    }

    /// <summary>
    /// The size of a file with a Data-on-MDT component changes: past the end of a layout of that component alone it is
    /// refused with EFBIG (Lustre's answer to a file growing past its last component), past the end of one whose OST
    /// components stop short with ENODATA (as a write there: <c>lfs setstripe --component-add</c> first), and a truncate
    /// cuts the bytes on the MDT past the new size in the same batch.
    /// </summary>
    private static void SizeDataOnMdt(MdtTransaction tx, LustreFid fid, MdtInode inode, long size, bool exact)
    {
        var layout = LayoutCodec.Decode(inode.Layout);
        if (size > layout.End && layout.Components.Count == 1)
        {
            throw new RpcStatusException(
                LustreErrno.EFBIG,
                $"{fid}: a size of {size} bytes is past the end of its layout, a Data-on-MDT component of {layout.End} bytes with no OST component after it: migrate it to a layout with OST components (lfs migrate) to grow it");
        }

        if (size > layout.End)
        {
            throw new RpcStatusException(
                LustreErrno.ENODATA,
                $"{fid}: a size of {size} bytes is past the end of its layout at {layout.End} bytes: add a component there first (lfs setstripe --component-add)");
        }

        if (exact)
        {
            DataOnMdt.Truncate(tx, fid, size, Math.Min(inode.Size, layout.DataOnMdtEnd));
        }
    }

    /// <summary>
    /// chmod: the owner or root. chown: root only (to another uid). chgrp: root, or the owner to one of their groups.
    /// A size: write permission. Times alone: the owner or write permission.
    /// </summary>
    private static void RequireSetAttr(MdtInode inode, ClientIdentity who, SetAttrRequest request)
    {
        if (who.IsRoot)
        {
            return;
        }

        var what = request.Fid.ToString();
        var mask = request.Mask;
        if ((mask & SetAttrMask.Mode) != 0)
        {
            Permissions.RequireOwner(inode, who, "change the mode of", what);
        }

        if ((mask & SetAttrMask.Uid) != 0 && request.Uid != inode.Uid)
        {
            throw new RpcStatusException(LustreErrno.EPERM, $"operation not permitted: only root may give {what} to another owner (uid {request.Uid}); this is {who}");
        }

        if ((mask & SetAttrMask.Gid) != 0 && request.Gid != inode.Gid)
        {
            Permissions.RequireOwner(inode, who, "change the group of", what);
            if (!who.InGroup(request.Gid))
            {
                throw new RpcStatusException(LustreErrno.EPERM, $"operation not permitted: {who} is not in group {request.Gid}, so cannot give {what} to it");
            }
        }

        if ((mask & (SetAttrMask.Size | SetAttrMask.SizeAtLeast)) != 0)
        {
            Permissions.Require(inode, who, Access.Write, what);
        }
        else if ((mask & (SetAttrMask.AccessTime | SetAttrMask.ModifyTime)) != 0 && who.Uid != inode.Uid)
        {
            Permissions.Require(inode, who, Access.Write, what);
        }
    }

    public ValueTask<InodeAttributes> MkdirAsync(MkdirRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        if (IsRoot(request.Path))
        {
            throw new RpcStatusException(LustreErrno.EEXIST, "'/' already exists");
        }

        return _store.ChangeAsync(origin, ChangeResults.Attributes, tx =>
        {
            var (parent, parentInode, name) = WalkToParent(request.Path, who);
            if (parentInode.Type != EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{LustrePath.Parent(request.Path)}' is not a directory");
            }

            if (LookupEntry(parent, request.Path.AsSpan(name)) is not null)
            {
                throw new RpcStatusException(LustreErrno.EEXIST, $"'{request.Path}' already exists");
            }

            Permissions.RequireChange(parentInode, who, request.Path);

            var fid = _store.AllocateFid(tx);
            var now = Now();

            // As Lustre: a new directory takes a copy of its parent's default layout (the root's is the filesystem's
            // default, which applies anyway), so a wide or mirrored tree stays so however deep it grows.
            var inherited = parent == LustreFid.Root ? [] : parentInode.DefaultLayout;
            var created = new MdtInode(EntryType.Directory, 0x4000 | (request.Mode & 0xFFF), who.Uid, Permissions.NewGroup(parentInode, who), 0, 2, now, now, now, [], inherited);
            tx.PutInode(fid, created);
            _store.CountInode(tx, 1);
            tx.PutEntry(parent, request.Path.AsSpan(name), fid, EntryType.Directory);
            tx.PutChangedDirectory(parent, parentInode, parentInode.LinkCount + 1, now);
            return created.ToAttributes(fid);
        }, creates: true);
    }

    public ValueTask<bool> RemoveAsync(string path, bool directory, ChangeOrigin origin, ClientIdentity who)
    {
        if (IsRoot(path))
        {
            throw new RpcStatusException(LustreErrno.EBUSY, "'/' cannot be removed");
        }

        return _store.ChangeAsync(origin, ChangeResults.Done, (Self: this, Path: path, Directory: directory, Who: who), static (tx, s) => s.Self.Remove(tx, s.Path, s.Directory, s.Who));
    }

    /// <summary>The change of <see cref="RemoveAsync"/>, in the writer loop: a static delegate and its state, so an unlink allocates no closure.</summary>
    private bool Remove(MdtTransaction tx, string path, bool directory, ClientIdentity who)
    {
        var (parent, parentInode, name) = WalkToParent(path, who);
        var entry = LookupEntry(parent, path.AsSpan(name)) ?? throw new RpcStatusException(LustreErrno.ENOENT, $"'{path}': no such file or directory");
        var inode = LoadInode(entry.Fid);
        Permissions.RequireRemove(parentInode, inode, who, path);
        if (directory && inode.Type != EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{path}' is not a directory");
        }

        if (!directory && inode.Type == EntryType.Directory)
        {
            throw new RpcStatusException(LustreErrno.EISDIR, $"'{path}' is a directory (use rmdir)");
        }

        if (directory && HasEntries(entry.Fid))
        {
            throw new RpcStatusException(LustreErrno.ENOTEMPTY, $"'{path}' is not empty");
        }

        var now = Now();
        tx.DeleteEntry(parent, path.AsSpan(name), entry.Type);
        DropInode(tx, entry.Fid, inode);
        var linkDelta = directory ? 1u : 0u;
        tx.PutChangedDirectory(parent, parentInode, parentInode.LinkCount - linkDelta, now);
        return true;
    }

    /// <summary>
    /// Deletes an inode; a file's objects go to the durable destroy queue in the same batch. Those a migration of it
    /// placed are not: its migrator may still be writing them, so they go when it gives up (its swap finds no inode) or
    /// its hold lapses.
    /// </summary>
    private static void DropInode(MdtTransaction tx, LustreFid fid, MdtInode inode)
    {
        tx.DeleteInode(fid, inode.Type);
        tx.Store.CountInode(tx, -1);
        if (inode.Type == EntryType.File && LayoutCodec.DataOnMdtEnd(inode.Layout) is > 0 and var onMdt)
        {
            DataOnMdt.Drop(tx, fid, Math.Min(inode.Size, onMdt));
        }

        if (inode.Type == EntryType.File && inode.Layout.Length > 0)
        {
            var layout = LayoutCodec.Decode(inode.Layout);
            QueueDestroy(tx, layout.AllObjects());
            if (layout.IsMirrored)
            {
                tx.Delete(MdtKeys.StaleMirrorsKey(fid));
            }
        }
    }

    private static void QueueDestroy(MdtTransaction tx, LayoutObjects objects)
    {
        Span<byte> key = stackalloc byte[MdtKeys.DestroyKeyLength];
        foreach (var obj in objects)
        {
            MdtKeys.WriteDestroyKey(key, obj.OstIndex, obj.ObjectId);
            tx.Put(key, []);
        }
    }

    /// <summary>
    /// Changes a file's mirrors (see <see cref="MirrorOperation"/>); every change bumps the layout generation, so a
    /// resync that started before it cannot mark a mirror in sync after it.
    /// </summary>
    public async Task<InodeAttributes> MirrorAsync(MirrorRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        var template = request.Operation == MirrorOperation.Extend ? DecodeLayout(request.Template, "mirror template") : null;
        if (template?.AllObjects().Any() == true)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "a mirror template must not name OST objects");
        }

        // By FID, so no directory to inherit from: what the template leaves to the default is the filesystem's (lfs
        // mirror extend fills in the file's own stripe count and size first).
        if (template is { HasDataOnMdt: true })
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "a mirror template must not have a Data-on-MDT component: mirrors keep every copy on OSTs");
        }

        if (template is not null)
        {
            await CheckPoolsAsync(template).ConfigureAwait(false);
            template = LayoutInheritance.Resolve(template, [], _placement.FilesystemDefault());
        }

        return await _store.ChangeAsync(origin, ChangeResults.Attributes, tx =>
        {
            var inode = LoadInode(request.Fid);
            if (inode.Type != EntryType.File || inode.Layout.Length == 0)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"{request.Fid} is not a file with a layout");
            }

            // Marking a mirror stale or in sync, splitting or extending one: all change what the file holds; a resync
            // also reads it (its reply carries a capability to read and write the objects).
            Permissions.Require(inode, who, request.Operation == MirrorOperation.BeginResync ? Access.Read | Access.Write : Access.Write, request.Fid);
            var layout = LayoutCodec.Decode(inode.Layout);
            if (layout.HasDataOnMdt)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"{request.Fid} keeps its first {layout.DataOnMdtEnd} bytes on the MDT (Data-on-MDT), and mirrors keep every copy on OSTs: migrate it to an OST layout first (lfs migrate)");
            }

            var changed = request.Operation switch
            {
                MirrorOperation.MarkStale => MarkStale(layout, request.MirrorId),
                MirrorOperation.MarkSynced => MarkSynced(layout, request),
                MirrorOperation.Split => Split(tx, layout, request.MirrorId),
                MirrorOperation.Extend => _placement.AddMirrors(layout, template!, tx),
                MirrorOperation.BeginResync => BeginResync(layout, request.Fid),
                MirrorOperation.EndResync => EndResync(layout, request.Fid),
                _ => throw new RpcStatusException(LustreErrno.EINVAL, $"unknown mirror operation {(byte)request.Operation}"),
            };
            if (ReferenceEquals(changed, layout))
            {
                return inode.ToAttributes(request.Fid, FlagsOf(request.Fid));
            }

            var updated = inode with { Layout = LayoutCodec.Encode(changed.WithGeneration(layout.Generation + 1)), ChangeTimeNs = Now() };
            tx.PutInode(request.Fid, updated);

            // Files with a stale mirror are listed for the resync agent, in the same batch.
            if (changed.Mirrors.Any(m => m.IsStale))
            {
                tx.Put(MdtKeys.StaleMirrorsKey(request.Fid), []);
            }
            else
            {
                tx.Delete(MdtKeys.StaleMirrorsKey(request.Fid));
            }

            return updated.ToAttributes(request.Fid, FlagsOf(request.Fid));
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Changes the components of a file's layout (<see cref="Opcode.MdsLayout"/>, see <see cref="ComponentChanges"/>):
    /// instantiates those a write reaches, adds or deletes components. Each change bumps the layout generation, so
    /// handles that hold the old layout take the new one; an instantiation that finds its components instantiated (by
    /// another client's request, which the writer loop ran first) changes nothing. Applied once per request: the result
    /// is recorded for a resend. A write reaching a new component needs write permission, as Lustre's layout intent
    /// needs the file open for writing.
    /// </summary>
    public async Task<InodeAttributes> ChangeComponentsAsync(LayoutRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        var template = request.Operation == LayoutOperation.AddComponents ? DecodeLayout(request.Template, "layout") : null;
        if (template is not null)
        {
            await CheckPoolsAsync(template).ConfigureAwait(false);
        }

        Func<MdtTransaction, InodeAttributes> change = tx =>
        {
            var inode = LoadInode(request.Fid);
            if (inode.Type != EntryType.File || inode.Layout.Length == 0)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"{request.Fid} is not a file with a layout");
            }

            Permissions.Require(inode, who, Access.Write, request.Fid);
            var layout = LayoutCodec.Decode(inode.Layout);
            var changed = request.Operation switch
            {
                LayoutOperation.Instantiate => ComponentChanges.Instantiate(layout, request.End, _placement, tx),
                LayoutOperation.AddComponents => ComponentChanges.Add(layout, request.End, template!, _placement.FilesystemDefault()),
                LayoutOperation.DeleteComponents => ComponentChanges.Delete(layout, request.ComponentId, request.Selection),
                _ => throw new RpcStatusException(LustreErrno.EINVAL, $"unknown layout operation {(byte)request.Operation}"),
            };
            if (ReferenceEquals(changed, layout))
            {
                return inode.ToAttributes(request.Fid, FlagsOf(request.Fid));
            }

            // Instantiating is not a change a user made (Lustre leaves the ctime to the write); adding or deleting is.
            var updated = inode with
            {
                Layout = EncodeChecked(changed.WithGeneration(layout.Generation + 1), request.Fid.ToString()),
                ChangeTimeNs = request.Operation == LayoutOperation.Instantiate ? inode.ChangeTimeNs : Now(),
            };
            tx.PutInode(request.Fid, updated);
            return updated.ToAttributes(request.Fid, FlagsOf(request.Fid));
        };

        // Only an instantiation places objects (and is refused, as a create, while the MDT is short of space).
        return request.Operation == LayoutOperation.Instantiate
            ? await ChangeWithFreshPlacementAsync(origin, ChangeResults.Attributes, given: null, change).ConfigureAwait(false)
            : await _store.ChangeAsync(origin, ChangeResults.Attributes, change).ConfigureAwait(false);
    }

    private static LayoutMirror Mirror(FileLayout layout, int id) =>
        (layout.IsMirrored ? layout.MirrorById(id) : null)
        ?? throw new RpcStatusException(LustreErrno.EINVAL, $"the file has no mirror {id}; its mirrors are {(layout.IsMirrored ? string.Join(", ", layout.Mirrors.Select(m => m.Id)) : "none (it is not mirrored)")}");

    private static FileLayout Replace(FileLayout layout, LayoutMirror mirror) =>
        layout.WithMirrors([.. layout.Mirrors.Select(m => m.Id == mirror.Id ? mirror : m)]);

    private static FileLayout MarkStale(FileLayout layout, int id)
    {
        var mirror = Mirror(layout, id);
        if (mirror.IsStale)
        {
            return layout;
        }

        if (!layout.Mirrors.Any(m => m.Id != id && !m.IsStale))
        {
            throw new RpcStatusException(LustreErrno.EIO, $"mirror {id} is the file's last mirror in sync: it cannot be marked stale, so the write that missed it fails");
        }

        return Replace(layout, mirror.WithFlags(mirror.Flags | MirrorFlags.Stale));
    }

    private FileLayout BeginResync(FileLayout layout, LustreFid fid)
    {
        if (!layout.IsMirrored || !layout.Mirrors.Any(m => m.IsStale))
        {
            return layout;
        }

        if ((FlagsOf(fid) & InodeFlags.OpenForWrite) != 0)
        {
            throw new RpcStatusException(LustreErrno.EBUSY, "the file is open for writing: resync it once every writer has closed it");
        }

        var now = Environment.TickCount64;
        if (_resyncs.TryGetValue(fid, out var until) && until > now)
        {
            throw new RpcStatusException(LustreErrno.EBUSY, $"a resync of this file is running (it holds the file for up to {ResyncHold.TotalMinutes:0} more minutes)");
        }

        _resyncs[fid] = now + (long)ResyncHold.TotalMilliseconds;

        // A new generation, so a resync that began before this one cannot mark anything in sync.
        return layout.WithMirrors([.. layout.Mirrors]);
    }

    private FileLayout EndResync(FileLayout layout, LustreFid fid)
    {
        _resyncs.TryRemove(fid, out _);
        return layout;
    }

    private FileLayout MarkSynced(FileLayout layout, MirrorRequest request)
    {
        try
        {
            var mirror = Mirror(layout, request.MirrorId);
            if (layout.Generation != request.Generation)
            {
                throw new RpcStatusException(LustreErrno.ESTALE, $"the layout changed during the resync (generation {request.Generation} then, {layout.Generation} now): run the resync again");
            }

            if (!_resyncs.ContainsKey(request.Fid))
            {
                throw new RpcStatusException(LustreErrno.ESTALE, "no resync of this file is running (it was not begun, or its hold lapsed): run the resync again");
            }

            var synced = mirror.IsStale ? Replace(layout, mirror.WithFlags(mirror.Flags & ~MirrorFlags.Stale)) : layout;
            if (!synced.Mirrors.Any(m => m.IsStale))
            {
                _resyncs.TryRemove(request.Fid, out _);
            }

            return synced;
        }
        catch (RpcStatusException)
        {
            // Refused: this resync is over.
            _resyncs.TryRemove(request.Fid, out _);
            throw;
        }
    }

    private static FileLayout Split(MdtTransaction tx, FileLayout layout, int id)
    {
        var mirror = Mirror(layout, id);
        if (layout.Mirrors.Count == 1)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"mirror {id} is the file's only mirror: splitting it would leave no copy");
        }

        if (!mirror.IsStale && !layout.Mirrors.Any(m => m.Id != id && !m.IsStale))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"mirror {id} is the file's only mirror in sync: resync another before splitting it");
        }

        QueueDestroy(tx, mirror.Layout.AllObjects());
        return layout.WithMirrors([.. layout.Mirrors.Where(m => m.Id != id)]);
    }

    /// <summary>
    /// A step of a layout migration (<c>lfs migrate</c>, see <see cref="LayoutMigrations"/>): Begin places the new
    /// objects and holds the file, Renew keeps it, Swap gives the file the new layout keeping its FID, Abort gives up.
    /// Abort answers null.
    /// </summary>
    public async Task<MigrateReply?> MigrateAsync(MigrateRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        switch (request.Operation)
        {
            case MigrateOperation.Begin:
                return await BeginMigrationAsync(request, origin, who).ConfigureAwait(false);
            case MigrateOperation.Renew:
                return RenewMigration(request, who);
            case MigrateOperation.Swap:
                return await SwapLayoutsAsync(request, origin, who).ConfigureAwait(false);
            case MigrateOperation.Abort:
                await AbortMigrationAsync(request, origin).ConfigureAwait(false);
                return null;
            default:
                throw new RpcStatusException(LustreErrno.EINVAL, $"unknown migration step {(byte)request.Operation}");
        }
    }

    private int LeaseMs => (int)_migrations.Lease.TotalMilliseconds;

    private async Task<MigrateReply> BeginMigrationAsync(MigrateRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        var template = request.Template.Length == 0 ? null : DecodeLayout(request.Template, "layout");
        if (template is not null && template.AllObjects().Any())
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "a migration's layout must not name OST objects: the MDS places them");
        }

        if (template is { IsMirrored: true })
        {
            throw new RpcStatusException(LustreErrno.EINVAL, "a migration gives a file a plain or PFL layout; lfs mirror extend adds mirrors");
        }

        if (IsRoot(request.Path))
        {
            throw new RpcStatusException(LustreErrno.EISDIR, "it is a directory: lfs migrate moves the objects of files");
        }

        LayoutMigrations.View? begun = null;
        LustreFid fid = default;
        try
        {
            return await ChangeWithFreshPlacementAsync(origin, ChangeResults.Migration, template, tx =>
            {
                var defaults = WalkedDefaults();
                var (parent, _, name) = WalkToParent(request.Path, who, defaults);
                var entry = LookupEntry(parent, request.Path.AsSpan(name)) ?? throw new RpcStatusException(LustreErrno.ENOENT, $"'{request.Path}': no such file or directory");
                fid = entry.Fid;
                var inode = LoadInode(fid);
                if (inode.Type != EntryType.File || inode.Layout.Length == 0)
                {
                    throw new RpcStatusException(LustreErrno.EISDIR, "it is a directory: lfs migrate moves the objects of files");
                }

                // As lfs, which opens the file for reading and writing to copy it and swap its layout.
                Permissions.Require(inode, who, Access.Read | Access.Write, request.Path);
                if (LayoutCodec.IsMirrored(inode.Layout))
                {
                    throw new RpcStatusException(LustreErrno.EINVAL, "it is a mirrored file: restripe it with lfs mirror extend (a mirror with the new layout), then lfs mirror split -d of the old mirrors");
                }

                var target = NewFileLayout(template, defaults);
                var onMdt = LayoutCodec.DataOnMdtEnd(inode.Layout);
                if (target.HasDataOnMdt && target.DataOnMdtEnd != onMdt)
                {
                    // The copy would write the new Data-on-MDT bytes where the old ones live (both are the FID's).
                    throw new RpcStatusException(
                        LustreErrno.EINVAL,
                        onMdt == 0
                            ? $"'{request.Path}': migrating into a Data-on-MDT layout is not supported; its OST components can be restriped, and a file can migrate out of Data-on-MDT"
                            : $"'{request.Path}': the new layout's Data-on-MDT component is {target.DataOnMdtEnd} bytes, the file's is {onMdt}: a migration keeps the Data-on-MDT component as it is, or drops it");
                }

                // Every component: the copy may reach any of them before the swap.
                var encoded = Instantiate(target, tx, request.Path);

                // A migration that lapsed and was not swept yet: its objects go now, this one's record replaces it.
                if (_store.Get(MdtKeys.MigrationKey(fid)) is { } lapsed)
                {
                    QueueDestroy(tx, LayoutCodec.Decode(lapsed).AllObjects());
                }

                tx.Put(MdtKeys.MigrationKey(fid), encoded);
                var view = _migrations.Begin(fid, inode.Layout, encoded, (request.Flags & MigrateFlags.NonBlock) == 0, () => IsOpenForWrite(fid));
                begun = view;
                return new MigrateReply(view.State, view.Id, view.DataVersion, LeaseMs, inode.ToAttributes(fid, FlagsOf(fid)), encoded);
            }).ConfigureAwait(false);
        }
        catch when (begun is { } view)
        {
            // Not durable: nothing of it may hold writers off.
            _migrations.Forget(fid, view.Id);
            throw;
        }
    }

    /// <summary>
    /// Keeps the migration's hold. The attributes are read after the state: when it says the copy may start, the
    /// size is the one the copy must cover (no writer has the file, and new ones wait or move the data version).
    /// </summary>
    private MigrateReply RenewMigration(MigrateRequest request, ClientIdentity who)
    {
        Permissions.Require(LoadInode(request.Fid), who, Access.Read | Access.Write, request.Fid);
        var view = _migrations.Renew(request.Fid, request.MigrationId, () => IsOpenForWrite(request.Fid));
        return new MigrateReply(view.State, view.Id, view.DataVersion, LeaseMs, LoadInode(request.Fid).ToAttributes(request.Fid, FlagsOf(request.Fid)), view.NewLayout);
    }

    /// <summary>
    /// Swaps the layouts keeping the FID (Lustre's swap with <c>SWAP_LAYOUTS_CHECK_DV1</c>): the file gets the new
    /// objects and a new layout generation, times unchanged but the change time; the old objects go to the destroy queue
    /// in the same batch. Refused (EBUSY) when the data version moved since the copy started or a writer has the file.
    /// </summary>
    private async Task<MigrateReply> SwapLayoutsAsync(MigrateRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        var swapping = false;
        try
        {
            var reply = await _store.ChangeAsync(origin, ChangeResults.Migration, tx =>
            {
                var inode = LoadInode(request.Fid);
                Permissions.Require(inode, who, Access.Write, request.Fid);
                var view = _migrations.StartSwap(request.Fid, request.MigrationId, request.DataVersion, inode.Layout, () => IsOpenForWrite(request.Fid));
                swapping = true;
                var old = LayoutCodec.Decode(inode.Layout);
                var swapped = inode with
                {
                    Layout = LayoutCodec.Encode(LayoutCodec.Decode(view.NewLayout).WithGeneration(old.Generation + 1)),
                    ChangeTimeNs = Now(),
                };
                tx.PutInode(request.Fid, swapped);
                tx.Delete(MdtKeys.MigrationKey(request.Fid));
                QueueDestroy(tx, old.AllObjects());
                if (old.HasDataOnMdt && LayoutCodec.DataOnMdtEnd(view.NewLayout) == 0)
                {
                    // Out of Data-on-MDT: the copy put those bytes on OSTs; the MDT's go with the old layout.
                    DataOnMdt.Drop(tx, request.Fid, Math.Min(inode.Size, old.DataOnMdtEnd));
                }

                return new MigrateReply(MigrateState.Swapped, view.Id, view.DataVersion, 0, swapped.ToAttributes(request.Fid, FlagsOf(request.Fid)), []);
            }).ConfigureAwait(false);
            if (swapping)
            {
                _migrations.Swapped(request.Fid, request.MigrationId);
            }

            return reply;
        }
        catch when (swapping)
        {
            _migrations.SwapFailed(request.Fid, request.MigrationId);
            throw;
        }
    }

    /// <summary>Ends a migration its migrator gave up: its objects go to the destroy queue. Nothing to do is not an error.</summary>
    private ValueTask<bool> AbortMigrationAsync(MigrateRequest request, ChangeOrigin origin) =>
        _store.ChangeAsync(origin, ChangeResults.Done, tx =>
        {
            if (_migrations.Abort(request.Fid, request.MigrationId) is { } placed)
            {
                DropMigration(tx, request.Fid, placed);
            }

            return true;
        });

    /// <summary>Queues the objects of a migration's new layout for destroy, unless its record on the MDT is another migration's.</summary>
    private void DropMigration(MdtTransaction tx, LustreFid fid, byte[] placed)
    {
        if (_store.Get(MdtKeys.MigrationKey(fid)) is { } stored && stored.AsSpan().SequenceEqual(placed))
        {
            QueueDestroy(tx, LayoutCodec.Decode(placed).AllObjects());
            tx.Delete(MdtKeys.MigrationKey(fid));
        }
    }

    /// <summary>
    /// Destroys the new objects of migrations whose migrator stopped renewing (it died, or lost the MDS for a lease):
    /// run by the MDS's background loop before each pass of the destroy queue. Returns how many were dropped.
    /// </summary>
    public async Task<int> DropLapsedMigrationsAsync()
    {
        var lapsed = _migrations.TakeLapsed();
        if (lapsed.Count > 0)
        {
            await _store.ChangeAsync(tx =>
            {
                foreach (var (fid, placed) in lapsed)
                {
                    DropMigration(tx, fid, placed);
                }

                return true;
            }).ConfigureAwait(false);
        }

        return lapsed.Count;
    }

    /// <summary>The new layout of a migration running on the file, whose objects its capabilities cover too; null when none runs.</summary>
    public byte[]? MigrationLayoutOf(LustreFid fid) => _migrations.NewLayoutOf(fid);

    /// <summary>Migrations on the MDT at start were running when it stopped: each is dropped once a lease has passed.</summary>
    private void AdoptMigrations()
    {
        using var iterator = _store.NewIterator([MdtKeys.Migration]);
        for (iterator.Seek([MdtKeys.Migration]); iterator.Valid() && iterator.Key() is [MdtKeys.Migration, ..] key && key.Length == 17; iterator.Next())
        {
            _migrations.Adopt(MdtKeys.ReadFid(key.AsSpan(1)), iterator.Value());
        }
    }

    /// <summary>
    /// A writer opens the file: it is noted (see <see cref="RegisterWriter"/>). A file with a stale mirror also moves
    /// its generation on, so a resync that started before this open cannot mark the mirror in sync without the bytes
    /// this writer may add.
    /// </summary>
    /// <param name="attributes">The file as the open found it.</param>
    /// <param name="swapsBefore"><see cref="LayoutSwaps"/> as read before the open read the inode.</param>
    public ValueTask<InodeAttributes> OpenForWriteAsync(InodeAttributes attributes, long swapsBefore)
    {
        // A new writer changes what a stat answers (its size then comes from the OSTs), so it waits for the statahead
        // leases as a change of the MDT does.
        var leases = _store.Leases.BeginChangeAsync();
        if (!leases.IsCompletedSuccessfully)
        {
            return OpenForWriteAfterLeasesAsync(leases, attributes, swapsBefore);
        }

        InodeAttributes registered;
        try
        {
            registered = RegisterWriter(attributes, swapsBefore);
        }
        finally
        {
            _store.Leases.EndChange();
        }

        return Registered(attributes, registered);
    }

    private async ValueTask<InodeAttributes> OpenForWriteAfterLeasesAsync(ValueTask leases, InodeAttributes attributes, long swapsBefore)
    {
        InodeAttributes registered;
        try
        {
            await leases.ConfigureAwait(false);
            registered = RegisterWriter(attributes, swapsBefore);
        }
        finally
        {
            _store.Leases.EndChange();
        }

        return await Registered(attributes, registered).ConfigureAwait(false);
    }

    private ValueTask<InodeAttributes> Registered(InodeAttributes attributes, InodeAttributes registered)
    {
        // Every write-open passes here: only a mirrored layout (told from its first byte) is decoded, and the change
        // (and its closure) is another method's.
        return !LayoutCodec.IsMirrored(registered.Layout) || !LayoutCodec.Decode(registered.Layout).Mirrors.Any(m => m.IsStale)
            ? new ValueTask<InodeAttributes>(registered)
            : MoveGenerationOnAsync(attributes, registered);
    }

    /// <summary>The part of <see cref="OpenForWriteAsync"/> for a file with a stale mirror: its generation moves on.</summary>
    private async ValueTask<InodeAttributes> MoveGenerationOnAsync(InodeAttributes attributes, InodeAttributes registered)
    {
        // Registered first: a resync that looks now sees the writer; one that looked before sees the new generation.
        try
        {
            return await _store.ChangeAsync(tx =>
            {
                var inode = LoadInode(attributes.Fid);
                var current = LayoutCodec.Decode(inode.Layout);
                var updated = inode with { Layout = LayoutCodec.Encode(current.WithGeneration(current.Generation + 1)) };
                tx.PutInode(attributes.Fid, updated);
                return updated.ToAttributes(attributes.Fid, registered.Flags);
            }).ConfigureAwait(false);
        }
        catch
        {
            Close(new CloseRequest(attributes.Fid, Writer: true));
            throw;
        }
    }

    private bool HasEntries(LustreFid directory)
    {
        var prefix = MdtKeys.EntryPrefix(directory);
        using var iterator = _store.NewIterator(prefix);
        iterator.Seek(prefix);
        return iterator.Valid() && iterator.Key().AsSpan().StartsWith(prefix);
    }

    public ValueTask<bool> RenameAsync(RenameRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        if (IsRoot(request.From) | IsRoot(request.To))
        {
            throw new RpcStatusException(LustreErrno.EBUSY, "the root cannot be renamed or replaced");
        }

        var fromPath = LustrePath.Canonical(request.From);
        var toPath = LustrePath.Canonical(request.To);
        if (toPath.StartsWith(fromPath + "/", StringComparison.Ordinal))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"cannot move '{fromPath}' into its own subdirectory '{toPath}'");
        }

        return _store.ChangeAsync(origin, ChangeResults.Done, tx =>
        {
            var (fromParent, fromParentInode, fromRange) = WalkToParent(request.From, who);
            var fromName = request.From[fromRange];
            var source = LookupEntry(fromParent, fromName) ?? throw new RpcStatusException(LustreErrno.ENOENT, $"'{request.From}': no such file or directory");
            var (toParent, toParentInode, toRange) = WalkToParent(request.To, who);
            var toName = request.To[toRange];
            if (toParentInode.Type != EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{LustrePath.Parent(request.To)}' is not a directory");
            }

            if (fromPath == toPath)
            {
                return true;
            }

            // Loaded once: the sticky-directory check needs its owner, and its ctime changes below.
            var moved = LoadInode(source.Fid);
            Permissions.RequireRemove(fromParentInode, moved, who, fromPath);
            Permissions.RequireChange(toParentInode, who, toPath);

            var now = Now();
            var isDirectory = source.Type == EntryType.Directory;
            if (LookupEntry(toParent, toName) is { } target)
            {
                var targetInode = LoadInode(target.Fid);
                if (isDirectory && targetInode.Type != EntryType.Directory)
                {
                    throw new RpcStatusException(LustreErrno.ENOTDIR, $"cannot replace file '{request.To}' with directory '{request.From}'");
                }

                if (!isDirectory && targetInode.Type == EntryType.Directory)
                {
                    throw new RpcStatusException(LustreErrno.EISDIR, $"cannot replace directory '{request.To}' with file '{request.From}'");
                }

                Permissions.RequireRemove(toParentInode, targetInode, who, toPath);
                if (targetInode.Type == EntryType.Directory && HasEntries(target.Fid))
                {
                    throw new RpcStatusException(LustreErrno.ENOTEMPTY, $"'{request.To}' is a directory that is not empty");
                }

                DropInode(tx, target.Fid, targetInode);
                if (isDirectory)
                {
                    // The replaced directory's link to its parent goes away.
                    toParentInode = toParentInode with { LinkCount = toParentInode.LinkCount - 1 };
                }
            }

            tx.DeleteEntry(fromParent, fromName, source.Type);
            tx.PutEntry(toParent, toName, source.Fid, source.Type);
            var linkMove = isDirectory ? 1u : 0u;
            if (fromParent == toParent)
            {
                tx.PutChangedDirectory(toParent, toParentInode, toParentInode.LinkCount, now);
            }
            else
            {
                tx.PutChangedDirectory(fromParent, fromParentInode, fromParentInode.LinkCount - linkMove, now);
                tx.PutChangedDirectory(toParent, toParentInode, toParentInode.LinkCount + linkMove, now);
            }

            tx.PutInode(source.Fid, moved with { ChangeTimeNs = now });
            return true;
        });
    }

    /// <summary>
    /// Sets a directory's default layout, kept as given: values it leaves to the default (0, -1, no pool) are filled in
    /// when each file is created. A plain layout that sets nothing removes the default, as Lustre's
    /// <c>lfs setstripe -c 0 -S 0 -i -1</c>. A pool it names must exist (<see cref="CheckPoolsAsync"/>).
    /// </summary>
    public async Task<bool> SetDirLayoutAsync(SetDirLayoutRequest request, ChangeOrigin origin, ClientIdentity who)
    {
        if (request.Layout.Length > 0)
        {
            var layout = DecodeLayout(request.Layout, "layout");
            if (layout.AllObjects().Any())
            {
                throw new RpcStatusException(LustreErrno.EINVAL, "a directory default layout must not name OST objects");
            }

            await CheckPoolsAsync(layout).ConfigureAwait(false);
            CheckDataOnMdt(layout, $"the default layout of '{request.Path}'");
            if (LayoutInheritance.SetsNothing(layout))
            {
                request = request with { Layout = [] };
            }
        }

        return await _store.ChangeAsync(origin, ChangeResults.Done, tx =>
        {
            var (fid, inode) = Resolve(request.Path, who);
            if (inode.Type != EntryType.Directory)
            {
                throw new RpcStatusException(LustreErrno.ENOTDIR, $"'{request.Path}' is not a directory");
            }

            Permissions.RequireOwner(inode, who, "set the default layout of", request.Path);
            tx.PutInode(fid, inode with { DefaultLayout = request.Layout, ChangeTimeNs = Now() });
            return true;
        }).ConfigureAwait(false);
    }

    /// <summary>
    /// Up to <paramref name="max"/> objects waiting to be destroyed on their OSTs, in key order, from the start of the
    /// queue or from just past <paramref name="after"/>: a caller that goes on from its last batch does not walk again
    /// over the entries it has just forgotten, which RocksDB keeps as tombstones until a compaction drops them.
    /// </summary>
    public List<(int OstIndex, ulong ObjectId)> PendingDestroys(int max, (int OstIndex, ulong ObjectId)? after = null)
    {
        var result = new List<(int, ulong)>();
        using var iterator = _store.NewIterator([MdtKeys.DestroyQueue]);
        if (after is { } last)
        {
            var start = new byte[MdtKeys.DestroyKeyLength];
            MdtKeys.WriteDestroyKey(start, last.OstIndex, last.ObjectId);
            iterator.Seek(start);
            if (iterator.Valid() && iterator.Key().AsSpan().SequenceEqual(start))
            {
                iterator.Next();
            }
        }
        else
        {
            iterator.Seek([MdtKeys.DestroyQueue]);
        }

        while (iterator.Valid() && result.Count < max)
        {
            var key = iterator.Key();
            if (key.Length != MdtKeys.DestroyKeyLength || key[0] != MdtKeys.DestroyQueue)
            {
                break;
            }

            result.Add(MdtKeys.ParseDestroyKey(key));
            iterator.Next();
        }

        return result;
    }

    /// <summary>Objects waiting in the destroy queue: a walk over its keys, for the destroy-queue metric.</summary>
    public long PendingDestroyCount()
    {
        long count = 0;
        using var iterator = _store.NewIterator([MdtKeys.DestroyQueue]);
        for (iterator.Seek([MdtKeys.DestroyQueue]); iterator.Valid(); iterator.Next())
        {
            var key = iterator.Key();
            if (key.Length != 13 || key[0] != MdtKeys.DestroyQueue)
            {
                break;
            }

            count++;
        }

        return count;
    }

    /// <summary>Files with a stale mirror, up to <paramref name="max"/>, after <paramref name="after"/> (null: from the start).</summary>
    public List<LustreFid> FilesWithStaleMirrors(int max, LustreFid? after = null)
    {
        var result = new List<LustreFid>();
        using var iterator = _store.NewIterator([MdtKeys.StaleMirrors]);
        iterator.Seek(after is { } from ? MdtKeys.StaleMirrorsKey(from) : [MdtKeys.StaleMirrors]);
        for (; iterator.Valid() && result.Count < max; iterator.Next())
        {
            var key = iterator.Key();
            if (key.Length != 17 || key[0] != MdtKeys.StaleMirrors)
            {
                break;
            }

            var fid = MdtKeys.ReadFid(key.AsSpan(1));
            if (fid != after)
            {
                result.Add(fid);
            }
        }

        return result;
    }

    /// <summary>Files with a stale mirror: a walk over their keys, for the metric.</summary>
    public long StaleMirrorFileCount()
    {
        long count = 0;
        using var iterator = _store.NewIterator([MdtKeys.StaleMirrors]);
        for (iterator.Seek([MdtKeys.StaleMirrors]); iterator.Valid() && iterator.Key() is [MdtKeys.StaleMirrors, ..]; iterator.Next())
        {
            count++;
        }

        return count;
    }

    /// <summary>
    /// An open file's attributes for fresh OST capabilities: the permission an open with <paramref name="flags"/> needs,
    /// checked again on the file itself (a chmod since the open takes effect at the next renewal).
    /// </summary>
    public InodeAttributes Reauthorize(LustreFid fid, OpenFlags flags, ClientIdentity who)
    {
        var inode = LoadInode(fid);
        if (inode.Type != EntryType.File)
        {
            throw new RpcStatusException(LustreErrno.EISDIR, $"{fid} is a directory");
        }

        Permissions.Require(inode, who, OpenAccess(flags), fid);
        return inode.ToAttributes(fid, FlagsOf(fid));
    }

    /// <summary>True while a client has the file open for writing (this MDS's memory of open handles).</summary>
    public bool IsOpenForWrite(LustreFid fid) => (FlagsOf(fid) & InodeFlags.OpenForWrite) != 0;

    /// <summary>Drops objects the OSTs destroyed from the destroy queue: bookkeeping, which no statahead lease waits for.</summary>
    public ValueTask<bool> ForgetDestroyedAsync(IReadOnlyList<(int OstIndex, ulong ObjectId)> destroyed) =>
        _store.BookkeepingAsync(tx =>
        {
            Span<byte> key = stackalloc byte[MdtKeys.DestroyKeyLength];
            foreach (var (ost, id) in destroyed)
            {
                MdtKeys.WriteDestroyKey(key, ost, id);
                tx.Delete(key);
            }

            return true;
        });
}
