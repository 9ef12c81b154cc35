using System.Net;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Diagnostics;
using Lustre.Server.Mds;
using Lustre.Server.Mgs;
using Lustre.Server.Oss;
using Lustre.Server.Parameters;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Microsoft.Extensions.Logging;

namespace Lustre.Server.Cluster;

/// <summary>
/// One server process: any mix of MGS, MDS and OSS roles behind one listener, as a Lustre server node hosts
/// several targets on one network address. Targets register with the MGS at start; the MDS then learns the
/// OSTs from the MGS and keeps their free space fresh.
/// </summary>
internal sealed partial class LustreNode : IAsyncDisposable
{
    private readonly NodeOptions _options;
    private readonly ILogger _logger;
    private readonly List<IAsyncDisposable> _asyncResources = [];
    private readonly List<IDisposable> _resources = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _background = [];
    private RpcServer? _server;

    private LustreNode(NodeOptions options, ILoggerFactory loggers)
    {
        _options = options;
        _logger = loggers.CreateLogger("Lustre.Server");
    }

    public IPEndPoint Endpoint => _server!.LocalEndPoint;

    public string FsName { get; private set; } = string.Empty;

    internal MdtStore? Mdt { get; private set; }

    internal OssService? Oss { get; private set; }

    internal DestroyQueue? Destroys { get; private set; }

    /// <summary>Copies mirrored files back to their stale mirrors once the OSTs return (MDS nodes only).</summary>
    internal MirrorResyncAgent? Resyncs { get; private set; }

    internal OstPlacement? Placement { get; private set; }

    /// <summary>This node's parameters (<c>lctl get_param</c> on this node), answered over the wire by <see cref="ParamService"/>.</summary>
    internal Lustre.Parameters.ParameterTree Parameters { get; } = new();

    /// <summary>The MDS's service (MDS nodes only): its statistics.</summary>
    internal MdsService? Mds { get; private set; }

    /// <summary>The MDT's namespace, when this node runs the MDS (its Data-on-MDT limit can change while it runs).</summary>
    internal MdtNamespace? Namespace { get; private set; }

    public static async Task<LustreNode> StartAsync(NodeOptions options, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var node = new LustreNode(options, loggers);
        try
        {
            await node.StartCoreAsync(loggers, cancellationToken).ConfigureAwait(false);
            return node;
        }
        catch
        {
            await node.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        var options = _options;
        if (!options.RunMgs && options.Mgs is null)
        {
            throw new ArgumentException("A node without the MGS role needs the MGS address (--mgs HOST:PORT).", nameof(options));
        }

        Directory.CreateDirectory(options.DataDirectory);
        var services = new List<IRpcService> { new ParamService(Parameters) };
        FsName = options.FsName;
        if (options.RunMgs)
        {
            var store = new MgsConfigStore(Path.Combine(options.DataDirectory, "mgs"), options.FsName, options.DefaultStripeSize, options.DefaultStripeCount);
            services.Add(new MgsService(store, new MgsParamStore(Path.Combine(options.DataDirectory, "mgs"))));
            ServerParameters.AddMgs(Parameters, store);
        }

        if (options.RunOss)
        {
            if (options.OstCount is < 1 or > 256)
            {
                throw new ArgumentOutOfRangeException(nameof(options), options.OstCount, "An OSS hosts 1 to 256 OSTs.");
            }

            DirectReader? directReads = null;
            if (options.DirectReads && OperatingSystem.IsLinux())
            {
                directReads = new DirectReader();
                _resources.Add(directReads);
            }

            DirectWriter? directWrites = null;
            if (options.DirectWrites && OperatingSystem.IsLinux())
            {
                directWrites = new DirectWriter();
                _resources.Add(directWrites);
            }

            var stores = Enumerable.Range(options.FirstOstIndex, options.OstCount)
                .Select(i => new ObjectStore(i, Path.Combine(options.DataDirectory, $"ost{i:X4}"), capacityBytes: options.OstCapacityBytes, directReads: directReads, directWrites: directWrites))
                .ToList();
            Oss = new OssService(stores, CapabilityKeys.From(options.Keys, options.CapabilityLifetime), CachedReadProbe.Resolve(options.CachedReads, options.DataDirectory) == CachedReadMode.Map);
            _resources.Add(Oss);
            services.Add(Oss);
            ServerParameters.AddOss(Parameters, () => FsName, Oss);
            foreach (var store in Oss.Targets)
            {
                _resources.Insert(0, ServerDiagnostics.RegisterTargetStats(store.Name, Oss.Stats(store.Index)));
            }
        }

        TargetTable? directory = null;
        if (options.RunMds)
        {
            Mdt = new MdtStore(Path.Combine(options.DataDirectory, "mdt0000"), walPrewriteBytes: options.MdtWalPrewriteBytes, leases: new StatAheadLeases(options.StatAheadLease, options.StatAheadQuiet));
            Mdt.FoundFull += reason => MdtFull(_logger, reason);
            Mdt.SpaceChanged += (low, free) =>
            {
                if (low)
                {
                    MdtSpaceLow(_logger, free, Mdt.ReserveBytes);
                }
                else
                {
                    MdtSpaceBack(_logger, free);
                }
            };
            _resources.Add(Mdt);
        }

        ServerParameters.AddDevices(Parameters, () => FsName, options.RunMgs, options.RunMds, Oss, () => _server?.SessionCount ?? 0);
        var listener = options.Listen;
        _server = new RpcServer(
            new RpcServerOptions
            {
                Endpoint = listener,
                Name = $"{options.FsName} {Describe()}",
                Secret = options.Secret,
                Keys = options.Keys,
                MemoryBudget = options.MemoryBudget,
                ConnectionMemoryBudget = Math.Min(64L << 20, options.MemoryBudget / 16),
                SendTimeout = options.SendTimeout,
                AllowPlainRemote = options.AllowPlainRemote,
            },
            services,
            _logger);

        if (options.RunMds)
        {
            // Placement is filled in once the node knows its own address (the MGS may be itself).
            var mds = Mds = new MdsService(CapabilityKeys.From(options.Keys, options.CapabilityLifetime));
            services.Add(mds);
            ServerParameters.AddMdt(Parameters, () => FsName, mds, Mdt!);
            _resources.Insert(0, ServerDiagnostics.RegisterTargetStats("MDT0000", mds.Stats));
            _server.Start();
            var mgs = options.Mgs ?? Advertised();
            directory = new TargetTable([mgs], ServerClientSettings(loggers, "mds"), connectionsPerServer: 1);
            _asyncResources.Add(directory);
            Placement = new OstPlacement(directory, Mdt!, new OstAllocator(new Random()), _logger);
            var ns = Namespace = new MdtNamespace(Mdt!, Placement, options.MigrationLease, options.DataOnMdtLimit);
            Destroys = new DestroyQueue(ns, directory);
            Resyncs = new MirrorResyncAgent(
                ns,
                Placement,
                // The MDS's own copies are no job's: job stats count what clients asked for.
                () => new LustreClient($"{mgs}/{FsName}", new LustreClientOptions { SharedSecret = OwnSecret, KeyName = OwnKey?.Name, LoggerFactory = loggers, JobIdVariable = "disable" }),
                loggers.CreateLogger("Lustre.Server.Resync"));

            // First to go: the metrics must stop reading the MDT before the MDT closes.
            _resources.Insert(0, ServerDiagnostics.RegisterDestroyQueue(_server.Name, ns.PendingDestroyCount));
            _resources.Insert(0, ServerDiagnostics.RegisterStaleMirrorFiles(_server.Name, ns.StaleMirrorFileCount));
            mds.Attach(ns);
        }
        else
        {
            _server.Start();
        }

        var advertised = Advertised();
        var registrar = directory ?? new TargetTable([options.Mgs ?? advertised], ServerClientSettings(loggers, "oss"), connectionsPerServer: 1);
        if (!ReferenceEquals(registrar, directory))
        {
            _asyncResources.Add(registrar);
        }

        if (options.RunOss)
        {
            foreach (var store in Oss!.Targets)
            {
                var config = await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, store.Index, advertised.ToString(), true), cancellationToken).ConfigureAwait(false);
                FsName = config.FsName;
            }
        }

        if (options.RunMds)
        {
            var config = await registrar.RegisterAsync(new TargetRecord(TargetKind.Mdt, 0, advertised.ToString(), true), cancellationToken).ConfigureAwait(false);
            FsName = config.FsName;
            await Placement!.RefreshAsync(cancellationToken).ConfigureAwait(false);
            _background.Add(Task.Run(() => RefreshLoopAsync(_stopping.Token), CancellationToken.None));
            _background.Add(Task.Run(() => ResyncLoopAsync(_stopping.Token), CancellationToken.None));
        }

        await ApplyPersistentParametersAsync(registrar, cancellationToken).ConfigureAwait(false);
        NodeStarted(_logger, Describe(), Endpoint.ToString(), options.DataDirectory);
    }

    /// <summary>
    /// Applies the MGS's persistent parameters (<c>lctl set_param -P</c>) that name this node's, as a Lustre server applies
    /// the <c>params</c> log when it starts. One that no longer fits (a value out of range) is logged and passed over.
    /// </summary>
    private async Task ApplyPersistentParametersAsync(TargetTable mgs, CancellationToken cancellationToken)
    {
        MgsParamsReply persistent;
        try
        {
            using var frame = FrameBuffer.Rent();
            new MgsParamsRequest(MgsParamsOperation.List, string.Empty, string.Empty).Write(frame.Body);
            using var reply = await mgs.CallMgsAsync(Opcode.MgsParams, frame, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            persistent = MgsParamsReply.Read(ref reader);
        }
        catch (Exception ex) when (ex is LustreException or UnauthorizedAccessException or ProtocolException)
        {
            PersistentParametersFailed(_logger, ex.Message);
            return;
        }

        foreach (var (pattern, value) in persistent.Params)
        {
            foreach (var result in Parameters.Set(pattern, value, checkOnly: false))
            {
                if (result.Status == LustreErrno.None)
                {
                    PersistentParameterApplied(_logger, result.Name, value);
                }
                else if (result.Status != LustreErrno.ENOENT)
                {
                    PersistentParameterRefused(_logger, result.Name, value, result.Message);
                }
            }
        }
    }

    /// <summary>What this node registers with the MGS: --advertise if given, else the bound address.</summary>
    private IPEndPoint Advertised() => _options.Advertise is { } advertise
        ? new IPEndPoint(advertise.Address, advertise.Port == 0 ? Endpoint.Port : advertise.Port)
        : Loopback(Endpoint);

    /// <summary>A wildcard bind is advertised as loopback on one machine; a real address is advertised as is.</summary>
    private static IPEndPoint Loopback(IPEndPoint endpoint) =>
        endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any)
            ? new IPEndPoint(IPAddress.Loopback, endpoint.Port)
            : endpoint;

    private RpcConnectionSettings ServerClientSettings(ILoggerFactory loggers, string role) => new(
        $"{role}-{Guid.NewGuid():N}",
        new XidGenerator(),
        TimeSpan.FromSeconds(5),
        TimeSpan.FromSeconds(30),
        OwnSecret,
        loggers.CreateLogger("Lustre.Server.Client"),
        KeyName: OwnKey?.Name ?? string.Empty);

    /// <summary>The key this node proves to other servers: its key file's first server key, when it has a key file.</summary>
    private NamedKey? OwnKey => _options.Keys is { } keys
        ? keys.FirstOrDefault(k => k.Role == KeyRole.Server) ?? throw new ArgumentException("The key file has no server key: a server needs one to register with the MGS and reach the other servers (lustre key new --role server).")
        : null;

    private byte[]? OwnSecret => OwnKey?.Secret ?? _options.Secret;

    private string Describe()
    {
        var roles = new List<string>();
        if (_options.RunMgs)
        {
            roles.Add("MGS");
        }

        if (_options.RunMds)
        {
            roles.Add("MDT0000");
        }

        if (_options.RunOss)
        {
            roles.Add(_options.OstCount == 1 ? TargetNames.Ost(_options.FirstOstIndex) : $"{TargetNames.Ost(_options.FirstOstIndex)}..{TargetNames.Ost(_options.FirstOstIndex + _options.OstCount - 1)}");
        }

        return string.Join(" + ", roles);
    }

    /// <summary>The MDS's automatic resync, on a loop of its own: a long copy must not hold up destroys and placement.</summary>
    private async Task ResyncLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_options.RefreshInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                await Resyncs!.RunOnceAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task RefreshLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Max(100, _options.RefreshInterval.TotalMilliseconds / 2)));
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    await Destroys!.RunOnceAsync(cancellationToken).ConfigureAwait(false);
                    if (++tick % 2 == 0)
                    {
                        await Placement!.RefreshAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (Exception ex) when (ex is LustreException or RpcStatusException)
                {
                    // An OSS away, or a full MDT (ENOSPC): the next tick tries again.
                    BackgroundFailed(_logger, ex.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var task in _background)
        {
            await task.ConfigureAwait(false);
        }

        // The agent is a client of this node: it leaves while the node still answers.
        if (Resyncs is not null)
        {
            await Resyncs.DisposeAsync().ConfigureAwait(false);
        }

        if (_server is not null)
        {
            await _server.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var resource in _asyncResources)
        {
            await resource.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var resource in _resources)
        {
            resource.Dispose();
        }

        _stopping.Dispose();
        if (_server is not null)
        {
            NodeStopped(_logger, Describe());
        }
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "{Roles} up on {Endpoint}, data in {DataDirectory}")]
    private static partial void NodeStarted(ILogger logger, string roles, string endpoint, string dataDirectory);

    [LoggerMessage(EventId = 201, Level = LogLevel.Information, Message = "{Roles} stopped cleanly")]
    private static partial void NodeStopped(ILogger logger, string roles);

    [LoggerMessage(EventId = 203, Level = LogLevel.Error, Message = "the MDT is full: every change now gets ENOSPC; free space on this host, then restart the MDS ({Reason})")]
    private static partial void MdtFull(ILogger logger, string reason);

    [LoggerMessage(EventId = 204, Level = LogLevel.Warning, Message = "the MDT has {Free} bytes free, under its reserve of {Reserve}: creates get ENOSPC, unlink, rmdir and rename go on")]
    private static partial void MdtSpaceLow(ILogger logger, long free, long reserve);

    [LoggerMessage(EventId = 205, Level = LogLevel.Information, Message = "the MDT has {Free} bytes free again: creates resume")]
    private static partial void MdtSpaceBack(ILogger logger, long free);

    [LoggerMessage(EventId = 206, Level = LogLevel.Information, Message = "persistent parameter {Name}={Value} applied")]
    private static partial void PersistentParameterApplied(ILogger logger, string name, string value);

    [LoggerMessage(EventId = 207, Level = LogLevel.Warning, Message = "persistent parameter {Name}={Value} not applied: {Reason}")]
    private static partial void PersistentParameterRefused(ILogger logger, string name, string value, string reason);

    [LoggerMessage(EventId = 208, Level = LogLevel.Warning, Message = "persistent parameters not fetched from the MGS, the defaults stay: {Reason}")]
    private static partial void PersistentParametersFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "background MDS work failed, will retry: {Reason}")]
    private static partial void BackgroundFailed(ILogger logger, string reason);
}
