using System.Buffers;
using System.Runtime.CompilerServices;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Lustre.Threading;
using Microsoft.Extensions.Logging;

namespace Lustre.Server.Mds;

/// <summary>
/// The MDS's view of the OSTs (from the MGS, with free space from each OST's statfs) and the placement of new
/// files' objects on them through <see cref="OstAllocator"/>. An OST that does not answer statfs gets no new objects.
/// A component with a pool gets objects only on the pool's OSTs (the pools come with the MGS's configuration).
/// </summary>
internal sealed partial class OstPlacement : IOstPlacement
{
    private readonly TargetTable _targets;
    private readonly MdtStore _store;
    private readonly OstAllocator _allocator;
    private readonly ILogger _logger;
    private volatile OstUsage[] _usage = [];

    public OstPlacement(TargetTable targets, MdtStore store, OstAllocator allocator, ILogger logger)
    {
        _targets = targets;
        _store = store;
        _allocator = allocator;
        _logger = logger;
    }

    public IReadOnlyList<OstUsage> Usage => _usage;

    /// <summary>
    /// The filesystem's default layout (a template: no objects), made once per configuration the MGS gives: most creates
    /// take it, and a <see cref="FileLayout"/> is immutable, so they share it.
    /// </summary>
    public FileLayout FilesystemDefault()
    {
        var config = _targets.Config;
        if (_default is { } known && ReferenceEquals(known.Config, config))
        {
            return known.Layout;
        }

        var layout = FileLayout.Raid0(config.DefaultStripeSize, config.DefaultStripeCount);
        _default = new DefaultLayout(config, layout);
        return layout;
    }

    private volatile DefaultLayout? _default;

    private sealed record DefaultLayout(FilesystemConfig Config, FileLayout Layout);

    public FileLayout Instantiate(FileLayout template, MdtTransaction transaction)
    {
        if (!template.IsMirrored)
        {
            return InstantiatePlain(template, _usage, 0, LayoutComponent.Eof, transaction);
        }

        // A new file's mirrors all start in sync (empty): a template's stale flag means nothing yet.
        return template.WithMirrors(PlaceMirrors([.. template.Mirrors.Select(m => m.WithFlags(m.Flags & ~MirrorFlags.Stale))], [], transaction));
    }

    public FileLayout InstantiateBelow(FileLayout layout, long end, MdtTransaction transaction)
    {
        if (layout.IsMirrored)
        {
            throw new ArgumentException("A mirrored layout is instantiated whole, at create.", nameof(layout));
        }

        return InstantiatePlain(layout, _usage, 0, end, transaction);
    }

    public FileLayout AddMirrors(FileLayout layout, FileLayout template, MdtTransaction transaction)
    {
        // A mirrored file has every component of every mirror instantiated (each write goes to all): the components
        // a PFL file has not written yet get their objects now, before the new mirrors keep off its OSTs.
        if (!layout.IsMirrored && !layout.IsInstantiated)
        {
            layout = InstantiatePlain(layout, _usage, 0, LayoutComponent.Eof, transaction);
        }

        var existing = layout.IsMirrored ? layout.Mirrors : [new LayoutMirror(1, layout)];
        var nextId = existing.Max(m => m.Id) + 1;
        var added = template.IsMirrored ? template.Mirrors : [new LayoutMirror(1, template)];
        if (existing.Count + added.Count > FileLayout.MaxMirrors)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"the file has {existing.Count} mirrors and {added.Count} more were asked for: at most {FileLayout.MaxMirrors}");
        }

        if (nextId + added.Count - 1 > LayoutMirror.MaxId)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"mirror ids are used up to {nextId - 1}");
        }

        // New mirrors hold nothing yet: stale until a resync copies the file to them.
        var fresh = added.Select((m, i) => new LayoutMirror(nextId + i, m.Layout, MirrorFlags.Stale)).ToArray();
        var placed = PlaceMirrors(fresh, existing, transaction);
        return layout.IsMirrored
            ? layout.WithMirrors([.. existing, .. placed])
            : FileLayout.Create([.. existing, .. placed], layout.Generation);
    }

    /// <summary>
    /// Places each mirror on OSTs no other mirror of the file uses, and on servers no other mirror uses when enough
    /// OSTs remain on other servers: one OSS lost must leave a whole copy.
    /// </summary>
    private LayoutMirror[] PlaceMirrors(IReadOnlyList<LayoutMirror> mirrors, IReadOnlyList<LayoutMirror> placed, MdtTransaction transaction)
    {
        IReadOnlyList<OstUsage> usage = _usage;
        var usedOsts = new HashSet<int>(placed.SelectMany(m => m.Layout.AllObjects()).Select(o => o.OstIndex));
        var result = new LayoutMirror[mirrors.Count];
        for (var m = 0; m < mirrors.Count; m++)
        {
            if (mirrors[m].Layout.Components.FirstOrDefault(c => usedOsts.Contains(c.StripeOffset)) is { } clash)
            {
                throw new RpcStatusException(
                    LustreErrno.EINVAL,
                    $"mirror {mirrors[m].Id} asks to start on OST {clash.StripeOffset}, which another mirror of the file uses: give each mirror its own stripe offset (-i), or none");
            }

            var pool = OstAllocator.MirrorPool(usage, usedOsts, mirrors[m].Layout.Components.Max(c => c.StripeCount));
            if (!pool.Any(OstAllocator.IsUsable))
            {
                throw new RpcStatusException(
                    LustreErrno.ENOSPC,
                    $"mirror {mirrors[m].Id} needs OSTs that no other mirror of the file uses, and none of the {usage.Count} OSTs is left (in use by other mirrors, inactive or full)");
            }

            // "All OSTs" shares the usable ones among the mirrors still to place, so each gets some.
            var layout = InstantiatePlain(mirrors[m].Layout, pool, mirrors.Count - m, LayoutComponent.Eof, transaction);
            result[m] = mirrors[m].WithLayout(layout);
            usedOsts.UnionWith(layout.AllObjects().Select(o => o.OstIndex));
        }

        return result;
    }

    public string? CheckPools(FileLayout layout)
    {
        foreach (var component in layout.AllComponents())
        {
            if (component.Pool is not { } name)
            {
                continue;
            }

            if (!_targets.HasConfig)
            {
                return "the MDS has not read the filesystem configuration from the MGS yet";
            }

            var config = _targets.Config;

            // The messages of lfs (llapi_stripe_param_verify), which checks this before it asks the MDS.
            var full = $"{config.FsName}.{name}";
            if (config.FindPool(name) is not { } pool)
            {
                return $"pool '{full}' does not exist (lctl pool_list {config.FsName} lists the pools)";
            }

            if (pool.Osts.Count == 0)
            {
                return $"pool '{full}' has no OSTs (lctl pool_add {full} OST... adds some)";
            }

            if (component.StripeCount > pool.Osts.Count)
            {
                return $"stripe count {component.StripeCount} is larger than pool '{full}', which has {pool.Osts.Count} OSTs";
            }

            if (component.StripeOffset >= 0 && !pool.Contains(component.StripeOffset))
            {
                return $"stripe offset {component.StripeOffset} is not in pool '{full}', whose OSTs are {string.Join(", ", pool.Osts.Select(TargetNames.Ost))}";
            }
        }

        return null;
    }

    /// <summary>
    /// The OSTs a component may use: its pool's, or all. As Lustre's LOD at create (the pool was checked when the
    /// layout was given, but it may have changed since): a pool that no longer exists, or that does not hold the
    /// component's stripe offset, is ignored; a count larger than the pool is capped, as one larger than the OSTs.
    /// </summary>
    private IReadOnlyList<OstUsage> Candidates(IReadOnlyList<OstUsage> usage, LayoutComponent component)
    {
        if (component.Pool is not { } name || !_targets.HasConfig || _targets.Config.FindPool(name) is not { } pool
            || (component.StripeOffset >= 0 && !pool.Contains(component.StripeOffset)))
        {
            return usage;
        }

        return InPool(usage, pool);
    }

    // Its own method: a lambda over the pool in Candidates would cost a closure on every placement, pool or not.
    private static List<OstUsage> InPool(IReadOnlyList<OstUsage> usage, OstPoolRecord pool) => usage.Where(u => pool.Contains(u.Index)).ToList();

    /// <summary>Gives objects to the components of <paramref name="template"/> that start below <paramref name="end"/> and have none.</summary>
    private FileLayout InstantiatePlain(FileLayout template, IReadOnlyList<OstUsage> usage, int shareAmong, long end, MdtTransaction transaction)
    {
        var components = new LayoutComponent[template.Components.Count];
        var changed = false;
        for (var c = 0; c < components.Length; c++)
        {
            var component = template.Components[c];
            if (component.IsInstantiated || component.Start >= end)
            {
                components[c] = component;
                continue;
            }

            if (component.IsOnMdt)
            {
                // Data-on-MDT: no object to place; the component names the MDT that holds its bytes (this one, MDT0000).
                components[c] = component.OnMdt(0);
                changed = true;
                continue;
            }

            if (component.HasUnsetFields)
            {
                throw new InvalidOperationException($"Component {c} leaves its stripe count or size to the default: LayoutInheritance resolves it before placement.");
            }

            changed = true;
            var candidates = Candidates(usage, component);
            var stripeCount = component.StripeCount;

            // In a pool, "all OSTs" is every OST of the pool that the mirrors before do not use: not shared out.
            if (shareAmong > 1 && stripeCount == StripeCount.All && ReferenceEquals(candidates, usage))
            {
                stripeCount = Math.Max(1, candidates.Count(OstAllocator.IsUsable) / shareAmong);
            }

            IReadOnlyList<int> chosen;
            try
            {
                chosen = _allocator.Choose(candidates, stripeCount, component.StripeOffset, out var capped);
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
                throw new RpcStatusException(LustreErrno.ENOSPC, ReferenceEquals(candidates, usage) ? ex.Message : $"pool '{_targets.Config.FsName}.{component.Pool}': {ex.Message}");
            }

            var objects = new OstObject[chosen.Count];
            for (var i = 0; i < objects.Length; i++)
            {
                objects[i] = new OstObject(chosen[i], _store.AllocateObjectId(transaction, chosen[i]));
            }

            components[c] = component.WithObjects(objects);
        }

        return changed ? template.WithComponents(components) : template;
    }

    /// <summary>Fetches the target list from the MGS and every OST's free space.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder))]
    public async ValueTask RefreshAsync(CancellationToken cancellationToken)
    {
        var config = await _targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var usage = ArrayPool<OstUsage>.Shared.Rent(config.Targets.Count);
        var count = 0;
        var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            foreach (var target in config.Targets)
            {
                if (target.Kind != TargetKind.Ost)
                {
                    continue;
                }

                if (!timeout.TryReset())
                {
                    // The last OST timed out: a fresh source for the next.
                    timeout.Dispose();
                    timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                }

                timeout.CancelAfter(StatFsTimeout);
                usage[count++] = await StatFsAsync(target, timeout.Token, cancellationToken).ConfigureAwait(false);
            }

            // Most refreshes find what the last one did (an idle filesystem): the published list stays, nothing is allocated.
            var fresh = usage.AsSpan(0, count);
            if (!fresh.SequenceEqual(_usage))
            {
                _usage = fresh.ToArray();
            }
        }
        finally
        {
            timeout.Dispose();
            ArrayPool<OstUsage>.Shared.Return(usage, clearArray: true);
        }
    }

    /// <summary>How long one OST has to answer the refresh's statfs before it counts as down.</summary>
    private static readonly TimeSpan StatFsTimeout = TimeSpan.FromSeconds(5);

    /// <summary>One OST's free space, or the OST marked inactive when it does not answer in time.</summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<OstUsage> StatFsAsync(TargetRecord target, CancellationToken timeout, CancellationToken cancellationToken)
    {
        try
        {
            using var frame = FrameBuffer.Rent();
            new OstIndexRequest(target.Index).Write(frame.Body);
            using var reply = await _targets.CallAsync(TargetKind.Ost, target.Index, Opcode.OstStatFs, frame, default, default, timeout).ConfigureAwait(false);
            TargetTable.ThrowIfError(reply, TargetNames.Ost(target.Index));
            var reader = reply.Reader;
            var statfs = StatFsReply.Read(ref reader);
            return new OstUsage(target.Index, target.Active, statfs.TotalBytes, statfs.AvailableBytes, target.Address);
        }
        catch (Exception ex) when (ex is LustreException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return new OstUsage(target.Index, Active: false, 0, 0, target.Address);
        }
    }

    [LoggerMessage(EventId = 300, Level = LogLevel.Warning, Message = "stripe count {Requested} is larger than the {Available} usable OSTs: capped, as Lustre does")]
    private static partial void StripeCountCapped(ILogger logger, int requested, int available);
}
