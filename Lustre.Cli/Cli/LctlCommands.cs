using System.CommandLine;
using System.Globalization;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre lctl ...</c>: administration of a running cluster, after Lustre's lctl. <c>deactivate</c>/<c>activate</c>
/// an OST (Lustre: <c>lctl --device lustre-OST0002-osc-MDT0000 deactivate</c>, or <c>lctl set_param osp.*.active=0</c>)
/// and <c>backup-mdt</c>, an online MDT backup.
/// </summary>
internal static class LctlCommands
{
    private const string Tool = "lctl";

    public static Command Create()
    {
        var command = new Command("lctl", "Administer a running cluster: activate or deactivate an OST, OST pools, back up the MDT online, read and set parameters")
        {
            SetActive("deactivate", active: false, "Stop placing new objects on an OST (its data stays readable); clients and the MDS see it without restart"),
            SetActive("activate", active: true, "Place new objects on an OST again"),
            BackupMdt(),
            LctlParamCommands.DeviceList(),
            LctlParamCommands.GetParam(),
            LctlParamCommands.SetParam(),
            LctlParamCommands.ListParam(),
            LctlParamCommands.LlogPrint(),
        };
        foreach (var pool in PoolCommands.Create())
        {
            command.Subcommands.Add(pool);
        }

        return command;
    }

    private static Command SetActive(string name, bool active, string description)
    {
        var target = new Argument<string>("OST") { Description = "The OST: its index (2), its name (OST0002) or its UUID (lustre-OST0002_UUID)" };
        return ClientCommand.Create(Tool, name, description, [target], async (session, parse, ct) =>
        {
            var text = parse.GetValue(target)!;
            var index = ParseOst(text);
            try
            {
                await session.Client.SetOstActiveAsync(index, active, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return session.Fail(text, ex);
            }

            session.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{TargetNames.Ost(session.Client.FsName, index)}: {(active ? "active" : "inactive")}"));
            return 0;
        });
    }

    private static Command BackupMdt()
    {
        var name = new Argument<string>("NAME") { Description = "Name of the backup: a folder created under DATA/mdt-backups on the MDS host" };
        return ClientCommand.Create(Tool, "backup-mdt", "Back up the MDT online, while clients work: a consistent RocksDB checkpoint on the MDS host", [name], async (session, parse, ct) =>
        {
            var backup = parse.GetValue(name)!;
            string path;
            ulong commit;
            try
            {
                (path, commit) = await session.Client.BackupMdtAsync(backup, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return session.Fail(backup, ex);
            }

            session.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{TargetNames.Mdt(session.Client.FsName)}: backup at commit {commit} in {path} (on the MDS host)"));
            return 0;
        });
    }

    /// <summary>Accepts 2, 0x2, OST0002, lustre-OST0002 or lustre-OST0002_UUID.</summary>
    internal static int ParseOst(string text)
    {
        var value = text.Trim();
        if (value.EndsWith("_UUID", StringComparison.Ordinal))
        {
            value = value[..^5];
        }

        var ost = value.LastIndexOf("OST", StringComparison.OrdinalIgnoreCase);
        if (ost >= 0 && int.TryParse(value.AsSpan(ost + 3), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex) && hex is >= 0 and <= 0xFFFF)
        {
            return hex;
        }

        if (value.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            && int.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var prefixed) && prefixed is >= 0 and <= 0xFFFF)
        {
            return prefixed;
        }

        return int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= 0xFFFF
            ? index
            : throw new ArgumentException($"'{text}' is not an OST (an index such as 2, or a name such as OST0002).");
    }
}
