using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lfs path2fid</c> and <c>lfs fid2path</c>. The MDT keeps no parent links (Lustre's link xattr) and no index from
/// FID to name, so fid2path walks the namespace from the root, breadth first, comparing the FIDs that readdir
/// returns with every entry (no stat), once for all the FIDs asked, and stops when it has found them all.
/// </summary>
internal static class FidCommands
{
    private const string Tool = "lfs";

    public static Command Path2Fid()
    {
        var parents = new Option<bool>("--parents", "-p") { Description = "Print the parent directory's FID and the name in it: [PARENT_FID]/NAME" };
        var paths = new Argument<string[]>("PATH") { Description = "Files and directories", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "path2fid", "Print the FID of each path ([0x200000401:0x1:0x0]); with several paths, PATH: FID", [parents, paths], async (session, parse, ct) =>
        {
            var targets = parse.GetValue(paths)!;
            var exit = 0;
            foreach (var argument in targets)
            {
                var path = ClusterPath.Normalize(argument);
                var label = targets.Length > 1 ? argument + ": " : string.Empty;
                try
                {
                    if (!parse.GetValue(parents))
                    {
                        var info = await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                        session.Out.WriteLine($"{label}{info.Fid}");
                        continue;
                    }

                    if (path == "/")
                    {
                        // The root is in no directory: lfs finds no link to it.
                        exit = session.Fail($"cannot get parent fid for '{argument}': No data available");
                        continue;
                    }

                    await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                    var parent = await session.Client.GetInfoAsync(LustrePath.Parent(path), ct).ConfigureAwait(false);
                    session.Out.WriteLine($"{label}{parent.Fid}/{LustrePath.FileName(path)}");
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !CliErrors.IsUnreachable(ex))
                {
                    exit = session.Fail($"cannot get {(parse.GetValue(parents) ? "parent " : string.Empty)}fid for '{argument}': {CliErrors.Reason(ex)}");
                }
            }

            return exit;
        });
    }

    public static Command Fid2Path()
    {
        var print0 = new Option<bool>("--print0", "-0") { Description = "End each path with NUL instead of a newline" };
        var printFid = new Option<bool>("--print-fid", "-f") { Description = "Print the FID before each path" };
        var printLink = new Option<bool>("--print-link", "-c", "--cur", "--current") { Description = "Print the link number (always 0: files have one name) before each path" };
        var link = new Option<int?>("--link", "-l") { Description = "Only this link number: 0 (files have one name)", HelpName = "LINKNO" };
        var name = new Option<bool>("--name", "-n") { Description = "Print only the last component" };
        var root = new Argument<string>("FSNAME|ROOT") { Description = "The filesystem name (paths are printed relative, the root as /) or / (paths are printed from the root)" };
        var fids = new Argument<string[]>("FID") { Description = "FIDs as lfs path2fid prints them, with or without brackets", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "fid2path", "Print the path of each FID (a walk of the namespace: the MDT keeps no index from FID to name)", [print0, printFid, printLink, link, name, root, fids], async (session, parse, ct) =>
        {
            var where = parse.GetValue(root)!;
            bool absolute;
            if (where == session.Client.FsName)
            {
                absolute = false;
            }
            else if ((where.StartsWith('/') || ClusterPath.IsCluster(where)) && ClusterPath.Normalize(where) == "/")
            {
                absolute = true;
            }
            else
            {
                return session.Fail($"cannot resolve mount point for '{where}': No such device (give the filesystem name, {session.Client.FsName}, or /)");
            }

            if (parse.GetValue(link) is < 0)
            {
                return session.Fail(string.Create(CultureInfo.InvariantCulture, $"invalid linkno '{parse.GetValue(link)}'"), 2);
            }

            var exit = 0;
            var wanted = new List<(string Text, LustreFid? Fid)>();
            foreach (var text in parse.GetValue(fids)!)
            {
                var fid = TryParseFid(text);
                if (fid is null)
                {
                    exit = session.Fail($"invalid FID '{text}'");
                }

                wanted.Add((text, fid));
            }

            var found = await LocateAsync(session.Client, [.. wanted.Where(w => w.Fid is not null).Select(w => w.Fid!.Value)], ct).ConfigureAwait(false);
            var separator = parse.GetValue(print0) ? '\0' : '\n';
            foreach (var (text, fid) in wanted)
            {
                if (fid is null)
                {
                    continue;
                }

                if (!found.TryGetValue(fid.Value, out var path) || parse.GetValue(link) is > 0)
                {
                    exit = session.Fail($"cannot find {where} {text}: No such file or directory");
                    continue;
                }

                var shown = parse.GetValue(name) ? (path == "/" ? "/" : LustrePath.FileName(path))
                    : absolute || path == "/" ? path
                    : path[1..];
                var prefix = (parse.GetValue(printFid) ? text + " " : string.Empty) + (parse.GetValue(printLink) ? "0 " : string.Empty);
                await session.Out.WriteAsync(prefix + shown + separator).ConfigureAwait(false);
            }

            return exit;
        });
    }

    /// <summary>
    /// The paths of <paramref name="fids"/>: breadth first from the root, one readdir per directory and no stat. Memory
    /// is one level of directory paths; the time is one readdir page per 512 entries of the whole namespace in the
    /// worst case (a FID that does not exist), less when every FID is found early.
    /// </summary>
    internal static async Task<Dictionary<LustreFid, string>> LocateAsync(LustreClient client, IReadOnlyCollection<LustreFid> fids, CancellationToken cancellationToken)
    {
        var missing = new HashSet<LustreFid>(fids);
        var found = new Dictionary<LustreFid, string>();
        if (missing.Remove(LustreFid.Root))
        {
            found[LustreFid.Root] = "/";
        }

        var level = new List<string> { "/" };
        while (missing.Count > 0 && level.Count > 0)
        {
            var next = new List<string>();
            foreach (var directory in level)
            {
                try
                {
                    await foreach (var entry in client.EnumerateDirectoryAsync(directory, cancellationToken).ConfigureAwait(false))
                    {
                        if (missing.Remove(entry.Fid))
                        {
                            found[entry.Fid] = entry.Path;
                            if (missing.Count == 0)
                            {
                                return found;
                            }
                        }

                        if (entry.IsDirectory)
                        {
                            next.Add(entry.Path);
                        }
                    }
                }
                catch (Exception ex) when (ex is FileNotFoundException or UnauthorizedAccessException)
                {
                    // Removed since its parent was read, or not readable by this user: its entries cannot be searched.
                }
            }

            level = next;
        }

        return found;
    }

    /// <summary>A FID as lfs prints it, <c>[0x200000401:0x1:0x0]</c>, with or without the brackets and the 0x.</summary>
    internal static LustreFid? TryParseFid(string text)
    {
        var value = text.Trim();
        if (value.StartsWith('[') && value.EndsWith(']'))
        {
            value = value[1..^1];
        }

        var parts = value.Split(':');
        return parts.Length == 3
            && TryParseHex(parts[0], out var sequence)
            && TryParseHex(parts[1], out var objectId) && objectId <= uint.MaxValue
            && TryParseHex(parts[2], out var version) && version <= uint.MaxValue
            ? new LustreFid(sequence, (uint)objectId, (uint)version)
            : null;

        static bool TryParseHex(string part, out ulong number)
        {
            var digits = part.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? part[2..] : part;
            return ulong.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number);
        }
    }
}
