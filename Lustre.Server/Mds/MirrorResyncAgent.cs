using Lustre.Client;
using Lustre.Layouts;
using Lustre.Mirrors;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDS's automatic resync: files listed on the MDT as having a stale mirror are copied back once every OST of
/// their stale mirrors is up again and no one has them open for writing. Like Lustre's resync agents it works as a
/// client of the filesystem (its own <see cref="LustreClient"/>, made on first use), so the copy takes the same path,
/// checks and MDS decisions as <c>lfs mirror resync</c>.
/// </summary>
internal sealed partial class MirrorResyncAgent : IAsyncDisposable
{
    /// <summary>Files looked at per run.</summary>
    private const int BatchSize = 64;

    private readonly MdtNamespace _namespace;
    private readonly IOstPlacement _placement;
    private readonly Func<LustreClient> _connect;
    private readonly ILogger _logger;
    private LustreClient? _client;
    private LustreFid? _after;

    public MirrorResyncAgent(MdtNamespace ns, IOstPlacement placement, Func<LustreClient> connect, ILogger logger)
    {
        _namespace = ns;
        _placement = placement;
        _connect = connect;
        _logger = logger;
    }

    /// <summary>Resyncs what can be resynced of the next batch of listed files; returns the mirrors made in sync.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var files = _namespace.FilesWithStaleMirrors(BatchSize, _after);
        _after = files.Count == BatchSize ? files[^1] : null;
        var resynced = 0;
        foreach (var fid in files)
        {
            if (_namespace.IsOpenForWrite(fid))
            {
                continue;
            }

            MdtInode inode;
            try
            {
                inode = _namespace.LoadInode(fid);
            }
            catch (RpcStatusException)
            {
                continue; // unlinked meanwhile: its entry went with it
            }

            var layout = LayoutCodec.Decode(inode.Layout);
            if (!layout.Mirrors.Where(m => m.IsStale).All(m => m.Layout.AllObjects().All(o => IsUp(o.OstIndex))))
            {
                continue;
            }

            try
            {
                _client ??= _connect();
                var done = await MirrorSync.ResyncAsync(
                    _client.Session,
                    $"[{fid}]",
                    _ => Task.FromResult(_namespace.LoadInode(fid).ToAttributes(fid, _namespace.IsOpenForWrite(fid) ? InodeFlags.OpenForWrite : InodeFlags.None)),
                    busyWait: TimeSpan.Zero,
                    cancellationToken).ConfigureAwait(false);
                resynced += done.Count;
                if (done.Count > 0)
                {
                    Resynced(_logger, fid.ToString(), string.Join(", ", done));
                }
            }
            catch (Exception ex) when (ex is LustreException or IOException && !cancellationToken.IsCancellationRequested)
            {
                // Written to meanwhile (ESTALE), opened for writing (EBUSY), or an OST away again: a later run tries again.
                ResyncFailed(_logger, fid.ToString(), ex.Message);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Anything else is a bug, but it must not stop the MDS's background work (destroys, placement).
                ResyncBroke(_logger, ex, fid.ToString());
            }
        }

        return resynced;
    }

    private bool IsUp(int ostIndex)
    {
        foreach (var ost in _placement.Usage)
        {
            if (ost.Index == ostIndex)
            {
                return ost.Active;
            }
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_client is { } client)
        {
            await client.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "resynced file {Fid}: mirrors {Mirrors} are in sync again")]
    private static partial void Resynced(ILogger logger, string fid, string mirrors);

    [LoggerMessage(EventId = 208, Level = LogLevel.Error, Message = "resync of file {Fid} failed unexpectedly; it is tried again later")]
    private static partial void ResyncBroke(ILogger logger, Exception exception, string fid);

    [LoggerMessage(EventId = 207, Level = LogLevel.Debug, Message = "resync of file {Fid} did not finish, will retry: {Reason}")]
    private static partial void ResyncFailed(ILogger logger, string fid, string reason);
}
