using System.CommandLine;
using System.Globalization;
using Lustre.Parameters;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre lctl dl</c>, <c>get_param</c>, <c>set_param</c>, <c>list_param</c> and <c>llog_print params</c>, after
/// Lustre's lctl (lustre/utils/lustre_param.c): the parameters of this process's client and of every server of the
/// cluster (<see cref="ParameterNodes"/>), matched by lctl's globs, printed as lctl prints them.
/// </summary>
internal static class LctlParamCommands
{
    private const string Tool = "lctl";

    /// <summary><c>lctl dl</c>: the client's devices, then every server's, numbered in that order.</summary>
    public static Command DeviceList() => ClientCommand.Create(Tool, "dl", "List the devices: this command's client (mgc, lov, lmv, mdc, osc) and every server's (mgs, mdt, ost, obdfilter)", [], async (session, parse, ct) =>
    {
        var nodes = ParameterNodes.Of(session.Client);
        var lines = new List<string>(Split(nodes.Local.Match("devices", recursive: false)[0].Parameter!.Read()));
        var failed = false;
        foreach (var server in nodes.Servers)
        {
            try
            {
                foreach (var (_, _, value) in await nodes.GetAsync(server, GetParamFlags.None, ["devices"], ct).ConfigureAwait(false))
                {
                    lines.AddRange(Split(value));
                }
            }
            catch (Exception ex) when (ex is Client.LustreException or UnauthorizedAccessException or IOException)
            {
                failed = ReportNode(session, "dl", server, ex);
            }
        }

        var n = 0;
        foreach (var line in lines)
        {
            // Each node numbers its own devices from 0; here they are one list.
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            session.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n++,3} {string.Join(' ', fields.Skip(1))}"));
        }

        return failed ? 1 : 0;
    });

    /// <summary><c>lctl get_param [-n] [-N] [-F] [-R] PATTERN...</c>.</summary>
    public static Command GetParam()
    {
        var noName = new Option<bool>("--no-name", "-n") { Description = "Print values only" };
        var onlyName = new Option<bool>("--only-name", "-N") { Description = "Print names only" };
        var classify = new Option<bool>("--classify", "-F") { Description = "With -N: append '=' to a writable parameter's name" };
        var recursive = new Option<bool>("--recursive", "-R") { Description = "Also every parameter below a directory the pattern names" };
        var patterns = new Argument<string[]>("PATTERN") { Description = "Parameter names with globs: osc.*.max_rpcs_in_flight, obdfilter.*.job_stats", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "get_param", "Print parameters of this client and of the servers, as lctl get_param", [noName, onlyName, classify, recursive, patterns], async (session, parse, ct) =>
        {
            var nodes = ParameterNodes.Of(session.Client);
            var flags = parse.GetValue(recursive) ? GetParamFlags.Recursive : GetParamFlags.None;
            var unreachable = new HashSet<ParameterNode>();
            var failed = false;
            foreach (var pattern in parse.GetValue(patterns)!)
            {
                var found = new List<(string Name, ParamEntryFlags Flags, string Value)>();
                foreach (var entry in nodes.Local.Match(pattern, parse.GetValue(recursive)))
                {
                    if (entry.Parameter is { } parameter)
                    {
                        found.Add((entry.Name, parameter.IsWritable ? ParamEntryFlags.Writable : 0, parameter.Read()));
                    }
                }

                var unanswered = false;
                foreach (var server in nodes.Servers.Where(s => !unreachable.Contains(s)))
                {
                    try
                    {
                        found.AddRange(await nodes.GetAsync(server, flags, [pattern], ct).ConfigureAwait(false));
                    }
                    catch (Exception ex) when (ex is Client.LustreException or UnauthorizedAccessException or IOException)
                    {
                        failed = ReportNode(session, "get_param", server, ex);
                        unanswered = true;
                        if (ex is Client.LustreException { IsTransient: true })
                        {
                            unreachable.Add(server);
                        }
                    }
                }

                if (found.Count == 0)
                {
                    failed |= unanswered || NoMatch(session, "get_param", pattern);
                    continue;
                }

                foreach (var (name, entryFlags, value) in found.OrderBy(f => f.Name, StringComparer.Ordinal))
                {
                    Print(session.Out, name, value, entryFlags, parse.GetValue(noName), parse.GetValue(onlyName), parse.GetValue(classify));
                }
            }

            return failed ? 1 : 0;
        });
    }

    /// <summary><c>lctl list_param [-R] [-F] [-D] PATTERN...</c>.</summary>
    public static Command ListParam()
    {
        var classify = new Option<bool>("--classify", "-F") { Description = "Append '/' to a directory, '=' to a writable parameter" };
        var recursive = new Option<bool>("--recursive", "-R") { Description = "Also everything below a directory the pattern names" };
        var directories = new Option<bool>("--dir-only", "-D") { Description = "Directories only" };
        var patterns = new Argument<string[]>("PATTERN") { Description = "Parameter names with globs: osc.*, obdfilter.*.*", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "list_param", "List the names of parameters and directories of this client and of the servers, as lctl list_param", [classify, recursive, directories, patterns], async (session, parse, ct) =>
        {
            var nodes = ParameterNodes.Of(session.Client);
            var flags = GetParamFlags.NamesOnly | (parse.GetValue(recursive) ? GetParamFlags.Recursive : GetParamFlags.None);
            var failed = false;
            foreach (var pattern in parse.GetValue(patterns)!)
            {
                // As lctl list_param merges the same name met twice (po_merge).
                var names = new SortedDictionary<string, ParamEntryFlags>(StringComparer.Ordinal);
                foreach (var entry in nodes.Local.Match(pattern, parse.GetValue(recursive)))
                {
                    names.TryAdd(entry.Name, entry.IsDirectory ? ParamEntryFlags.Directory : entry.Parameter!.IsWritable ? ParamEntryFlags.Writable : 0);
                }

                var unanswered = false;
                foreach (var server in nodes.Servers)
                {
                    try
                    {
                        foreach (var (name, entryFlags, _) in await nodes.GetAsync(server, flags, [pattern], ct).ConfigureAwait(false))
                        {
                            names.TryAdd(name, entryFlags);
                        }
                    }
                    catch (Exception ex) when (ex is Client.LustreException or UnauthorizedAccessException or IOException)
                    {
                        failed = ReportNode(session, "list_param", server, ex);
                        unanswered = true;
                    }
                }

                if (names.Count == 0)
                {
                    failed |= unanswered || NoMatch(session, "list_param", pattern);
                    continue;
                }

                foreach (var (name, entryFlags) in names)
                {
                    if (!parse.GetValue(directories) || (entryFlags & ParamEntryFlags.Directory) != 0)
                    {
                        session.Out.WriteLine(parse.GetValue(classify) ? name + Suffix(entryFlags) : name);
                    }
                }
            }

            return failed ? 1 : 0;
        });
    }

    /// <summary><c>lctl set_param [-n] [-P [-d]] NAME=VALUE...</c>.</summary>
    public static Command SetParam()
    {
        var noName = new Option<bool>("--noname", "-n") { Description = "Do not print what was set" };
        var permanent = new Option<bool>("--permanent", "-P", "--perm") { Description = "Store the setting on the MGS: applied now to every server (and client) it names, to servers when they start and to clients when they connect" };
        var delete = new Option<bool>("--delete", "-d") { Description = "With -P: forget a stored setting (the value in effect stays until a restart)" };
        var settings = new Argument<string[]>("NAME=VALUE") { Description = "Parameter names with globs and their values: osc.*.max_rpcs_in_flight=16 (or NAME VALUE)", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "set_param", "Change parameters of this client and of the servers, as lctl set_param; -P stores them on the MGS", [noName, permanent, delete, settings], async (session, parse, ct) =>
        {
            var perm = parse.GetValue(permanent);
            if (parse.GetValue(delete) && !perm)
            {
                session.Error.WriteLine("warning: setting '-P' option with '-d'");
                perm = true;
            }

            var pairs = ParseSettings(parse.GetValue(settings)!, parse.GetValue(delete));
            var nodes = ParameterNodes.Of(session.Client);
            if (parse.GetValue(delete))
            {
                var failed = false;
                foreach (var (pattern, _) in pairs)
                {
                    try
                    {
                        await nodes.PersistentAsync(new MgsParamsRequest(MgsParamsOperation.Delete, pattern, string.Empty), ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is FileNotFoundException or UnauthorizedAccessException or Client.LustreServerException)
                    {
                        session.Error.WriteLine($"error: set_param: deleting {pattern}: {CliErrors.Reason(ex)}");
                        failed = true;
                    }
                }

                return failed ? 1 : 0;
            }

            if (perm)
            {
                // Nothing is stored unless every node that has such a parameter takes the value; a server that is down
                // gets the setting when it starts.
                var check = await SetEverywhereAsync(session, nodes, pairs, checkOnly: true, printNames: false, ct, persistent: true).ConfigureAwait(false);
                if (check != 0)
                {
                    return check;
                }

                foreach (var (pattern, value) in pairs)
                {
                    try
                    {
                        await nodes.PersistentAsync(new MgsParamsRequest(MgsParamsOperation.Set, pattern, value), ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is UnauthorizedAccessException or Client.LustreServerException)
                    {
                        session.Error.WriteLine($"error: set_param: storing {pattern}={value} on the MGS: {CliErrors.Reason(ex)}");
                        return 1;
                    }
                }
            }

            return await SetEverywhereAsync(session, nodes, pairs, checkOnly: false, printNames: !perm && !parse.GetValue(noName), ct, persistent: perm).ConfigureAwait(false);
        });
    }

    /// <summary><c>lctl llog_print params</c>: the MGS's persistent parameters as Lustre prints the records of its params log.</summary>
    public static Command LlogPrint()
    {
        var log = new Argument<string>("LOG") { Description = "The log: params (or FSNAME-params), the persistent parameters set with set_param -P" };
        return ClientCommand.Create(Tool, "llog_print", "Print the persistent parameters (set_param -P) the MGS keeps", [log], async (session, parse, ct) =>
        {
            var name = parse.GetValue(log)!;
            if (name != "params" && name != $"{session.Client.FsName}-params")
            {
                return session.Fail($"'{name}': No such file or directory (the MGS keeps the configuration and the params log; only params is printed)");
            }

            var nodes = ParameterNodes.Of(session.Client);
            var index = 0;
            foreach (var (pattern, value) in await nodes.PersistentAsync(new MgsParamsRequest(MgsParamsOperation.List, string.Empty, string.Empty), ct).ConfigureAwait(false))
            {
                session.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"- {{ index: {++index}, event: set_param, device: general, parameter: {pattern}, value: {value} }}"));
            }

            return 0;
        });
    }

    /// <summary>
    /// Sets every pair on this client and every server. A pattern no node has is an error (no such parameter); each
    /// refused parameter prints lctl's <c>error: set_param: setting NAME=VALUE: reason</c>. Exit 2 for a bad value, 1 for
    /// anything else that failed.
    /// </summary>
    /// <param name="persistent">For <c>set_param -P</c>: a server that cannot be reached is a warning, not a failure (it applies stored settings when it starts).</param>
    private static async Task<int> SetEverywhereAsync(CliSession session, ParameterNodes nodes, IReadOnlyList<(string Pattern, string Value)> pairs, bool checkOnly, bool printNames, CancellationToken ct, bool persistent = false)
    {
        var results = pairs.Select(_ => new List<SetParamResult>()).ToArray();
        for (var i = 0; i < pairs.Count; i++)
        {
            results[i].AddRange(nodes.Local.Set(pairs[i].Pattern, pairs[i].Value, checkOnly));
        }

        var exit = 0;
        var down = 0;
        foreach (var server in nodes.Servers)
        {
            try
            {
                // One request per pair, so that each pair's results stay apart.
                for (var i = 0; i < pairs.Count; i++)
                {
                    results[i].AddRange(await nodes.SetAsync(server, checkOnly, [pairs[i]], ct).ConfigureAwait(false));
                }
            }
            catch (Exception ex) when (persistent && ex is Client.LustreException { IsTransient: true })
            {
                down++;
                if (!checkOnly)
                {
                    session.Error.WriteLine($"warning: set_param: {server.Description}: {ex.Message} (it applies the setting when it starts)");
                }
            }
            catch (Exception ex) when (ex is Client.LustreException or UnauthorizedAccessException or IOException)
            {
                ReportNode(session, "set_param", server, ex);
                exit = 1;
            }
        }

        for (var i = 0; i < pairs.Count; i++)
        {
            var (pattern, value) = pairs[i];
            var matched = results[i].Where(r => r.Status != LustreErrno.ENOENT || r.Name != pattern).ToList();
            if (matched.Count == 0)
            {
                if (persistent && down > 0)
                {
                    // It may be a parameter of a server that is down: stored, and applied when that server starts.
                    if (checkOnly)
                    {
                        session.Error.WriteLine($"warning: set_param: no server that answered has {pattern}; stored for the {down} that did not");
                    }

                    continue;
                }

                exit = Math.Max(exit, NoMatch(session, "set_param", pattern) ? 1 : 0);
                continue;
            }

            foreach (var result in matched)
            {
                if (result.Status == LustreErrno.None)
                {
                    if (printNames)
                    {
                        session.Out.WriteLine($"{result.Name}={value}");
                    }

                    continue;
                }

                // The parameter's own message names it; lctl's line has the name already.
                var reason = result.Message.StartsWith(result.Name + " ", StringComparison.Ordinal) ? result.Message[(result.Name.Length + 1)..] : result.Message;
                reason = reason.StartsWith("is ", StringComparison.Ordinal) ? reason[3..] : reason;
                session.Error.WriteLine($"error: set_param: setting {result.Name}={value}: {CliErrors.Describe(result.Status)} ({reason})");
                exit = Math.Max(exit, result.Status is LustreErrno.ERANGE or LustreErrno.EINVAL ? 2 : 1);
            }
        }

        return exit;
    }

    /// <summary>NAME=VALUE arguments, or NAME VALUE pairs as lctl also takes; with -d, names alone (NAME or NAME=).</summary>
    internal static IReadOnlyList<(string Pattern, string Value)> ParseSettings(IReadOnlyList<string> arguments, bool namesOnly)
    {
        var pairs = new List<(string, string)>();
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            if (namesOnly)
            {
                pairs.Add((equals < 0 ? argument : argument[..equals], string.Empty));
                continue;
            }

            if (equals > 0)
            {
                var value = argument[(equals + 1)..];
                pairs.Add(value.Length > 0
                    ? (argument[..equals], value)
                    : throw new ArgumentException($"setting {argument[..equals]}: Invalid argument (no value after '=')"));
            }
            else if (equals < 0 && i + 1 < arguments.Count)
            {
                pairs.Add((argument, arguments[++i]));
            }
            else
            {
                throw new ArgumentException($"setting {argument}: Invalid argument (expected NAME=VALUE)");
            }
        }

        return pairs;
    }

    private static void Print(TextWriter output, string name, string value, ParamEntryFlags flags, bool noName, bool onlyName, bool classify)
    {
        if (onlyName)
        {
            output.WriteLine(classify ? name + Suffix(flags) : name);
        }
        else if (noName)
        {
            // As lctl: an empty value prints nothing without its name.
            if (value.Length > 0)
            {
                output.WriteLine(value);
            }
        }
        else
        {
            // A value of several lines starts on a line of its own: "obdfilter.lustre-OST0000.stats=" then the lines.
            output.WriteLine(value.Contains('\n', StringComparison.Ordinal) ? $"{name}=\n{value}" : $"{name}={value}");
        }
    }

    private static string Suffix(ParamEntryFlags flags) =>
        (flags & ParamEntryFlags.Directory) != 0 ? "/" : (flags & ParamEntryFlags.Writable) != 0 ? "=" : string.Empty;

    /// <summary>lctl's error for a pattern that names nothing: the path form of the pattern.</summary>
    private static bool NoMatch(CliSession session, string command, string pattern)
    {
        session.Error.WriteLine($"error: {command}: param_path '{pattern.Replace('.', '/')}': No such file or directory");
        return true;
    }

    private static bool ReportNode(CliSession session, string command, ParameterNode server, Exception ex)
    {
        session.Error.WriteLine($"error: {command}: {server.Description}: {(ex is Client.LustreException { IsTransient: true } ? ex.Message : CliErrors.Reason(ex))}");
        return true;
    }

    private static IEnumerable<string> Split(string lines) => lines.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
