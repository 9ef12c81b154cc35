using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre lctl pool_new/pool_add/pool_remove/pool_destroy/pool_list</c>: OST pools, kept by the MGS, with lctl's
/// arguments (<c>FSNAME.POOL</c>, OST lists such as <c>lustre-OST[0-3/2]</c>), messages and refusals.
/// </summary>
internal static class PoolCommands
{
    private const string Tool = "lctl";

    public static IEnumerable<Command> Create() =>
    [
        Change("pool_new", "Create an empty OST pool: lctl pool_new FSNAME.POOL", withOsts: false, static (c, p, _, ct) => c.CreatePoolAsync(p, ct), "Pool {0} created"),
        Change("pool_add", "Add OSTs to a pool: lctl pool_add FSNAME.POOL OST... (OST0001, lustre-OST0001_UUID, lustre-OST[0-3/2])", withOsts: true, static (c, p, o, ct) => c.AddPoolOstAsync(p, o, ct), "OST {1} added to pool {0}"),
        Change("pool_remove", "Remove OSTs from a pool: lctl pool_remove FSNAME.POOL OST... (files keep their objects)", withOsts: true, static (c, p, o, ct) => c.RemovePoolOstAsync(p, o, ct), "OST {1} removed from pool {0}"),
        Change("pool_destroy", "Destroy an empty pool (remove its OSTs first): lctl pool_destroy FSNAME.POOL", withOsts: false, static (c, p, _, ct) => c.DestroyPoolAsync(p, ct), "Pool {0} destroyed"),
        List(Tool),
    ];

    /// <summary>
    /// One pool change per OST (or one for the pool), as lctl sends them: each refusal is reported and the rest still
    /// go, and lctl's confirmation of each (<c>OST lustre-OST0001_UUID added to pool lustre.flash</c>) goes to
    /// standard error, where lctl prints it.
    /// </summary>
    private static Command Change(string name, string description, bool withOsts, Func<LustreClient, string, int, CancellationToken, Task> change, string done)
    {
        var pool = new Argument<string>("FSNAME.POOL") { Description = "The filesystem and the pool, e.g. lustre.flash" };
        var osts = new Argument<string[]>("OST") { Description = "OSTs: OST0001, lustre-OST0001, lustre-OST0001_UUID, or ranges in hexadecimal: lustre-OST[0-3], OST[0,2,4-7/2]", Arity = ArgumentArity.OneOrMore };
        Symbol[] symbols = withOsts ? [pool, osts] : [pool];
        return ClientCommand.Create(Tool, name, description, symbols, async (session, parse, ct) =>
        {
            var fsName = session.Client.FsName;
            var poolName = ParsePool(parse.GetValue(pool)!, fsName, listing: false)!;
            var full = $"{fsName}.{poolName}";
            IReadOnlyList<int> indexes = withOsts ? ParseOsts(parse.GetValue(osts)!, fsName) : [-1];
            var exit = 0;
            foreach (var index in indexes)
            {
                var uuid = index < 0 ? string.Empty : TargetNames.Ost(fsName, index) + "_UUID";
                try
                {
                    await change(session.Client, poolName, index, ct).ConfigureAwait(false);
                    session.Error.WriteLine(string.Format(CultureInfo.InvariantCulture, done, full, uuid));
                }
                catch (LustreServerException ex) when (!ex.IsTransient)
                {
                    exit = session.Fail($"{ex.ServerMessage} ({CliErrors.Describe(ex.Errno)})");
                }
                catch (FileNotFoundException ex)
                {
                    // ENOENT (no such pool, OST not in the pool or the filesystem): "MGS: " and the MGS's words.
                    var colon = ex.Message.IndexOf(": ", StringComparison.Ordinal);
                    exit = session.Fail($"{ex.Message[(colon + 2)..]} ({CliErrors.Describe(LustreErrno.ENOENT)})");
                }
                catch (UnauthorizedAccessException ex)
                {
                    exit = session.Fail(full, ex);
                }
            }

            return exit;
        });
    }

    /// <summary><c>pool_list</c> of <paramref name="tool"/>: lctl's, and lfs's, which prints the same.</summary>
    public static Command List(string tool)
    {
        var target = new Argument<string>("FSNAME[.POOL]") { Description = "The filesystem (lists its pools) or one pool (lists its OSTs)" };
        return ClientCommand.Create(tool, "pool_list", $"List the pools of a filesystem, or the OSTs of one pool: {tool} pool_list FSNAME[.POOL]", [target], async (session, parse, ct) =>
        {
            var fsName = session.Client.FsName;
            var poolName = ParsePool(parse.GetValue(target)!, fsName, listing: true);
            var pools = await session.Client.GetPoolsAsync(ct).ConfigureAwait(false);
            if (poolName is null)
            {
                session.Out.WriteLine($"Pools from {fsName}:");
                foreach (var pool in pools)
                {
                    session.Out.WriteLine($"{fsName}.{pool.Name}");
                }

                return 0;
            }

            if (pools.FirstOrDefault(p => p.Name == poolName) is not { } found)
            {
                return session.Fail($"pool {fsName}.{poolName} not found ({CliErrors.Describe(LustreErrno.ENOENT)})");
            }

            session.Out.WriteLine($"Pool: {fsName}.{poolName}");
            foreach (var index in found.OstIndexes)
            {
                session.Out.WriteLine(TargetNames.Ost(fsName, index) + "_UUID");
            }

            return 0;
        });
    }

    /// <summary>
    /// Reads <c>FSNAME.POOL</c> as lctl does (parse_pool_cmd_args, then the MGS's name check); for pool_list
    /// (<paramref name="listing"/>) the pool may be left out, and null is returned then.
    /// </summary>
    /// <exception cref="FormatException">No pool where one is needed, a filesystem other than the cluster's, or a bad pool name.</exception>
    internal static string? ParsePool(string text, string fsName, bool listing)
    {
        var dot = text.IndexOf('.', StringComparison.Ordinal);
        if (dot < 0 && !listing)
        {
            throw new FormatException($"'{text}' is not FSNAME.POOL: name the pool with its filesystem, e.g. {fsName}.flash");
        }

        var fs = dot < 0 ? text : text[..dot];
        if (fs != fsName)
        {
            throw new FormatException($"'{text}': the filesystem is '{fsName}', not '{fs}'");
        }

        if (dot < 0)
        {
            return null;
        }

        var pool = text[(dot + 1)..];
        return PoolName.Check(pool) is { } error ? throw new FormatException(error) : pool;
    }

    /// <summary>
    /// Reads lctl's OST lists (extract_ost_list): each argument is an OST name, <c>OSTXXXX</c> with
    /// <c>FSNAME-</c> before it and <c>_UUID</c> after it optional, in which one <c>[...]</c> may stand for the four
    /// hexadecimal digits: a comma-separated list of <c>N</c>, <c>N-M</c> and <c>N-M/STEP</c>, all hexadecimal as
    /// in lctl (<c>lustre-OST[0-3/2]</c> is OST0000 and OST0002). Duplicates are kept, as lctl keeps them.
    /// </summary>
    /// <exception cref="FormatException">An argument is not an OST name of this filesystem, or a range is malformed; the message names it.</exception>
    internal static IReadOnlyList<int> ParseOsts(IEnumerable<string> arguments, string fsName)
    {
        var indexes = new List<int>();
        foreach (var argument in arguments)
        {
            var open = argument.IndexOf('[', StringComparison.Ordinal);
            var close = argument.IndexOf(']', StringComparison.Ordinal);
            if (open < 0 || close < open)
            {
                indexes.Add(ParseOstName(argument, argument, fsName));
                continue;
            }

            var prefix = argument[..open];
            var suffix = argument[(close + 1)..];
            foreach (var index in ParseRanges(argument, argument[(open + 1)..close]))
            {
                indexes.Add(ParseOstName(argument, string.Create(CultureInfo.InvariantCulture, $"{prefix}{index:x4}{suffix}"), fsName));
            }
        }

        return indexes;
    }

    private static IEnumerable<int> ParseRanges(string argument, string ranges)
    {
        var indexes = new List<int>();
        foreach (var range in ranges.Split(','))
        {
            var slash = range.IndexOf('/', StringComparison.Ordinal);
            var step = 1;
            if (slash >= 0 && (!int.TryParse(range.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out step) || step == 0))
            {
                throw new FormatException($"Wrong format for OST list: bad step in '{argument}'");
            }

            var bounds = (slash >= 0 ? range[..slash] : range).Split('-');
            if (bounds.Length > 2 || !TryParseHex(bounds[0], out var low) || !TryParseHex(bounds[^1], out var high) || high < low)
            {
                throw new FormatException($"Wrong format for OST list: bad range '{range}' in '{argument}' (hexadecimal N, N-M or N-M/STEP, N at most M)");
            }

            for (var i = low; i <= high; i += step)
            {
                indexes.Add(i);
            }
        }

        return indexes;
    }

    private static bool TryParseHex(string text, out int value) =>
        int.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && value <= 0xFFFF;

    /// <summary>As lctl's check_and_complete_ostname: <c>[FSNAME-]OSTXXXX[_UUID]</c>, four hexadecimal digits.</summary>
    private static int ParseOstName(string argument, string name, string fsName)
    {
        var rest = name;
        if (rest.StartsWith(fsName + "-", StringComparison.Ordinal))
        {
            rest = rest[(fsName.Length + 1)..];
        }
        else if (rest.Contains('-', StringComparison.Ordinal))
        {
            throw new FormatException($"Wrong format for OST list: {name} does not start with fsname {fsName}");
        }

        if (rest.EndsWith("_UUID", StringComparison.Ordinal))
        {
            rest = rest[..^5];
        }

        if (!rest.StartsWith("OST", StringComparison.Ordinal) || rest.Length != 7
            || !int.TryParse(rest.AsSpan(3), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var index))
        {
            throw new FormatException($"Wrong format for OST list: '{(argument == name ? name : $"{name}' (from '{argument}')")}' is not [{fsName}-]OSTXXXX[_UUID], XXXX the index in hexadecimal");
        }

        return index;
    }
}
