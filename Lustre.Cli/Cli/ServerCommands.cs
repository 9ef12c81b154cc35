using System.CommandLine;
using System.Net;
using Lustre.Network;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;
using Lustre.Server.Rpc;
using Lustre.Server.Security;
using Microsoft.Extensions.Logging;

namespace Lustre.Cli;

/// <summary>The server side of the <c>lustre</c> executable: <c>up</c> (all-in-one) and <c>serve</c> (one role per process).</summary>
internal static class ServerCommands
{
    public const int DefaultPort = 9880;

    private static readonly Option<string?> ConfigOption = new("--config") { Description = "JSON file with settings (keys as the long option names); options given here win" };
    private static readonly Option<string?> SecretFileOption = new("--secret-file") { Description = $"File holding the shared secret clients must prove (or set {SecretLoader.EnvironmentVariable}); required for a non-loopback listener" };
    private static readonly Option<string?> FsNameOption = new("--fsname") { Description = "Filesystem name, 1-8 letters or digits (default lustre)" };
    private static readonly Option<string?> StripeSizeOption = new("--stripe-size") { Description = "Default stripe size of new files, e.g. 1M (default 4M)" };
    private static readonly Option<string?> OstCapacityOption = new("--ost-capacity") { Description = "Capacity limit of each OST, e.g. 64M (default: the disk's free space); writes past it fail with ENOSPC" };
    private static readonly Option<bool> DirectReadsOption = new("--direct-reads") { Description = "OSTs read ranges of 64 KiB or more that are not in the page cache with O_DIRECT, past the cache (Linux; for data sets larger than the servers' memory)" };
    private static readonly Option<bool> DirectWritesOption = new("--direct-writes") { Description = "true (the default): OSTs write the aligned part of writes of 1 MiB or more with O_DIRECT, past the page cache (Linux; durable writes at the disk's speed, but reads of just-written data come from the disk); false: every write goes through the page cache" };
    private static readonly Option<CachedReadMode?> CachedReadsOption = new("--cached-reads") { Description = "How OSTs send large reads of cached data to clients on this host: copy (through a buffer), map (from a mapping of the page cache) or auto (the default: whichever this machine sends faster, measured once at start-up; see docs/operations.md)" };
    private static readonly Option<string?> KeyFileOption = new("--key-file") { Description = "Key file of named keys with roles (lustre key new), instead of --secret-file: clients prove a key, and what they may do follows its role" };
    private static readonly Option<bool> AllowPlainOption = new("--allow-plain") { Description = "Accept plain TCP from clients and servers off this host (by default they must use TLS 1.3; loopback may always talk plain)" };
    private static readonly Option<string?> MemoryBudgetOption = new("--memory-budget") { Description = "Bytes of request and reply data all connections may hold at once, e.g. 512M (default 1G); each connection at most a sixteenth, and a connection whose replies go unread for 30 s is closed" };
    private static readonly Option<string?> MetricsListenOption = new("--metrics-listen") { Description = "HOST:PORT to serve Prometheus metrics on, at /metrics (e.g. 127.0.0.1:9882); unauthenticated, so keep it off public networks" };
    private static readonly Option<string?> DomStripeSizeOption = new("--dom-stripesize") { Description = "Largest Data-on-MDT component the MDS accepts (lfs setstripe -L mdt), e.g. 256K; 0 for none (default 1M, at most 1G)" };
    private static readonly Option<int?> StripeCountOption = new("--stripe-count") { Description = "Default stripe count of new files, -1 for all OSTs (default 1)" };

    public static Command Up()
    {
        var data = new Option<string?>("--data") { Description = "Data folder (default ./lustre-data)" };
        var osts = new Option<int?>("--osts") { Description = "Number of OSTs (default 4)" };
        var port = new Option<int?>("--port") { Description = $"TCP port on 127.0.0.1 (default {DefaultPort}; 0 picks a free one)" };
        var command = new Command("up", "Start an all-in-one cluster (MGS + MDS + N OSTs) on loopback in this process")
        {
            data, osts, port, FsNameOption, StripeSizeOption, StripeCountOption, DomStripeSizeOption, ConfigOption, SecretFileOption, OstCapacityOption, DirectReadsOption, DirectWritesOption, CachedReadsOption, MemoryBudgetOption, KeyFileOption, AllowPlainOption, MetricsListenOption,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = ServerConfigFile.Load(parse.GetValue(ConfigOption));
            var options = new NodeOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(data) ?? file.Data ?? "lustre-data"),
                RunMgs = true,
                RunMds = true,
                RunOss = true,
                Listen = new IPEndPoint(IPAddress.Loopback, parse.GetValue(port) ?? file.Port ?? DefaultPort),
                FsName = parse.GetValue(FsNameOption) ?? file.Fsname ?? "lustre",
                OstCount = parse.GetValue(osts) ?? file.Osts ?? 4,
                DefaultStripeSize = StripeSize(parse.GetValue(StripeSizeOption) ?? file.StripeSize),
                DefaultStripeCount = parse.GetValue(StripeCountOption) ?? file.StripeCount ?? 1,
                Secret = SecretLoader.Load(parse.GetValue(SecretFileOption) ?? file.SecretFile),
                OstCapacityBytes = parse.GetValue(OstCapacityOption) is { } capacity ? SizeParser.Parse(capacity, "--ost-capacity") : null,
                DirectReads = parse.GetValue(DirectReadsOption) || (file.DirectReads ?? false),
                DirectWrites = DirectWrites(parse, file),
                CachedReads = parse.GetValue(CachedReadsOption) ?? CachedReads(file.CachedReads),
                MemoryBudget = MemoryBudget(parse.GetValue(MemoryBudgetOption) ?? file.MemoryBudget),
                AllowPlainRemote = parse.GetValue(AllowPlainOption) || (file.AllowPlain ?? false),
                Keys = (parse.GetValue(KeyFileOption) ?? file.KeyFile) is { } keyFile ? KeyFile.Load(keyFile) : null,
                DataOnMdtLimit = DomStripeSize(parse.GetValue(DomStripeSizeOption) ?? file.DomStripesize),
            };
            return await RunAsync(options, printAddress: true, MetricsListen(parse.GetValue(MetricsListenOption) ?? file.MetricsListen), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    public static Command Serve()
    {
        var role = new Option<string?>("--role") { Description = "mgs, mds or oss" };
        role.AcceptOnlyFromAmong("mgs", "mds", "oss");
        var data = new Option<string?>("--data") { Description = "Data folder of this server (required)" };
        var listen = new Option<string?>("--listen") { Description = $"HOST:PORT to listen on (default 127.0.0.1:{DefaultPort} for the MGS, 127.0.0.1:0 otherwise)" };
        var mgs = new Option<string?>("--mgs") { Description = "HOST:PORT of the MGS to join (mds and oss)" };
        var advertise = new Option<string?>("--advertise") { Description = "HOST:PORT other hosts reach this server at, registered with the MGS (default: the --listen address; needed with a wildcard --listen such as 0.0.0.0:9881; port 0 means the bound port)" };
        var index = new Option<int?>("--index") { Description = "Index of this OSS's first OST (default 0)" };
        var osts = new Option<int?>("--osts") { Description = "Number of OSTs this OSS serves (default 1)" };
        var command = new Command("serve", "Run one role (MGS, MDS or OSS) of a cluster in this process")
        {
            role, data, listen, mgs, advertise, index, osts, FsNameOption, StripeSizeOption, StripeCountOption, DomStripeSizeOption, ConfigOption, SecretFileOption, OstCapacityOption, DirectReadsOption, DirectWritesOption, CachedReadsOption, MemoryBudgetOption, KeyFileOption, AllowPlainOption, MetricsListenOption,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var file = ServerConfigFile.Load(parse.GetValue(ConfigOption));
            var chosen = parse.GetValue(role) ?? file.Role ?? throw new ArgumentException("serve needs --role mgs|mds|oss.");
            var dataDirectory = parse.GetValue(data) ?? file.Data ?? throw new ArgumentException("serve needs --data DIR.");
            var mgsAddress = parse.GetValue(mgs) ?? file.Mgs;
            if (chosen != "mgs" && mgsAddress is null)
            {
                throw new ArgumentException($"serve --role {chosen} needs --mgs HOST:PORT.");
            }

            var defaultListen = chosen == "mgs" ? $"127.0.0.1:{DefaultPort}" : "127.0.0.1:0";
            var options = new NodeOptions
            {
                DataDirectory = Path.GetFullPath(dataDirectory),
                RunMgs = chosen == "mgs",
                RunMds = chosen == "mds",
                RunOss = chosen == "oss",
                Listen = Endpoints.Parse(parse.GetValue(listen) ?? file.Listen ?? defaultListen, "--listen"),
                Mgs = mgsAddress is null ? null : Endpoints.Parse(mgsAddress, "--mgs"),
                Advertise = (parse.GetValue(advertise) ?? file.Advertise) is { } advertised ? Endpoints.Parse(advertised, "--advertise") : null,
                FsName = parse.GetValue(FsNameOption) ?? file.Fsname ?? "lustre",
                FirstOstIndex = parse.GetValue(index) ?? file.Index ?? 0,
                OstCount = parse.GetValue(osts) ?? file.Osts ?? 1,
                DefaultStripeSize = StripeSize(parse.GetValue(StripeSizeOption) ?? file.StripeSize),
                DefaultStripeCount = parse.GetValue(StripeCountOption) ?? file.StripeCount ?? 1,
                Secret = SecretLoader.Load(parse.GetValue(SecretFileOption) ?? file.SecretFile),
                OstCapacityBytes = parse.GetValue(OstCapacityOption) is { } capacity ? SizeParser.Parse(capacity, "--ost-capacity") : null,
                DirectReads = parse.GetValue(DirectReadsOption) || (file.DirectReads ?? false),
                DirectWrites = DirectWrites(parse, file),
                CachedReads = parse.GetValue(CachedReadsOption) ?? CachedReads(file.CachedReads),
                MemoryBudget = MemoryBudget(parse.GetValue(MemoryBudgetOption) ?? file.MemoryBudget),
                AllowPlainRemote = parse.GetValue(AllowPlainOption) || (file.AllowPlain ?? false),
                Keys = (parse.GetValue(KeyFileOption) ?? file.KeyFile) is { } keyFile ? KeyFile.Load(keyFile) : null,
                DataOnMdtLimit = DomStripeSize(parse.GetValue(DomStripeSizeOption) ?? file.DomStripesize),
            };
            return await RunAsync(options, printAddress: chosen == "mgs", MetricsListen(parse.GetValue(MetricsListenOption) ?? file.MetricsListen), cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>On unless <c>--direct-writes false</c> or the config file's <c>"directWrites": false</c> turns it off; the option wins over the file.</summary>
    internal static bool DirectWrites(ParseResult parse, ServerConfigFile file) =>
        parse.GetResult(DirectWritesOption) is { Implicit: false } ? parse.GetValue(DirectWritesOption) : file.DirectWrites ?? true;

    private static IPEndPoint? MetricsListen(string? text) => text is null ? null : Endpoints.Parse(text, "--metrics-listen");

    private static CachedReadMode CachedReads(string? text) => text is null ? CachedReadMode.Auto : CachedReadsParser.Parse(text, "cachedReads");

    private static long MemoryBudget(string? text) => text is null ? NodeOptions.DefaultMemoryBudget : SizeParser.Parse(text, "--memory-budget");

    private static long DomStripeSize(string? text) => text is null ? Layouts.LayoutDefaults.DefaultDataOnMdtLimit : SizeParser.Parse(text, "--dom-stripesize");

    private static long StripeSize(string? text) => text is null ? Layouts.LayoutDefaults.DefaultStripeSize : SizeParser.Parse(text, "--stripe-size");

    private static async Task<int> RunAsync(NodeOptions options, bool printAddress, IPEndPoint? metrics, CancellationToken cancellationToken)
    {
        using var loggers = ConsoleLogging.Create();
        var logger = loggers.CreateLogger("lustre");
        using var signal = new ShutdownSignal();

        // Before the node, so its start is measured too.
        IDisposable? endpoint = null;
        if (metrics is not null)
        {
            try
            {
                endpoint = MetricsEndpoint.Start(metrics);
            }
            catch (HttpListenerException ex)
            {
                await Console.Error.WriteLineAsync($"lustre: cannot start: --metrics-listen {metrics}: {ex.Message}").ConfigureAwait(false);
                return 1;
            }
        }

        using var metricsEndpoint = endpoint;
        LustreNode node;
        try
        {
            node = await LustreNode.StartAsync(options, loggers, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or System.Net.Sockets.SocketException or InvalidDataException)
        {
            await Console.Error.WriteLineAsync($"lustre: cannot start: {ex.Message}").ConfigureAwait(false);
            return 1;
        }

        await using (node.ConfigureAwait(false))
        {
            if (printAddress)
            {
                // One plain line on stdout that scripts and tests can read; the log goes to stderr.
                Console.Out.WriteLine($"lustre: serving {node.Endpoint}/{node.FsName}");
                Console.Out.Flush();
            }

            if (metrics is not null)
            {
                logger.LogInformation("metrics at http://{Endpoint}/metrics", metrics);
            }

            var stop = await Task.WhenAny(signal.Signalled, Task.Delay(Timeout.Infinite, cancellationToken)).ConfigureAwait(false);
            logger.LogInformation("stopping ({Reason})", stop == signal.Signalled ? signal.Signalled.Result : "cancelled");
        }

        return 0;
    }
}
