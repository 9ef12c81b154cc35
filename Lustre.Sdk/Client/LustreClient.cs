using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Namespace;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Client;

/// <summary>
/// The entry point to a filesystem: made from an address such as <c>127.0.0.1:9880/lustre</c>, it finds the
/// targets through the MGS, does metadata through the MDS and moves file data straight to and from the OSTs.
/// Thread-safe; make one per process and share it. Methods are virtual so tests can substitute it.
/// </summary>
public class LustreClient : IAsyncDisposable
{
    private readonly LustreClientOptions _options = new();
    private readonly LustreAddress? _address;
    private readonly TargetDirectory? _targets;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    // Read without a lock on every piece of every I/O; written under _ostLock when the configuration changes.
    private readonly ConcurrentDictionary<int, (ulong Generation, string Address, OstChannel Channel)> _osts = new();
    private readonly Lock _ostLock = new();
    private TargetCaller? _mds;

    /// <summary>For test doubles only.</summary>
    protected LustreClient()
    {
    }

    /// <summary>Creates a client; no connection is made until the first call.</summary>
    /// <param name="address">MGS address(es) and filesystem name: <c>host:port[,host:port]/fsname</c>.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    public LustreClient(string address, LustreClientOptions? options = null)
    {
        _address = LustreAddress.Parse(address);
        _options = options ?? new LustreClientOptions();
        _options.Validate();
        var loggers = _options.LoggerFactory ?? NullLoggerFactory.Instance;
        Logger = loggers.CreateLogger("Lustre.Sdk");
        var settings = new RpcConnectionSettings(
            "client-" + Guid.NewGuid().ToString("N"),
            new XidGenerator(),
            _options.ConnectTimeout,
            _options.RequestTimeout,
            _options.SharedSecret,
            Logger,
            _options.BulkChecksums);
        _targets = new TargetDirectory(_address.Mgs, settings, _options.ConnectionsPerServer, _options.MaxAttempts);
    }

    /// <summary>The filesystem name from the address.</summary>
    public virtual string FsName => _address?.FsName ?? string.Empty;

    internal LustreClientOptions Options => _options;

    internal ILogger Logger { get; } = NullLogger.Instance;

    private TargetDirectory Targets => _targets ?? throw new InvalidOperationException("This LustreClient was made for a test double.");

    /// <summary>Fetches the configuration from the MGS when it has not been fetched yet.</summary>
    internal async ValueTask EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (Targets.HasConfig)
        {
            return;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!Targets.HasConfig)
            {
                var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
                if (!string.Equals(config.FsName, FsName, StringComparison.Ordinal))
                {
                    throw new LustreException($"The MGS serves filesystem '{config.FsName}', not '{FsName}'.", LustreErrno.ENOENT, isTransient: false);
                }

                Diagnostics.ClientLog.Configured(Logger, config.FsName, config.Targets.Count, config.Generation);
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>Re-reads the target list from the MGS (new or deactivated OSTs).</summary>
    public virtual async Task RefreshConfigurationAsync(CancellationToken cancellationToken = default) =>
        await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>Tests replace how an OST is reached (to inject faults); null means the real server.</summary>
    internal Func<int, IRpcCaller, IRpcCaller>? OstCallerOverride { get; set; }

    internal OstChannel Ost(int index)
    {
        var config = Targets.Config;
        if (_osts.TryGetValue(index, out var current) && current.Generation == config.Generation)
        {
            return current.Channel;
        }

        lock (_ostLock)
        {
            if (_osts.TryGetValue(index, out var known) && known.Generation == config.Generation)
            {
                return known.Channel;
            }

            var address = Targets.Target(TargetKind.Ost, index).Address;
            if (known.Channel is not null && known.Address == address)
            {
                _osts[index] = (config.Generation, address, known.Channel);
                return known.Channel;
            }

            // A new OST, or one that came back at a new address (a restarted OSS on a new port). The old channel is
            // not disposed: requests still in flight on it release its semaphore when they finish. The caller
            // re-reads the configuration from the MGS when the OST's server cannot be reached (it may have moved).
            IRpcCaller caller = new TargetCaller(Targets, TargetKind.Ost, index);
            if (OstCallerOverride is { } wrap)
            {
                caller = wrap(index, caller);
            }

            var channel = new OstChannel(index, caller, _options.MaxRpcsInFlightPerOst);
            _osts[index] = (config.Generation, address, channel);
            return channel;
        }
    }

    /// <summary>
    /// Re-reads the configuration when a layout names an OST this client has not heard of: an OSS that joined the
    /// running cluster after this client fetched its configuration. Clients never need a restart to see new targets.
    /// </summary>
    internal async ValueTask EnsureOstsKnownAsync(FileLayout layout, CancellationToken cancellationToken)
    {
        foreach (var component in layout.Components)
        {
            foreach (var obj in component.Objects)
            {
                if (!IsKnownOst(obj.OstIndex))
                {
                    var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
                    Diagnostics.ClientLog.Configured(Logger, config.FsName, config.Targets.Count, config.Generation);
                    return;
                }
            }
        }
    }

    private bool IsKnownOst(int index)
    {
        foreach (var target in Targets.Config.Targets)
        {
            if (target.Kind == TargetKind.Ost && target.Index == index)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Sends one metadata request and returns the successful reply (throws on an error status).</summary>
    internal async ValueTask<RpcReply> CallMdsAsync(Opcode opcode, FrameBuffer frame, string? path, CancellationToken cancellationToken)
    {
        using var activity = path is null ? null : Diagnostics.LustreDiagnostics.StartOperation(Diagnostics.LustreDiagnostics.ActivityName(opcode), path);
        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        _mds ??= new TargetCaller(Targets, TargetKind.Mdt, 0);
        var reply = await _mds.CallAsync(opcode, frame, default, default, cancellationToken).ConfigureAwait(false);
        if (reply.Status != 0)
        {
            var status = (LustreErrno)reply.Status;
            var message = reply.ErrorMessage;
            reply.Dispose();
            throw status switch
            {
                LustreErrno.ENOENT when path is not null => new FileNotFoundException($"{path}: No such file or directory ({message})", path),
                _ => ErrorMapping.FromStatus(status, message, $"{FsName}-MDT0000"),
            };
        }

        return reply;
    }

    private async Task<InodeAttributes> CallForAttributesAsync(Opcode opcode, FrameBuffer frame, string path, CancellationToken cancellationToken)
    {
        using var reply = await CallMdsAsync(opcode, frame, path, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        return InodeAttributes.Read(ref reader);
    }

    private static string CheckPath(string path, [CallerArgumentExpression(nameof(path))] string? name = null)
    {
        var error = LustrePath.Validate(path, out _);
        return error is null ? LustrePath.Normalize(path) : throw new ArgumentException(error, name);
    }

    /// <summary>Returns the attributes of a file or directory. Throws <see cref="FileNotFoundException"/> when there is none.</summary>
    public virtual async Task<LustreFileInfo> GetInfoAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = new FrameBuffer();
        new PathRequest(path).Write(frame.Body);
        var attributes = await CallForAttributesAsync(Opcode.MdsGetAttr, frame, path, cancellationToken).ConfigureAwait(false);
        if ((attributes.Flags & InodeFlags.OpenForWrite) == 0 || attributes.Type != EntryType.File || attributes.Layout.Length == 0)
        {
            return new LustreFileInfo(path, attributes);
        }

        // A writer may hold data the MDS has not heard of yet: the size is the furthest byte any object holds.
        var layout = LayoutCodec.Decode(attributes.Layout);
        await EnsureOstsKnownAsync(layout, cancellationToken).ConfigureAwait(false);
        var glimpsed = await StripedIo.GlimpseAsync(this, path, layout, cancellationToken).ConfigureAwait(false);
        return new LustreFileInfo(path, attributes, Math.Max(glimpsed, attributes.Size));
    }

    /// <summary>True when a file or directory exists at <paramref name="path"/>.</summary>
    public virtual async Task<bool> ExistsAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (LustreServerException ex) when (ex.Errno == LustreErrno.ENOTDIR)
        {
            // A path below a file: nothing can exist there.
            return false;
        }
    }

    /// <summary>Creates a directory; its parent must exist.</summary>
    public virtual async Task<LustreFileInfo> CreateDirectoryAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = new FrameBuffer();
        new MkdirRequest(path, 0x1ED).Write(frame.Body);
        return new LustreFileInfo(path, await CallForAttributesAsync(Opcode.MdsMkdir, frame, path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Deletes a file; its OST objects are destroyed in the background.</summary>
    public virtual async Task DeleteFileAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = new FrameBuffer();
        new PathRequest(path).Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsUnlink, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes an empty directory.</summary>
    public virtual async Task DeleteDirectoryAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = new FrameBuffer();
        new PathRequest(path).Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsRmdir, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renames atomically, replacing a file (or empty directory) at <paramref name="destinationPath"/> as POSIX rename does.</summary>
    public virtual async Task RenameAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken = default)
    {
        sourcePath = CheckPath(sourcePath);
        destinationPath = CheckPath(destinationPath);
        using var frame = new FrameBuffer();
        new RenameRequest(sourcePath, destinationPath).Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsRename, frame, sourcePath, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Lists a directory in name order, a page at a time under the hood.</summary>
    public virtual async IAsyncEnumerable<LustreDirectoryEntry> EnumerateDirectoryAsync(
        string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var cookie = string.Empty;
        while (true)
        {
            ReadDirReply page;
            using (var frame = new FrameBuffer())
            {
                new ReadDirRequest(path, cookie, 512).Write(frame.Body);
                using var reply = await CallMdsAsync(Opcode.MdsReadDir, frame, path, cancellationToken).ConfigureAwait(false);
                var reader = reply.Reader;
                page = ReadDirReply.Read(ref reader);
            }

            foreach (var entry in page.Entries)
            {
                yield return new LustreDirectoryEntry(LustrePath.Combine(path, entry.Name), entry.Name, entry.Type == EntryType.Directory, entry.Fid);
            }

            if (page.End || page.Entries.Count == 0)
            {
                yield break;
            }

            cookie = page.Entries[^1].Name;
        }
    }

    /// <summary>
    /// Opens a file for positional, parallel reads and writes. <paramref name="mode"/>: <see cref="FileMode.Open"/>,
    /// <see cref="FileMode.OpenOrCreate"/>, <see cref="FileMode.CreateNew"/>, <see cref="FileMode.Create"/> (truncates) or
    /// <see cref="FileMode.Truncate"/>. A new file gets <paramref name="layout"/>, else its directory's default layout.
    /// </summary>
    public virtual async Task<LustreFile> OpenFileAsync(
        string path, FileMode mode = FileMode.Open, FileLayout? layout = null, FileAccess access = FileAccess.ReadWrite, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        if (access == FileAccess.Read && mode != FileMode.Open)
        {
            throw new ArgumentException($"FileMode.{mode} needs write access; open read-only files with FileMode.Open.", nameof(access));
        }

        var flags = mode switch
        {
            FileMode.Open or FileMode.Truncate => OpenFlags.None,
            FileMode.OpenOrCreate or FileMode.Create => OpenFlags.Create,
            FileMode.CreateNew => OpenFlags.Create | OpenFlags.Exclusive,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Append is not supported by OpenFileAsync; write at Length instead, or use OpenStreamAsync."),
        };
        var writer = (access & FileAccess.Write) != 0;
        if (writer)
        {
            flags |= OpenFlags.Write;
        }

        if (layout is { IsInstantiated: true })
        {
            throw new ArgumentException("A layout for a new file must not name OST objects; the MDS allocates them.", nameof(layout));
        }

        var encoded = layout is null ? [] : EncodeLayout(layout);
        using var frame = new FrameBuffer(256 + encoded.Length);
        new OpenRequest(path, flags, 0x1A4, encoded).Write(frame.Body);
        var attributes = await CallForAttributesAsync(Opcode.MdsOpen, frame, path, cancellationToken).ConfigureAwait(false);
        var file = new LustreFile(this, path, attributes, writer);
        try
        {
            await EnsureOstsKnownAsync(file.Layout, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        // An existing file may hold unflushed bytes on its OSTs even when the MDS records size 0: punch them all.
        if (mode is FileMode.Create or FileMode.Truncate && (attributes.Flags & InodeFlags.Created) == 0)
        {
            await file.SetLengthAsync(0, cancellationToken).ConfigureAwait(false);
        }

        return file;
    }

    /// <summary>
    /// Creates an empty file (failing with EEXIST if the name exists) without opening it: one durable MDS
    /// operation, no open handle to close — what <c>touch</c> and metadata benchmarks need.
    /// </summary>
    public virtual async Task<LustreFileInfo> CreateFileAsync(string path, FileLayout? layout = null, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        if (layout is { IsInstantiated: true })
        {
            throw new ArgumentException("A layout for a new file must not name OST objects; the MDS allocates them.", nameof(layout));
        }

        var encoded = layout is null ? [] : EncodeLayout(layout);
        using var frame = new FrameBuffer(256 + encoded.Length);
        new OpenRequest(path, OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, encoded).Write(frame.Body);
        return new LustreFileInfo(path, await CallForAttributesAsync(Opcode.MdsOpen, frame, path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Opens a file as a <see cref="Stream"/> with readahead and write-behind. <see cref="FileMode.Append"/> starts at the
    /// end (creating the file if needed). Dispose it (or <see cref="Stream.FlushAsync(CancellationToken)"/>) to make writes durable.
    /// </summary>
    public virtual async Task<LustreStream> OpenStreamAsync(
        string path, FileMode mode = FileMode.Open, FileAccess access = FileAccess.ReadWrite, FileLayout? layout = null, CancellationToken cancellationToken = default)
    {
        var append = mode == FileMode.Append;
        if (append && access == FileAccess.Read)
        {
            throw new ArgumentException("FileMode.Append needs write access.", nameof(access));
        }

        var file = await OpenFileAsync(path, append ? FileMode.OpenOrCreate : mode, layout, access, cancellationToken).ConfigureAwait(false);
        return new LustreStream(file, access, append);
    }

    /// <summary>Sets (or with null, removes) a directory's default layout for files created in it.</summary>
    public virtual async Task SetDirectoryLayoutAsync(string path, FileLayout? layout, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        if (layout is { IsInstantiated: true })
        {
            throw new ArgumentException("A default layout must not name OST objects.", nameof(layout));
        }

        var encoded = layout is null ? [] : EncodeLayout(layout);
        using var frame = new FrameBuffer(256 + encoded.Length);
        new SetDirLayoutRequest(path, encoded).Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsSetDirLayout, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sets a file's or directory's access and modification times (as <c>touch</c> does); a null time is left as it is.</summary>
    public virtual async Task<LustreFileInfo> SetTimesAsync(string path, DateTimeOffset? lastAccessTime, DateTimeOffset? lastWriteTime, CancellationToken cancellationToken = default)
    {
        var info = await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        var mask = (lastAccessTime is null ? SetAttrMask.None : SetAttrMask.AccessTime) | (lastWriteTime is null ? SetAttrMask.None : SetAttrMask.ModifyTime);
        var request = new SetAttrRequest(info.Fid, mask, 0, 0, 0, 0, ToNs(lastAccessTime), ToNs(lastWriteTime));
        return new LustreFileInfo(info.Path, await SetAttributesAsync(request, info.Path, cancellationToken).ConfigureAwait(false));

        static long ToNs(DateTimeOffset? time) => time is { } t ? (t - DateTimeOffset.UnixEpoch).Ticks * 100 : 0;
    }

    /// <summary>Space and object usage of every target, the data behind <c>lfs df</c>. Unreachable OSTs are reported inactive with zeros.</summary>
    public virtual async Task<IReadOnlyList<LustreTargetUsage>> GetUsageAsync(CancellationToken cancellationToken = default)
    {
        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<LustreTargetUsage>();
        using (var frame = new FrameBuffer())
        {
            using var reply = await CallMdsAsync(Opcode.MdsStatFs, frame, null, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            var mdt = StatFsReply.Read(ref reader);
            rows.Add(new LustreTargetUsage($"{FsName}-MDT0000", true, 0, true, mdt.TotalBytes, mdt.UsedBytes, mdt.AvailableBytes, mdt.Objects));
        }

        var osts = config.Targets.Where(t => t.Kind == TargetKind.Ost).ToList();
        var usage = await Task.WhenAll(osts.Select(async target =>
        {
            try
            {
                using var frame = new FrameBuffer();
                new OstIndexRequest(target.Index).Write(frame.Body);
                using var reply = await Ost(target.Index).Client.CallAsync(Opcode.OstStatFs, frame, default, default, cancellationToken).ConfigureAwait(false);
                TargetDirectory.ThrowIfError(reply, $"{FsName}-OST{target.Index:X4}");
                var reader = reply.Reader;
                var statfs = StatFsReply.Read(ref reader);
                return new LustreTargetUsage($"{FsName}-OST{target.Index:X4}", false, target.Index, target.Active, statfs.TotalBytes, statfs.UsedBytes, statfs.AvailableBytes, statfs.Objects);
            }
            catch (LustreException) when (!cancellationToken.IsCancellationRequested)
            {
                return new LustreTargetUsage($"{FsName}-OST{target.Index:X4}", false, target.Index, false, 0, 0, 0, 0);
            }
        })).ConfigureAwait(false);
        rows.AddRange(usage);
        return rows;
    }

    /// <summary>Marks an OST active or inactive on the MGS; an inactive OST receives no new objects (existing data stays readable).</summary>
    public virtual async Task SetOstActiveAsync(int ostIndex, bool active, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ostIndex);
        await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        using var frame = new FrameBuffer();
        new SetTargetStateRequest(TargetKind.Ost, ostIndex, active).Write(frame.Body);
        using var reply = await Targets.Mgs.CallAsync(Opcode.MgsSetTargetState, frame, default, default, cancellationToken).ConfigureAwait(false);
        TargetDirectory.ThrowIfError(reply, $"{FsName}-MGS");
    }

    /// <summary>
    /// Takes an online backup of the MDT (a RocksDB checkpoint at a point between two metadata operations) into
    /// the MDS's backup folder under <paramref name="name"/>; returns the folder on the MDS host and its commit.
    /// An administrator's operation, behind <c>lustre lctl backup-mdt</c>.
    /// </summary>
    internal async Task<(string Path, ulong Commit)> BackupMdtAsync(string name, CancellationToken cancellationToken)
    {
        using var frame = new FrameBuffer();
        new MdtBackupRequest(name).Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsBackup, frame, null, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        var backup = MdtBackupReply.Read(ref reader);
        return (backup.Path, backup.Commit);
    }

    internal async Task CloseAsync(CloseRequest request, CancellationToken cancellationToken)
    {
        using var frame = new FrameBuffer();
        request.Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsClose, frame, null, cancellationToken).ConfigureAwait(false);
    }

    internal async Task<InodeAttributes> SetAttributesAsync(SetAttrRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = new FrameBuffer();
        request.Write(frame.Body);
        return await CallForAttributesAsync(Opcode.MdsSetAttr, frame, path, cancellationToken).ConfigureAwait(false);
    }

    private static byte[] EncodeLayout(FileLayout layout)
    {
        var bytes = new byte[LayoutCodec.GetEncodedLength(layout)];
        LayoutCodec.Encode(layout, bytes);
        return bytes;
    }

    /// <summary>Closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the client's connections; override in a derived type to release more.</summary>
    protected virtual async ValueTask DisposeAsyncCore()
    {
        if (_targets is not null)
        {
            await _targets.DisposeAsync().ConfigureAwait(false);
        }

        lock (_ostLock)
        {
            foreach (var (_, _, channel) in _osts.Values)
            {
                channel.Dispose();
            }

            _osts.Clear();
        }

        _connectLock.Dispose();
    }
}
