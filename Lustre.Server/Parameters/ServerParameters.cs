using System.Globalization;
using System.Text;
using Lustre.Parameters;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Mds;
using Lustre.Server.Mgs;
using Lustre.Server.Oss;
using Lustre.Server.Stats;

namespace Lustre.Server.Parameters;

/// <summary>
/// A server node's parameters, under Lustre's names for what its targets hold: <c>mgs.MGS.*</c>,
/// <c>mdt.FSNAME-MDT0000.*</c> and <c>obdfilter.FSNAME-OSTxxxx.*</c> (statistics, job statistics, space and inodes, and
/// the tunable <c>job_cleanup_interval</c>), plus <c>devices</c> (<c>lctl dl</c>). The filesystem name is read at each
/// lookup: an OSS learns it from the MGS once it has registered.
/// </summary>
internal static class ServerParameters
{
    /// <summary>The longest <c>job_cleanup_interval</c> accepted, a week: longer keeps idle jobs for no purpose.</summary>
    public const long MaxJobCleanupSeconds = 7 * 24 * 3600;

    public static void AddMgs(ParameterTree tree, MgsConfigStore config)
    {
        tree.Add(new Parameter("mgs.MGS.uuid", () => "MGS"));
        tree.Add(() =>
        [
            new Parameter($"mgs.MGS.live.{config.FsName}", () =>
            {
                var snapshot = config.Snapshot();
                var text = new StringBuilder();
                text.Append(CultureInfo.InvariantCulture, $"fsname: {snapshot.FsName}\ngen: {snapshot.Generation}\n");
                foreach (var target in snapshot.Targets)
                {
                    var name = target.Kind == TargetKind.Mdt ? TargetNames.Mdt(snapshot.FsName) : TargetNames.Ost(snapshot.FsName, target.Index);
                    text.Append(CultureInfo.InvariantCulture, $"{name} {target.Address}{(target.Active ? string.Empty : " inactive")}\n");
                }

                return text.ToString().TrimEnd('\n');
            }),
        ]);
    }

    public static void AddMdt(ParameterTree tree, Func<string> fsName, MdsService mds, MdtStore store) => tree.Add(() =>
    {
        var name = TargetNames.Mdt(fsName());
        var prefix = $"mdt.{name}.";
        var stats = mds.Stats;
        return
        [
            new Parameter(prefix + "uuid", () => name + "_UUID"),
            new Parameter(prefix + "md_stats", () => stats.Operations.WriteStats(DateTimeOffset.UtcNow), Clear(stats.Operations.Clear)),
            .. JobParameters(prefix, stats.Jobs),
            .. Usage(prefix, () => MdsService.Usage(store)),
        ];
    });

    public static void AddOss(ParameterTree tree, Func<string> fsName, OssService oss) => tree.Add(() =>
    {
        var parameters = new List<Parameter>();
        foreach (var store in oss.Targets)
        {
            var name = TargetNames.Ost(fsName(), store.Index);
            var prefix = $"obdfilter.{name}.";
            var stats = oss.Stats(store.Index);
            parameters.Add(new Parameter(prefix + "uuid", () => name + "_UUID"));
            parameters.Add(new Parameter(prefix + "stats", () => stats.Operations.WriteStats(DateTimeOffset.UtcNow), Clear(stats.Operations.Clear)));
            parameters.Add(new Parameter(prefix + "brw_stats", () => stats.Brw!.Write(DateTimeOffset.UtcNow), Clear(stats.Brw!.Clear)));
            parameters.AddRange(JobParameters(prefix, stats.Jobs));
            parameters.AddRange(Usage(prefix, () => OssService.Usage(store)));
        }

        return parameters;
    });

    /// <summary><c>devices</c>: the node's devices in <c>lctl dl</c>'s shape, references being the connections the node holds.</summary>
    public static void AddDevices(ParameterTree tree, Func<string> fsName, bool mgs, bool mdt, OssService? oss, Func<int> connections) =>
        tree.Add(new Parameter("devices", () =>
        {
            var text = new StringBuilder();
            var n = 0;
            void Line(string type, string name, string uuid) => text.Append(CultureInfo.InvariantCulture, $"{n++,3} UP {type} {name} {uuid} {connections()}\n");
            if (mgs)
            {
                Line("mgs", "MGS", "MGS");
            }

            if (mdt)
            {
                var name = TargetNames.Mdt(fsName());
                Line("mds", "MDS", "MDS_uuid");
                Line("mdt", name, name + "_UUID");
            }

            if (oss is not null)
            {
                Line("ost", "OSS", "OSS_uuid");
                foreach (var store in oss.Targets.OrderBy(s => s.Index))
                {
                    var name = TargetNames.Ost(fsName(), store.Index);
                    Line("obdfilter", name, name + "_UUID");
                }
            }

            return text.ToString().TrimEnd('\n');
        }));

    /// <summary>
    /// <c>job_stats</c> (writing <c>clear</c> drops every job, a job id drops that job, as in Lustre) and
    /// <c>job_cleanup_interval</c> (seconds a job may stay idle; 0 keeps jobs).
    /// </summary>
    private static Parameter[] JobParameters(string prefix, JobStats jobs) =>
    [
        new Parameter(prefix + "job_stats", jobs.Write, value =>
        {
            var id = value.Trim();
            if (id == "clear")
            {
                return jobs.Clear;
            }

            if (id.Length == 0 || jobs.Find(id) is null)
            {
                throw new ParameterException(LustreErrno.EINVAL, $"{prefix}job_stats takes 'clear' or a job id it holds; '{id}' is neither");
            }

            return () => jobs.Remove(id);
        }),
        new Parameter(prefix + "job_cleanup_interval", () => ((long)jobs.CleanupInterval.TotalSeconds).ToString(CultureInfo.InvariantCulture), value =>
        {
            var seconds = ParameterValues.Integer(prefix + "job_cleanup_interval", value, 0, MaxJobCleanupSeconds);
            return () => jobs.CleanupInterval = TimeSpan.FromSeconds(seconds);
        }),
    ];

    /// <summary>Lustre's space and inode parameters of a target, read at each lookup.</summary>
    private static Parameter[] Usage(string prefix, Func<StatFsReply> usage) =>
    [
        new Parameter(prefix + "kbytestotal", () => Number(usage().TotalBytes >> 10)),
        new Parameter(prefix + "kbytesfree", () => Number(usage().AvailableBytes >> 10)),
        new Parameter(prefix + "kbytesavail", () => Number(usage().AvailableBytes >> 10)),
        new Parameter(prefix + "filestotal", () =>
        {
            var u = usage(); // one statfs of the target for both numbers
            return Number(u.Objects + u.FreeObjects);
        }),
        new Parameter(prefix + "filesfree", () => Number(usage().FreeObjects)),
    ];

    /// <summary>Writing anything to a statistics file clears it, as in Lustre.</summary>
    private static Func<string, Action> Clear(Action clear) => _ => clear;

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
