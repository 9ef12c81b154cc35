using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDS's view of the OSTs (from the MGS, with free space from each OST's statfs) and the placement of new
/// files' objects on them through <see cref="OstAllocator"/>. An OST that does not answer statfs gets no new objects.
/// </summary>
internal sealed partial class OstPlacement : IOstPlacement
{
    private readonly TargetTable _targets;
    private readonly MdtStore _store;
    private readonly OstAllocator _allocator;
    private readonly ILogger _logger;
    private volatile IReadOnlyList<OstUsage> _usage = [];

    public OstPlacement(TargetTable targets, MdtStore store, OstAllocator allocator, ILogger logger)
    {
        _targets = targets;
        _store = store;
        _allocator = allocator;
        _logger = logger;
    }

    public IReadOnlyList<OstUsage> Usage => _usage;

    public FileLayout FilesystemDefault()
    {
        var config = _targets.Config;
        return FileLayout.Raid0(config.DefaultStripeSize, config.DefaultStripeCount);
    }

    public FileLayout Instantiate(FileLayout template, MdtTransaction transaction)
    {
        var usage = _usage;
        var components = new LayoutComponent[template.Components.Count];
        for (var c = 0; c < components.Length; c++)
        {
            var component = template.Components[c];
            IReadOnlyList<int> chosen;
            try
            {
                chosen = _allocator.Choose(usage, component.StripeCount, component.StripeOffset, out var capped);
                if (capped)
                {
                    StripeCountCapped(_logger, component.StripeCount, chosen.Count);
                }
            }
            catch (ArgumentOutOfRangeException ex)
            {
                throw new RpcStatusException(LustreErrno.EINVAL, $"stripe offset {component.StripeOffset} is not a usable OST index: {ex.Message}");
            }
            catch (IOException ex)
            {
                throw new RpcStatusException(LustreErrno.ENOSPC, ex.Message);
            }

            var objects = new OstObject[chosen.Count];
            for (var i = 0; i < objects.Length; i++)
            {
                objects[i] = new OstObject(chosen[i], _store.AllocateObjectId(transaction, chosen[i]));
            }

            components[c] = component.WithObjects(objects);
        }

        return template.WithComponents(components);
    }

    /// <summary>Fetches the target list from the MGS and every OST's free space.</summary>
    public async Task RefreshAsync(CancellationToken cancellationToken)
    {
        var config = await _targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var usage = new List<OstUsage>();
        foreach (var target in config.Targets)
        {
            if (target.Kind != TargetKind.Ost)
            {
                continue;
            }

            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                using var frame = new FrameBuffer();
                new OstIndexRequest(target.Index).Write(frame.Body);
                using var reply = await _targets.CallAsync(TargetKind.Ost, target.Index, Opcode.OstStatFs, frame, default, default, timeout.Token).ConfigureAwait(false);
                TargetTable.ThrowIfError(reply, TargetNames.Ost(target.Index));
                var reader = reply.Reader;
                var statfs = StatFsReply.Read(ref reader);
                usage.Add(new OstUsage(target.Index, target.Active, statfs.TotalBytes, statfs.AvailableBytes));
            }
            catch (Exception ex) when (ex is LustreException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                usage.Add(new OstUsage(target.Index, Active: false, 0, 0));
            }
        }

        _usage = usage;
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "stripe count {Requested} is larger than the {Available} usable OSTs: capped, as Lustre does")]
    private static partial void StripeCountCapped(ILogger logger, int requested, int available);
}
