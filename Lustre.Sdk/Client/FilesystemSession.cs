using System.Runtime.CompilerServices;
using Lustre.Diagnostics;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;
using Microsoft.Extensions.Logging;

namespace Lustre.Client;

/// <summary>
/// What a <see cref="LustreClient"/> shares with the files and streams it opens: the filesystem's name, the options,
/// the <see cref="TargetTable"/>, and the metadata call with its error mapping. Files depend on this, not on the
/// public client, so the IO layer sits on top of the target layer.
/// </summary>
internal sealed class FilesystemSession : IAsyncDisposable
{
    /// <summary>How long disposing waits for the MDS to acknowledge the disconnect; it ages the records out otherwise.</summary>
    private static readonly TimeSpan DisconnectTimeout = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly RpcConnectionSettings _settings;
    private volatile bool _changedMetadata;
    private volatile bool _connected;

    public FilesystemSession(LustreAddress address, LustreClientOptions options, ILogger logger)
    {
        FsName = address.FsName;
        Options = options;
        Logger = logger;
        MgsAddresses = string.Join(",", address.Mgs);
        var (jobId, jobIdVariable) = JobIds.Resolve(options, Environment.GetEnvironmentVariable);
        var settings = _settings = new RpcConnectionSettings(
            "client-" + Guid.NewGuid().ToString("N"),
            new XidGenerator(),
            options.ConnectTimeout,
            options.RequestTimeout,
            options.SharedSecret,
            logger,
            options.BulkChecksums,
            options.KeyName ?? string.Empty,
            options.Transport,
            jobId,
            options.LocalSockets);
        Targets = new TargetTable(address.Mgs, settings, options.ConnectionsPerServer, options.MaxAttempts, options.MaxRpcsInFlightPerOst, options.MaxBulkSize);
        StatAhead = new StatAhead(options.StatAheadMax);
        OpenAhead = new StatAhead(options.StatAheadMax);
        Parameters = new ClientParameters(this, jobId, jobIdVariable);
    }

    /// <summary>This client's statahead: stats answered from batches the MDS leased (<see cref="Client.StatAhead"/>).</summary>
    public StatAhead StatAhead { get; }

    /// <summary>
    /// This client's statahead of opens for reading: opens answered from batches the MDS leased, with the bytes of files
    /// that all live on the MDT (<see cref="Client.StatAhead"/>). <see cref="LustreClientOptions.StatAheadMax"/> bounds both.
    /// </summary>
    public StatAhead OpenAhead { get; }

    /// <summary>This client's identity on every server (the reply cache's key).</summary>
    public string ClientUuid => _settings.ClientUuid;

    /// <summary>The MGS addresses the client was made with, as given.</summary>
    public string MgsAddresses { get; }

    /// <summary>This client's parameter tree (<c>lctl get_param</c> on a client node) and its run-time tunables.</summary>
    public ClientParameters Parameters { get; }

    public string FsName { get; }

    public LustreClientOptions Options { get; }

    public ILogger Logger { get; }

    public TargetTable Targets { get; }

    /// <summary>
    /// Fetches the configuration from the MGS when it has not been fetched yet, and applies the MGS's persistent
    /// parameters that name this client's (<c>lctl set_param -P osc.*.max_rpcs_in_flight=16</c>).
    /// </summary>
    public async ValueTask EnsureConnectedAsync(CancellationToken cancellationToken)
    {
        if (_connected)
        {
            return;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_connected)
            {
                if (!Targets.HasConfig)
                {
                    var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
                    if (!string.Equals(config.FsName, FsName, StringComparison.Ordinal))
                    {
                        throw new LustreException($"The MGS serves filesystem '{config.FsName}', not '{FsName}'.", LustreErrno.ENOENT, isTransient: false);
                    }

                    ClientLog.Configured(Logger, config.FsName, config.Targets.Count, config.Generation);
                }

                await Parameters.ApplyPersistentAsync(cancellationToken).ConfigureAwait(false);
                _connected = true;
            }
        }
        finally
        {
            _connectLock.Release();
        }
    }

    /// <summary>
    /// Re-reads the configuration when a layout names an OST this client has not heard of: an OSS that joined the
    /// running cluster after this client fetched its configuration. Clients never need a restart to see new targets.
    /// </summary>
    public async ValueTask EnsureOstsKnownAsync(FileLayout layout, CancellationToken cancellationToken)
    {
        foreach (var obj in layout.AllObjects())
        {
            if (!IsKnownOst(obj.OstIndex))
            {
                var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
                ClientLog.Configured(Logger, config.FsName, config.Targets.Count, config.Generation);
                return;
            }
        }
    }

    private bool IsKnownOst(int index)
    {
        var targets = Targets.Config.Targets;
        for (var i = 0; i < targets.Count; i++)
        {
            if (targets[i].Kind == TargetKind.Ost && targets[i].Index == index)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Sends one metadata request and returns the successful reply (throws on an error status).</summary>
    public ValueTask<RpcReply> CallMdsAsync(Opcode opcode, FrameBuffer frame, string? path, CancellationToken cancellationToken) =>
        CallMdsAsync(opcode, frame, path, default, default, cancellationToken);

    /// <summary>
    /// Tells the MDS, in the background, that this client is done with statahead lease <paramref name="id"/>, so changes
    /// need not wait for it. Nothing waits for the answer: a lease not released ends on its own.
    /// </summary>
    public void ReleaseStatAheadLease(ulong id)
    {
        if (id != 0)
        {
            _ = ReleaseAsync(id);
        }

        async Task ReleaseAsync(ulong lease)
        {
            try
            {
                using var frame = FrameBuffer.Rent();
                new StatAheadReleaseRequest(lease).Write(frame.Body);
                using var reply = await CallMdsAsync(Opcode.MdsStatAheadRelease, frame, null, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is LustreException or IOException or ObjectDisposedException or OperationCanceledException or UnauthorizedAccessException or ProtocolException or TimeoutException)
            {
                Logger.LogDebug("statahead lease not released (it ends on its own): {Reason}", ex.Message);
            }
        }
    }

    /// <summary>
    /// Sends one metadata request, with <paramref name="bulkOut"/> as its bulk (a create's bytes) and room for a reply bulk
    /// in <paramref name="bulkIn"/> (an open's read-on-open bytes), and returns the successful reply (throws on an error
    /// status).
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RpcReply> CallMdsAsync(Opcode opcode, FrameBuffer frame, string? path, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, CancellationToken cancellationToken)
    {
        using var activity = path is null ? null : LustreDiagnostics.StartOperation(LustreDiagnostics.ActivityName(opcode), path);
        try
        {
            await EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
            if (!_changedMetadata && opcode.IsModifying())
            {
                _changedMetadata = true;
            }
            var reply = await Targets.CallAsync(TargetKind.Mdt, 0, opcode, frame, bulkOut, bulkIn, cancellationToken).ConfigureAwait(false);
            if (reply.Status != 0)
            {
                var status = (LustreErrno)reply.Status;
                var message = reply.ErrorMessage;
                reply.Dispose();
                throw MdsError(status, message, path);
            }

            return reply;
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }
    }

    /// <summary>
    /// Sends one request with bulk to the MDS (a Data-on-MDT read or write) and returns the reply whatever its status, as
    /// an OST call does: the caller names the bytes in its error.
    /// </summary>
    public ValueTask<RpcReply> CallMdsWithBulkAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, CancellationToken cancellationToken)
    {
        if (!_changedMetadata && opcode.IsModifying())
        {
            _changedMetadata = true;
        }

        return Targets.CallAsync(TargetKind.Mdt, 0, opcode, frame, bulkOut, bulkIn, cancellationToken);
    }

    /// <summary>The exception for an MDS refusal of the request about <paramref name="path"/> (null: not about a path).</summary>
    public Exception MdsError(LustreErrno status, string message, string? path) => status switch
    {
        LustreErrno.ENOENT when path is not null => new FileNotFoundException($"{path}: No such file or directory ({message})", path),
        _ => ErrorMapping.FromStatus(status, message, TargetNames.Mdt(FsName)),
    };

    /// <summary>Sends one metadata request whose reply is attributes; awaited once, as every pooled call.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<InodeAttributes> CallForAttributesAsync(Opcode opcode, FrameBuffer frame, string path, CancellationToken cancellationToken)
    {
        using var reply = await CallMdsAsync(opcode, frame, path, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        return InodeAttributes.Read(ref reader);
    }

    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask CloseAsync(CloseRequest request, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsClose, frame, null, cancellationToken).ConfigureAwait(false);
    }

    public async Task<InodeAttributes> SetAttributesAsync(SetAttrRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        return await CallForAttributesAsync(Opcode.MdsSetAttr, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long an OST that failed a mirrored read or write goes last when a read chooses a mirror, unless it answers again before.</summary>
    internal static readonly TimeSpan SuspectTime = TimeSpan.FromSeconds(30);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, long> _suspectOsts = new();

    // Read on every data RPC: ConcurrentDictionary.IsEmpty takes every lock when the dictionary is empty, the usual case.
    private volatile bool _anySuspect;

    /// <summary>Remembers that a mirror failed: its OSTs go last for every file of this client for <see cref="SuspectTime"/>.</summary>
    public void MarkSuspect(FileLayout mirror)
    {
        var until = Environment.TickCount64 + (long)SuspectTime.TotalMilliseconds;
        foreach (var obj in mirror.AllObjects())
        {
            _suspectOsts[obj.OstIndex] = until;
        }

        _anySuspect = true;
    }

    /// <summary>An OST answered: it is no longer suspect.</summary>
    public void Answered(int ostIndex)
    {
        // A race with MarkSuspect can only clear the flag early, which costs a read order, never a result.
        if (_anySuspect && _suspectOsts.TryRemove(ostIndex, out _) && _suspectOsts.IsEmpty)
        {
            _anySuspect = false;
        }
    }

    /// <summary>True when an OST of <paramref name="mirror"/> failed a mirrored operation within <see cref="SuspectTime"/> and has not answered since.</summary>
    public bool IsSuspect(FileLayout mirror)
    {
        if (!_anySuspect)
        {
            return false;
        }

        var now = Environment.TickCount64;
        foreach (var obj in mirror.AllObjects())
        {
            if (_suspectOsts.TryGetValue(obj.OstIndex, out var until) && until > now)
            {
                return true;
            }
        }

        return false;
    }

    // OSTs whose server answered ENOSYS to OstReadBatch (an older OSS): their reads go one range per request.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> _noReadBatch = new();
    private volatile bool _anyNoReadBatch;

    /// <summary>Whether reads of OST <paramref name="ostIndex"/> may be batched (<see cref="Opcode.OstReadBatch"/>).</summary>
    public bool ServesReadBatch(int ostIndex) => !_anyNoReadBatch || !_noReadBatch.ContainsKey(ostIndex);

    /// <summary>The OST's server does not know batched reads: this client reads it one range per request from now on.</summary>
    public void StopReadBatches(int ostIndex)
    {
        if (_noReadBatch.TryAdd(ostIndex, true))
        {
            ClientLog.ReadBatchesUnsupported(Logger, TargetNames.Ost(FsName, ostIndex));
        }

        _anyNoReadBatch = true;
    }

    // Set when the MDS answered ENOSYS to MdsDomReadBatch (an older MDS): Data-on-MDT reads go one file per request.
    private volatile bool _noDomReadBatch;

    /// <summary>Whether Data-on-MDT reads of many files may be batched (<see cref="Opcode.MdsDomReadBatch"/>).</summary>
    public bool ServesDomReadBatch => !_noDomReadBatch;

    /// <summary>The MDS does not know batched Data-on-MDT reads: this client reads one file per request from now on.</summary>
    public void StopDomReadBatches()
    {
        if (!_noDomReadBatch)
        {
            _noDomReadBatch = true;
            ClientLog.ReadBatchesUnsupported(Logger, TargetNames.Mdt(FsName));
        }
    }

    /// <summary>Fresh OST capabilities for an open file (<see cref="Opcode.MdsCapability"/>); the MDS checks the permission again.</summary>
    public async Task<InodeAttributes> RenewCapabilityAsync(CapabilityRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent(64);
        request.Write(frame.Body);
        return await CallForAttributesAsync(Opcode.MdsCapability, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens files for reading by FID (<see cref="Opcode.MdsOpenBatch"/>), up to <see cref="OpenBatchRequest.MaxFiles"/>
    /// per request, the requests in flight together; an entry each, in the order given. Asks again for the FIDs a reply
    /// left out (it holds what fits one body).
    /// </summary>
    public async Task<OpenBatchEntry[]> OpenBatchAsync(IReadOnlyList<LustreFid> fids, CancellationToken cancellationToken)
    {
        var entries = new OpenBatchEntry[fids.Count];
        var requests = new List<Task>();
        for (var start = 0; start < fids.Count; start += OpenBatchRequest.MaxFiles)
        {
            requests.Add(OpenRunAsync(fids, start, Math.Min(fids.Count, start + OpenBatchRequest.MaxFiles), entries, cancellationToken));
        }

        await IO.StripedIo.WhenAllOrFirstFailure([.. requests]).ConfigureAwait(false);
        return entries;
    }

    /// <summary>
    /// The attributes of a file a batched open answered, or the exception an open of <paramref name="path"/> throws for
    /// its failure: a file deleted since it was listed is not found, a directory or a refusal is unauthorized access.
    /// </summary>
    public InodeAttributes OpenedOrThrow(OpenBatchEntry entry, string path, LustreFid fid) => entry.Attributes ?? throw entry.Status switch
    {
        LustreErrno.ESTALE => new FileNotFoundException($"{path}: the file listed as {fid} is gone (deleted, or replaced by another) ({entry.Message})", path),
        LustreErrno.EISDIR => new UnauthorizedAccessException($"Access to the path '{path}' is denied: it is a directory."),
        var status => ErrorMapping.FromStatus(status, $"{path}: {entry.Message}", TargetNames.Mdt(FsName)),
    };

    private async Task OpenRunAsync(IReadOnlyList<LustreFid> fids, int start, int end, OpenBatchEntry[] entries, CancellationToken cancellationToken)
    {
        while (start < end)
        {
            var chunk = new LustreFid[end - start];
            for (var i = 0; i < chunk.Length; i++)
            {
                chunk[i] = fids[start + i];
            }

            using var frame = FrameBuffer.Rent(64 + (chunk.Length * 16));
            new OpenBatchRequest(OpenFlags.Read, chunk).Write(frame.Body);
            OpenBatchReply reply;
            try
            {
                using var raw = await CallMdsAsync(Opcode.MdsOpenBatch, frame, null, cancellationToken).ConfigureAwait(false);
                var reader = raw.Reader;
                reply = OpenBatchReply.Read(ref reader);
            }
            catch (LustreServerException ex) when (ex.Errno == LustreErrno.ENOSYS)
            {
                throw new LustreException($"{TargetNames.Mdt(FsName)} does not serve batched opens (an older MDS); a folder data set needs one of this version", LustreErrno.ENOSYS, isTransient: false, ex);
            }

            if (reply.Entries.Count == 0)
            {
                throw new LustreException($"{TargetNames.Mdt(FsName)} answered a batched open of {chunk.Length} files with none", LustreErrno.EPROTO, isTransient: false);
            }

            for (var i = 0; i < reply.Entries.Count && start + i < end; i++)
            {
                entries[start + i] = reply.Entries[i];
            }

            start += reply.Entries.Count;
        }
    }

    public async Task<InodeAttributes> MirrorAsync(MirrorRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent(64 + request.Template.Length);
        request.Write(frame.Body);
        return await CallForAttributesAsync(Opcode.MdsMirror, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A change to the components of a file's layout (<see cref="Opcode.MdsLayout"/>): its attributes with the new layout.</summary>
    public async Task<InodeAttributes> ChangeLayoutAsync(LayoutRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent(64 + request.Template.Length);
        request.Write(frame.Body);
        return await CallForAttributesAsync(Opcode.MdsLayout, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One step of a layout migration (<see cref="Opcode.MdsMigrate"/>); null for an abort, which answers nothing.</summary>
    public async Task<MigrateReply?> MigrateAsync(MigrateRequest request, string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent(256 + request.Template.Length);
        request.Write(frame.Body);
        using var reply = await CallMdsAsync(Opcode.MdsMigrate, frame, path, cancellationToken).ConfigureAwait(false);
        if (request.Operation == MigrateOperation.Abort)
        {
            return null;
        }

        var reader = reply.Reader;
        return MigrateReply.Read(ref reader);
    }

    public async ValueTask DisposeAsync()
    {
        await DisconnectAsync().ConfigureAwait(false);
        await Targets.DisposeAsync().ConfigureAwait(false);
        _connectLock.Dispose();
    }

    /// <summary>
    /// Tells the MDS this client is leaving, so it drops the records of this client's results that let it answer
    /// resends (only when this client changed metadata, since only then does it have any). One attempt, briefly:
    /// an MDS that does not answer drops them itself once the client has been idle long enough.
    /// </summary>
    private async Task DisconnectAsync()
    {
        if (!_changedMetadata || !Targets.HasConfig)
        {
            return;
        }

        TargetChannel channel;
        try
        {
            channel = Targets.Acquire(TargetKind.Mdt, 0);
        }
        catch (Exception ex) when (ex is LustreException or ObjectDisposedException)
        {
            return;
        }

        try
        {
            using var timeout = new CancellationTokenSource(DisconnectTimeout);
            using var frame = FrameBuffer.Rent();
            using var reply = await channel.CallOnceAsync(Opcode.MdsDisconnect, frame, default, default, _settings.Xids.Next(), resend: false, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is LustreException or OperationCanceledException or ObjectDisposedException)
        {
            ClientLog.DisconnectFailed(Logger, ex.Message);
        }
        finally
        {
            channel.Exit();
        }
    }
}
