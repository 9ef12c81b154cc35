using System.Globalization;
using System.Reflection;
using System.Text;
using Lustre.Parameters;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Microsoft.Extensions.Logging;

namespace Lustre.Client;

/// <summary>
/// A client's parameter tree, as <c>lctl</c> shows a Lustre client node's: an <c>osc</c> device per OST, an <c>mdc</c>
/// for the MDT, an <c>llite</c> for the filesystem, each named with this client's instance (16 hex digits of its uuid, where
/// Lustre uses the superblock's address). The tunables are this client's real settings and change at run time:
/// <c>osc.*.max_rpcs_in_flight</c>, <c>osc.*.max_pages_per_rpc</c> and <c>osc.*.checksums</c> are the OST's <see cref="OstLimits"/>,
/// <c>llite.*.max_read_ahead_per_file_mb</c> bounds every stream's readahead from its next read on.
/// </summary>
internal sealed class ClientParameters
{
    /// <summary>Lustre's pages are 4 KiB: <c>max_pages_per_rpc</c> counts them.</summary>
    private const int PageSize = 4096;

    private readonly FilesystemSession _session;
    private long _readaheadBudget;

    public ClientParameters(FilesystemSession session, string jobId, string jobIdVariable)
    {
        _session = session;
        _readaheadBudget = session.Options.ReadaheadBudget;
        JobId = jobId;
        var uuid = session.ClientUuid;
        Instance = uuid.Length >= 23 && uuid.StartsWith("client-", StringComparison.Ordinal) ? uuid[7..23] : uuid;
        var fs = session.FsName;
        Tree.Add(new Parameter("version", () => Version));
        Tree.Add(new Parameter("jobid_var", () => jobIdVariable));
        Tree.Add(new Parameter("jobid_name", () => jobIdVariable == JobIds.NodeLocal && session.Options.JobId is { } id ? id : session.Options.JobIdName));
        Tree.Add(new Parameter("devices", Devices));
        var llite = $"llite.{fs}-{Instance}.";
        Tree.Add(new Parameter(llite + "max_read_ahead_per_file_mb", () => Mb(ReadaheadBudget), value =>
        {
            var mb = ParameterValues.Integer(llite + "max_read_ahead_per_file_mb", value, 0, Math.Max(1, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 2 >> 20));
            return () => Volatile.Write(ref _readaheadBudget, mb << 20);
        }));
        var statAhead = session.StatAhead;
        var openAhead = session.OpenAhead;
        Tree.Add(new Parameter(llite + "statahead_max", () => statAhead.Max.ToString(CultureInfo.InvariantCulture), value =>
        {
            var max = ParameterValues.Integer(llite + "statahead_max", value, 0, ProtocolLimits.MaxBatchPaths);
            return () => statAhead.Max = openAhead.Max = (int)max;
        }));
        Tree.Add(new Parameter(llite + "statahead_stats", () => string.Create(
            CultureInfo.InvariantCulture,
            $"statahead total: {statAhead.Batches}\nstatahead wrong: {statAhead.Refused}\nhit_total: {statAhead.Hits}\nmiss_total: {statAhead.Misses}\n"
            + $"openahead total: {openAhead.Batches}\nopenahead wrong: {openAhead.Refused}\nopen_hit_total: {openAhead.Hits}\nopen_miss_total: {openAhead.Misses}\n")));
        Tree.Add(TargetParameters);
    }

    /// <summary>The SDK's version, as <c>lctl get_param version</c> prints Lustre's.</summary>
    public static string Version { get; } =
        typeof(ClientParameters).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public ParameterTree Tree { get; } = new();

    /// <summary>The job id this client's connections carry; empty for none.</summary>
    public string JobId { get; }

    /// <summary>This client in device names: <c>lustre-OST0000-osc-INSTANCE</c>.</summary>
    public string Instance { get; }

    /// <summary>The most a stream reads ahead (<c>llite.*.max_read_ahead_per_file_mb</c>, <see cref="LustreClientOptions.ReadaheadBudget"/>).</summary>
    public long ReadaheadBudget => Volatile.Read(ref _readaheadBudget);

    /// <summary>The <c>osc</c> device of OST <paramref name="index"/>, as lctl names it.</summary>
    public string Osc(int index) => $"{TargetNames.Ost(_session.FsName, index)}-osc-{Instance}";

    /// <summary>Applies the MGS's persistent parameters (<c>lctl set_param -P</c>) that name this client's (clients fetch them at connect).</summary>
    public async Task ApplyPersistentAsync(CancellationToken cancellationToken)
    {
        MgsParamsReply persistent;
        try
        {
            using var frame = FrameBuffer.Rent();
            new MgsParamsRequest(MgsParamsOperation.List, string.Empty, string.Empty).Write(frame.Body);
            using var reply = await _session.Targets.CallMgsAsync(Opcode.MgsParams, frame, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            persistent = MgsParamsReply.Read(ref reader);
        }
        catch (Exception ex) when (ex is LustreException or UnauthorizedAccessException or ProtocolException)
        {
            // An MGS that keeps none (an older one answers ENOSYS): the client keeps its options.
            _session.Logger.LogDebug("persistent parameters not fetched from the MGS: {Reason}", ex.Message);
            return;
        }

        foreach (var (pattern, value) in persistent.Params)
        {
            foreach (var result in Tree.Set(pattern, value, checkOnly: false))
            {
                if (result.Status is not (LustreErrno.None or LustreErrno.ENOENT))
                {
                    _session.Logger.LogWarning("persistent parameter {Pattern}={Value} not applied to {Name}: {Reason}", pattern, value, result.Name, result.Message);
                }
            }
        }
    }

    private IEnumerable<Parameter> TargetParameters()
    {
        if (!_session.Targets.HasConfig)
        {
            yield break;
        }

        var config = _session.Targets.Config;
        foreach (var target in config.Targets)
        {
            if (target.Kind == TargetKind.Mdt)
            {
                var mdc = $"mdc.{TargetNames.Mdt(config.FsName)}-mdc-{Instance}.";
                yield return new Parameter(mdc + "mds_conn_uuid", () => target.Address);
                continue;
            }

            var index = target.Index;
            var osc = $"osc.{Osc(index)}.";
            var limits = _session.Targets.OstLimits(index);
            var active = target.Active;
            yield return new Parameter(osc + "active", () => active ? "1" : "0");
            yield return new Parameter(osc + "ost_conn_uuid", () => target.Address);
            yield return new Parameter(osc + "max_rpcs_in_flight", () => Number(limits.MaxRpcsInFlight), value =>
            {
                var count = (int)ParameterValues.Integer(osc + "max_rpcs_in_flight", value, 1, 256);
                return () => limits.SetMaxRpcsInFlight(count);
            });
            yield return new Parameter(osc + "checksums", () => Checksums(index, limits) ? "1" : "0", value =>
            {
                var on = ParameterValues.Boolean(osc + "checksums", value);
                return () => limits.Checksums = on;
            });
            yield return new Parameter(osc + "max_pages_per_rpc", () => Number(limits.MaxBulkSize / PageSize), value =>
            {
                var name = osc + "max_pages_per_rpc";
                var pages = (int)ParameterValues.Integer(name, value, 16, ProtocolLimits.MaxBulkLength / PageSize);
                return pages % 16 != 0
                    ? throw new ParameterException(LustreErrno.EINVAL, $"{name} must be a multiple of 16 pages (64 KiB, the stripe alignment); {pages} is not")
                    : () => limits.SetMaxBulkSize(pages * PageSize);
            });
        }
    }

    /// <summary>Whether this client checksums bulk RPCs to OST <paramref name="index"/>: its setting, else its server's default.</summary>
    private bool Checksums(int index, OstLimits limits)
    {
        if (limits.Checksums is { } set)
        {
            return set;
        }

        try
        {
            return _session.Targets.Ost(index).Server.ChecksumsByDefault;
        }
        catch (LustreException)
        {
            return _session.Options.BulkChecksums ?? true;
        }
    }

    /// <summary>This client's devices in <c>lctl dl</c>'s shape: index, state, type, name, uuid, references.</summary>
    private string Devices()
    {
        var lines = new StringBuilder();
        var n = 0;
        void Line(string state, string type, string name, string uuid) =>
            lines.Append(CultureInfo.InvariantCulture, $"{n++,3} {state} {type} {name} {uuid} 1\n");

        Line("UP", "mgc", $"MGC{_session.MgsAddresses}", _session.ClientUuid);
        Line("UP", "lov", $"{_session.FsName}-clilov-{Instance}", _session.ClientUuid);
        Line("UP", "lmv", $"{_session.FsName}-clilmv-{Instance}", _session.ClientUuid);
        if (_session.Targets.HasConfig)
        {
            foreach (var target in _session.Targets.Config.Targets)
            {
                if (target.Kind == TargetKind.Mdt)
                {
                    Line("UP", "mdc", $"{TargetNames.Mdt(_session.FsName)}-mdc-{Instance}", _session.ClientUuid);
                }
            }

            foreach (var target in _session.Targets.Config.Targets)
            {
                if (target.Kind == TargetKind.Ost)
                {
                    Line(target.Active ? "UP" : "IN", "osc", Osc(target.Index), _session.ClientUuid);
                }
            }
        }

        return lines.ToString().TrimEnd('\n');
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Mb(long bytes) => Number(bytes >> 20);
}
