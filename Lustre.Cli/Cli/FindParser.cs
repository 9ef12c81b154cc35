using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Namespace;

namespace Lustre.Cli;

/// <summary>
/// Reads <c>lfs find</c>'s arguments as lfs reads them (getopt_long_only over lfs's own option table): long options
/// with one dash or two (<c>-name</c>, <c>--name</c>, <c>-name=GLOB</c>), unique abbreviations of them (<c>-maxd</c>),
/// short options (<c>-n GLOB</c>, <c>-nGLOB</c>), <c>!</c> before an option to negate it, and the paths before or
/// after the options, not between them. Options of lfs find that are not implemented here are known by name and
/// refused as such, so abbreviations and ambiguities are lfs's.
/// </summary>
internal static class FindParser
{
    private delegate void Apply(FindQuery query, string option, string value, bool negated, DateTimeOffset now);

    /// <summary>One entry of lfs find's option table; <see cref="Apply"/> null: lfs has it, this command does not.</summary>
    private sealed record Spec(string Name, char Short, bool HasArgument, Apply? Apply, string? Unsupported = null);

    private static readonly Spec[] Specs = CreateSpecs();

    private static readonly Dictionary<char, Spec> ShortOptions = CreateShortOptions();

    /// <summary>Parses <paramref name="arguments"/>; times (<c>--mtime 2</c>) count back from <paramref name="now"/>.</summary>
    /// <exception cref="FindUsageException">An unknown, ambiguous, unsupported or misplaced option or path.</exception>
    /// <exception cref="FormatException">An option's value is not valid.</exception>
    public static FindQuery Parse(IReadOnlyList<string> arguments, DateTimeOffset now)
    {
        var query = new FindQuery();
        var negate = false;
        var paths = PathState.None;
        for (var i = 0; i < arguments.Count; i++)
        {
            var token = arguments[i];
            if (token == "--")
            {
                // As getopt: everything after "--" is a path.
                query.Roots.AddRange(arguments.Skip(i + 1));
                break;
            }

            if (token == "!")
            {
                paths = paths == PathState.Reading ? PathState.Done : paths;
                negate = true;
                continue;
            }

            if (token.Length < 2 || token[0] != '-')
            {
                if (paths == PathState.Done)
                {
                    throw new FindUsageException($"'{token}': filename|dirname must either precede options or follow options");
                }

                paths = PathState.Reading;
                query.Roots.Add(token);
                continue;
            }

            paths = paths == PathState.Reading ? PathState.Done : paths;
            if (token.StartsWith("--", StringComparison.Ordinal))
            {
                ParseLong(query, arguments, ref i, token[2..], shortFallback: false, negate, now);
            }
            else if (token.Length == 2 && ShortOptions.ContainsKey(token[1]))
            {
                // As getopt_long_only: "-f" is the short option f, never an abbreviation of a long option starting with f.
                ParseShort(query, arguments, ref i, negate, now);
            }
            else
            {
                ParseLong(query, arguments, ref i, token[1..], shortFallback: true, negate, now);
            }

            negate = false;
        }

        if (query.Roots.Count == 0)
        {
            throw new FindUsageException("no filename|pathname");
        }

        if (query.MinDepth > query.MaxDepth)
        {
            throw new FindUsageException(string.Create(CultureInfo.InvariantCulture, $"mindepth {query.MinDepth} > maxdepth {query.MaxDepth}"));
        }

        return query;
    }

    private enum PathState
    {
        None,
        Reading,
        Done,
    }

    private static void ParseLong(FindQuery query, IReadOnlyList<string> arguments, ref int i, string body, bool shortFallback, bool negate, DateTimeOffset now)
    {
        var token = arguments[i];
        var equals = body.IndexOf('=', StringComparison.Ordinal);
        var name = equals < 0 ? body : body[..equals];
        var spec = Array.Find(Specs, s => s.Name == name);
        if (spec is null)
        {
            var candidates = Array.FindAll(Specs, s => s.Name.StartsWith(name, StringComparison.Ordinal));
            if (candidates.Length > 1 && name.Length > 0)
            {
                var dashes = token[..(token.Length - body.Length)];
                throw new FindUsageException($"option '{token}' is ambiguous; possibilities: {string.Join(' ', candidates.Select(c => $"'{dashes}{c.Name}'"))}");
            }

            if (candidates.Length == 1 && name.Length > 0)
            {
                spec = candidates[0];
            }
            else if (shortFallback && ShortOptions.ContainsKey(body[0]))
            {
                ParseShort(query, arguments, ref i, negate, now);
                return;
            }
            else
            {
                throw new FindUsageException($"unrecognized option '{token}'");
            }
        }

        string value;
        if (!spec.HasArgument)
        {
            if (equals >= 0)
            {
                throw new FindUsageException($"option '{token[..(token.Length - body.Length + equals)]}' doesn't allow an argument");
            }

            value = string.Empty;
        }
        else if (equals >= 0)
        {
            value = body[(equals + 1)..];
        }
        else if (i + 1 < arguments.Count)
        {
            value = arguments[++i];
        }
        else
        {
            throw new FindUsageException($"option '{token}' requires an argument");
        }

        Run(spec, query, token, value, negate, now);
    }

    /// <summary>Short options, bundled as getopt allows (<c>-0P</c>) and with their value attached (<c>-t</c><c>f</c>, <c>-tf</c>) or next.</summary>
    private static void ParseShort(FindQuery query, IReadOnlyList<string> arguments, ref int i, bool negate, DateTimeOffset now)
    {
        var token = arguments[i];
        for (var j = 1; j < token.Length; j++)
        {
            if (!ShortOptions.TryGetValue(token[j], out var spec))
            {
                throw new FindUsageException($"invalid option -- '{token[j]}'");
            }

            if (!spec.HasArgument)
            {
                Run(spec, query, $"-{token[j]}", string.Empty, negate, now);
                continue;
            }

            string value;
            if (j + 1 < token.Length)
            {
                value = token[(j + 1)..];
            }
            else if (i + 1 < arguments.Count)
            {
                value = arguments[++i];
            }
            else
            {
                throw new FindUsageException($"option requires an argument -- '{token[j]}'");
            }

            Run(spec, query, $"-{token[j]}", value, negate, now);
            return;
        }
    }

    /// <param name="token">The option as the user wrote it, for messages.</param>
    private static void Run(Spec spec, FindQuery query, string token, string value, bool negate, DateTimeOffset now)
    {
        if (spec.Apply is null)
        {
            var named = token.TrimStart('-') == spec.Name ? $"'{token}'" : $"'{token}' (--{spec.Name})";
            throw new FindUsageException($"{named} of lfs find is not supported here{(spec.Unsupported is null ? string.Empty : ": " + spec.Unsupported)}");
        }

        spec.Apply(query, spec.Name, value, negate, now);
    }

    private static Spec[] CreateSpecs()
    {
        List<Spec> specs =
        [
            new("atime", 'A', true, (q, o, v, n, now) => AddTime(q, o, v, n, now, static i => i.LastAccessTime)),
            new("attrs", '\0', true, null, "no file attributes (chattr) are kept"),
            new("blocks", 'b', true, null),
            new("btime", 'B', true, null, BirthTime),
            new("Btime", 'B', true, null, BirthTime),
            new("crtime", 'B', true, null, BirthTime),
            new("comp-count", '\0', true, AddComponentCount),
            new("component-count", '\0', true, AddComponentCount),
            new("comp-flags", '\0', true, null),
            new("component-flags", '\0', true, null),
            new("comp-start", '\0', true, null),
            new("component-start", '\0', true, null),
            new("mirror-state", '\0', true, AddMirrorState),
            new("newer", '\0', true, AddNewer),
        ];
        foreach (var x in "amcbB")
        {
            foreach (var y in x == 'B' ? "amcBt" : "amcbt")
            {
                specs.Add(new($"newer{x}{y}", '\0', true, AddNewer));
            }
        }

        specs.AddRange(
        [
            new("stripe-count", 'c', true, AddStripeCount),
            new("stripe_count", 'c', true, AddStripeCount),
            new("ctime", 'C', true, (q, o, v, n, now) => AddTime(q, o, v, n, now, static i => i.ChangeTime)),
            new("mindepth", 'd', true, static (q, _, v, _, _) => q.MinDepth = (int)Math.Min(ParseUnsigned(v, "mindepth", 2048), int.MaxValue)),
            new("maxdepth", 'D', true, static (q, _, v, _, _) => q.MaxDepth = (int)Math.Min(ParseUnsigned(v, "maxdepth", long.MaxValue), int.MaxValue)),
            new("comp-end", 'E', true, null),
            new("component-end", 'E', true, null),
            new("foreign", '\0', true, null, "there are no foreign layouts"),
            new("gid", 'g', true, AddGroup),
            new("group", 'G', true, AddGroup),
            new("help", 'h', false, static (_, _, _, _, _) => throw new FindUsageException("see 'lustre lfs find --help'")),
            new("mdt-hash", 'H', true, null, "there is one MDT and no striped directories"),
            new("stripe-index", 'i', true, AddOst),
            new("stripe_index", 'i', true, AddOst),
            new("skip", 'k', true, null),
            new("lazy", 'l', false, static (_, _, _, _, _) => { }),
            new("layout", 'L', true, AddLayout),
            new("links", '\0', true, null),
            new("ls", '\0', false, null),
            new("mdt", 'm', true, null, "there is one MDT"),
            new("mdt-index", 'm', true, null, "there is one MDT"),
            new("mdt_index", 'm', true, null, "there is one MDT"),
            new("mtime", 'M', true, (q, o, v, n, now) => AddTime(q, o, v, n, now, static i => i.LastWriteTime)),
            new("name", 'n', true, AddName),
            new("mirror-count", 'N', true, AddMirrorCount),
            new("obd", 'O', true, AddOst),
            new("ost", 'O', true, AddOst),
            new("perm", '\0', true, null),
            new("pool", '\0', true, AddPool),
            new("print0", '0', false, static (q, _, _, _, _) => q.Separator = '\0'),
            new("threads", '\0', true, null),
            new("print", 'P', false, static (_, _, _, _, _) => { }),
            new("printf", '\0', true, null),
            new("projid", '\0', true, null, "there are no project ids"),
            new("size", 's', true, AddSize),
            new("stripe-size", 'S', true, null),
            new("stripe_size", 'S', true, null),
            new("type", 't', true, AddType),
            new("mdt-count", 'T', true, null, "there is one MDT"),
            new("uid", 'u', true, AddUser),
            new("user", 'U', true, AddUser),
            new("xattr", '\0', true, null, "no extended attributes are kept"),
            new("extension-size", 'z', true, null, "there are no self-extending layouts"),
            new("ext-size", 'z', true, null, "there are no self-extending layouts"),
        ]);
        return [.. specs];
    }

    private const string BirthTime = "no birth time is kept";

    private static Dictionary<char, Spec> CreateShortOptions()
    {
        var map = new Dictionary<char, Spec>();
        foreach (var spec in Specs)
        {
            if (spec.Short != '\0')
            {
                map.TryAdd(spec.Short, spec);
            }
        }

        return map;
    }

    private static void AddName(FindQuery query, string option, string value, bool negated, DateTimeOffset now) =>
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: false, e => GlobPattern.Matches(value, e.Name)));

    private static void AddType(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        // lfs reads the first letter; only files and directories exist here, so b, c, l, p and s match nothing.
        var kind = value.Length > 0 ? value[0] : ' ';
        if (kind is not ('b' or 'c' or 'd' or 'f' or 'l' or 'p' or 's'))
        {
            throw new FormatException($"bad type '{value}': use f (file) or d (directory); b, c, l, p and s are accepted and match nothing here");
        }

        query.Tests.Add(new FindTest(option, negated, NeedsInfo: false, e => kind == 'd' ? e.IsDirectory : kind == 'f' && !e.IsDirectory));
    }

    /// <summary>As lfs: a size without a unit counts 512-byte blocks; c bytes, b blocks, k M G T P E powers of 1024.</summary>
    private static void AddSize(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var (sign, text) = SplitSign(value);
        if (!TryParseSize(text, defaultUnit: 512, out var bytes, out var unit))
        {
            throw new FormatException($"bad file size '{value}': use [+-]N[ckMGTPE] (N without a unit counts 512-byte blocks, as in lfs; c is bytes)");
        }

        // +N: more than N units; -N: N units or less after rounding up; N: N units after rounding up.
        var compare = new FindValue(-sign, bytes, unit);
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => compare.Matches(e.Attributes.Length)));
    }

    /// <summary>Stripe count of the last instantiated component (a directory: of its default layout, 0 without one), as lfs.</summary>
    private static void AddStripeCount(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var compare = ParseCount(value, "stripe_count", LayoutDefaults.MaxStripeCount);
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => compare.Matches(StripeCountOf(e))));
    }

    private static long StripeCountOf(FindEntry entry)
    {
        if (entry.Layout is not { } layout)
        {
            return 0;
        }

        if (entry.Attributes.IsDirectory)
        {
            // A directory's default is a template: lfs shows a plain one's count, and a composite one has no instantiated component.
            return layout.IsComposite ? 0 : (ushort)layout.Components[0].StripeCount;
        }

        long count = 0;
        foreach (var item in LayoutEntry.Of(layout))
        {
            if (item.Component.IsInstantiated)
            {
                count = item.Component.StripeCount;
            }
        }

        return count;
    }

    private static void AddComponentCount(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var compare = ParseCount(value, "component count", uint.MaxValue);
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => compare.Matches(e.Layout is { IsComposite: true } layout ? LayoutEntry.Count(layout) : 0)));
    }

    /// <summary>As lfs: only a composite layout (PFL or mirrored) has a mirror count; a plain one fails the test, negated or not.</summary>
    private static void AddMirrorCount(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var compare = ParseCount(value, "mirror count", ushort.MaxValue);
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => e.Layout is { IsComposite: true } layout ? compare.Matches(layout.MirrorCount) : null));
    }

    private static void AddMirrorState(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var state = MirrorState.Parse(value);
        var not = state.Negated ^ negated;
        query.Tests.Add(new FindTest(option, Negated: false, NeedsInfo: true, e =>
        {
            if (e.Layout is not { IsComposite: true } layout)
            {
                return null;
            }

            var actual = e.Attributes.IsDirectory || !layout.IsMirrored ? string.Empty : MirrorState.Of(layout);
            return not ? actual != state.State : actual == state.State;
        }));
    }

    /// <summary>Files with an object on one of the OSTs (instantiated components only); a directory fails the test, negated or not.</summary>
    private static void AddOst(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var osts = new HashSet<int>();
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = item.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(item.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var first)
                && int.TryParse(item.AsSpan(dash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var last))
            {
                for (var ost = first; ost <= last && ost <= 0xFFFF; ost++)
                {
                    osts.Add(ost);
                }

                continue;
            }

            try
            {
                osts.Add(LctlCommands.ParseOst(item));
            }
            catch (ArgumentException ex)
            {
                throw new FormatException($"bad OST '{item}' in '{value}': {ex.Message}", ex);
            }
        }

        if (osts.Count == 0)
        {
            throw new FormatException($"no OST in '{value}': give indexes (0,2-3) or names (OST0002, lustre-OST0002_UUID)");
        }

        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e =>
        {
            if (e.Attributes.IsDirectory || e.Layout is not { } layout)
            {
                return e.Attributes.IsDirectory ? null : false;
            }

            foreach (var item in LayoutEntry.Of(layout))
            {
                foreach (var obj in item.Component.Objects)
                {
                    if (osts.Contains(obj.OstIndex))
                    {
                        return true;
                    }
                }
            }

            return false;
        }));
    }

    /// <summary>
    /// As lfs (find_check_pool): a file with an instantiated component in the pool (a directory: a component of its
    /// default layout); <c>''</c> matches components without a pool, <c>*</c> those with any. A pool name may carry
    /// its filesystem (<c>lustre.flash</c>). An entry without a layout fails the test, negated or not.
    /// </summary>
    private static void AddPool(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var pool = value[(value.IndexOf('.', StringComparison.Ordinal) + 1)..];
        if (pool is not ("" or "*") && PoolName.Check(pool) is { } error)
        {
            throw new FormatException($"invalid pool name '{value}': {error}");
        }

        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e =>
        {
            if (e.Layout is not { } layout)
            {
                return null;
            }

            foreach (var item in LayoutEntry.Of(layout))
            {
                if ((e.Attributes.IsDirectory || item.Component.IsInstantiated)
                    && (pool == "*" ? item.Component.Pool is not null : (item.Component.Pool ?? string.Empty) == pool))
                {
                    return true;
                }
            }

            return false;
        }));
    }

    /// <summary>Numeric ids only: names would be the client's name service, which lfs asks and this command does not.</summary>
    private static void AddUser(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var id = ParseId(value, "username/UID");
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => e.Attributes.UserId == id));
    }

    private static void AddGroup(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var id = ParseId(value, "group/GID");
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => e.Attributes.GroupId == id));
    }

    private static uint ParseId(string value, string what) =>
        TryParseUnsigned(value, out var id, out var rest) && rest.Length == 0 && id <= uint.MaxValue
            ? (uint)id
            : throw new FormatException($"invalid {what} '{value}': give a number (user and group names are not resolved here)");

    /// <summary>
    /// <c>--layout raid0[,mdt,...]</c>: as lfs, an entry matches when a component of its layout has a pattern of the
    /// list: raid0 (or default) matches every layout with an OST-striped component, mdt those with a Data-on-MDT one;
    /// Lustre's other patterns (released, overstriping, ...) are accepted and match nothing. Entries without a layout
    /// fail the test, negated or not, as in lfs.
    /// </summary>
    private static void AddLayout(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        string[] names = ["bad", "raid0", "raid1", "parity", "mdt", "overstriped", "overstriping", "foreign", "compress", "hole", "released", "default"];
        var raid0 = false;
        var mdt = false;
        foreach (var item in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = Array.Find(names, n => item.StartsWith(n, StringComparison.Ordinal))
                ?? throw new FormatException($"bad layout '{item}': use {string.Join(", ", names)}");
            raid0 |= name is "raid0" or "default";
            mdt |= name == "mdt";
        }

        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => e.Layout is not { } layout
            ? null
            : (raid0 && layout.Components.Any(c => !c.IsOnMdt)) || (mdt && layout.HasDataOnMdt)));
    }

    /// <summary>
    /// <c>--atime</c>, <c>--ctime</c>, <c>--mtime</c> <c>[+-]N[smhdwy]</c>, parts summed (<c>1d12h</c>): +N more than N
    /// ago, -N less, N within one unit of it (the smallest unit given, days without one), in whole seconds as lfs.
    /// </summary>
    private static void AddTime(FindQuery query, string option, string value, bool negated, DateTimeOffset now, Func<LustreFileInfo, DateTimeOffset> time)
    {
        var (sign, text) = SplitSign(value);
        var nowSeconds = now.ToUnixTimeSeconds();
        long total = 0;
        long margin = 24 * 3600;
        var rest = text.AsSpan();
        do
        {
            if (!TryParseSigned(rest, out var amount, out var after))
            {
                throw new FormatException($"bad time string '{value}': use [+-]N[smhdwy], e.g. -2h or +1d12h");
            }

            long unit = after.IsEmpty ? 24 * 3600 : after[0] switch
            {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 24 * 3600,
                'w' => 7 * 24 * 3600,
                'y' => 365 * 24 * 3600,
                _ => throw new FormatException($"bad time string '{value}': unknown unit '{after[0]}' (use s, m, h, d, w or y)"),
            };
            if (!after.IsEmpty)
            {
                margin = Math.Min(margin, unit);
                after = after[1..];
            }

            total = checked(total + (amount * unit));
            rest = after;
        }
        while (!rest.IsEmpty);

        if (total > nowSeconds)
        {
            throw new FormatException($"bad time '{value}': too large");
        }

        var compare = new FindValue(sign, nowSeconds - total, margin);
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => compare.Matches(time(e.Attributes).ToUnixTimeSeconds())));
    }

    /// <summary>
    /// <c>--newer REF</c> (the modification time of REF) and find(1)'s <c>--newerXY REF</c>: entries whose time X
    /// (a, m, c) is later than REF's time Y (a, m, c), or than the date REF when Y is t.
    /// </summary>
    private static void AddNewer(FindQuery query, string option, string value, bool negated, DateTimeOffset now)
    {
        var (x, y) = option.Length == 7 ? (option[5], option[6]) : ('m', 'm');
        if (x is 'b' or 'B' || y is 'b' or 'B')
        {
            throw new FindUsageException($"'--{option}' of lfs find is not supported here: {BirthTime}");
        }

        var reference = new FindReference(value, y);
        if (y == 't')
        {
            reference.Set(ParseDate(value));
        }
        else
        {
            query.References.Add(reference);
        }

        Func<LustreFileInfo, DateTimeOffset> time = x switch
        {
            'a' => static i => i.LastAccessTime,
            'c' => static i => i.ChangeTime,
            _ => static i => i.LastWriteTime,
        };
        query.Tests.Add(new FindTest(option, negated, NeedsInfo: true, e => time(e.Attributes).ToUnixTimeSeconds() > reference.Seconds));
    }

    /// <summary>The dates lfs accepts after <c>--newerXt</c>, in local time; a time alone is today.</summary>
    private static long ParseDate(string value)
    {
        var text = value.Trim();
        if (text.StartsWith('@'))
        {
            text = text[1..];
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var epoch))
        {
            return epoch;
        }

        string[] formats = ["yyyy-M-d H:m:s", "yyyy-M-d H:m", "yyyy-M-d", "H:m:s", "H:m"];
        return DateTime.TryParseExact(value.Trim(), formats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeLocal | DateTimeStyles.AllowInnerWhite, out var date)
            ? new DateTimeOffset(date.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(date, DateTimeKind.Local) : date).ToUnixTimeSeconds()
            : throw new FormatException($"invalid time '{value}': supported formats are 'YYYY-MM-DD HH:MM:SS', 'YYYY-MM-DD HH:MM', 'YYYY-MM-DD', 'HH:MM:SS', 'HH:MM', '@SECONDS', 'SECONDS'");
    }

    /// <summary>A count as lfs reads it (base 0: 0x10, 010, 16), with +N more than, -N fewer than, N exactly.</summary>
    private static FindValue ParseCount(string value, string what, long max)
    {
        var (sign, text) = SplitSign(value);
        return TryParseUnsigned(text, out var count, out var rest) && rest.Length == 0 && count <= max
            ? new FindValue(-sign, count, 1)
            : throw new FormatException($"bad {what} '{value}'");
    }

    private static long ParseUnsigned(string value, string what, long max) =>
        TryParseUnsigned(value, out var number, out var rest) && rest.Length == 0 && number <= max
            ? number
            : throw new FormatException($"bad {what} '{value}'");

    private static (int Sign, string Digits) SplitSign(string text) => text.Length > 0 && text[0] is '+' or '-'
        ? (text[0] == '+' ? 1 : -1, text[1..])
        : (0, text);

    /// <summary>
    /// llapi_parse_size: a number (base 0, with an optional decimal fraction) and an optional unit letter, c bytes, b
    /// 512-byte blocks, k M G T P E powers of 1024, optionally followed by i or b (<c>4MiB</c>, <c>4MB</c>).
    /// </summary>
    internal static bool TryParseSize(string text, long defaultUnit, out long bytes, out long unit)
    {
        bytes = 0;
        unit = defaultUnit;
        if (!TryParseUnsigned(text, out var whole, out var rest))
        {
            return false;
        }

        long fraction = 0, divisor = 1;
        if (rest.StartsWith('.'))
        {
            var digits = 0;
            while (digits + 1 < rest.Length && char.IsAsciiDigit(rest[digits + 1]) && digits < 18)
            {
                fraction = (fraction * 10) + (rest[digits + 1] - '0');
                divisor *= 10;
                digits++;
            }

            rest = rest[(digits + 1)..];
        }

        if (rest.Length > 0)
        {
            unit = char.ToLowerInvariant(rest[0]) switch
            {
                'c' => 1,
                'b' => 512,
                'k' => 1L << 10,
                'm' => 1L << 20,
                'g' => 1L << 30,
                't' => 1L << 40,
                'p' => 1L << 50,
                'e' => 1L << 60,
                _ => 0,
            };
            if (unit == 0 || (rest.Length > 1 && char.ToLowerInvariant(rest[1]) is not ('i' or 'b')))
            {
                return false;
            }
        }

        try
        {
            bytes = checked((whole * unit) + (fraction * unit / divisor));
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }

    /// <summary>strtoul with base 0: 0x hexadecimal, a leading 0 octal, else decimal; <paramref name="rest"/> is what follows the digits.</summary>
    private static bool TryParseUnsigned(string text, out long value, out string rest)
    {
        var ok = TryParseSigned(text.AsSpan(), out value, out var after) && !text.StartsWith('-') && !text.StartsWith('+');
        rest = after.ToString();
        return ok;
    }

    private static bool TryParseSigned(ReadOnlySpan<char> text, out long value, out ReadOnlySpan<char> rest)
    {
        value = 0;
        rest = text;
        var negative = false;
        if (text.Length > 0 && text[0] is '+' or '-')
        {
            negative = text[0] == '-';
            text = text[1..];
        }

        var radix = 10;
        if (text.Length > 1 && text[0] == '0' && text[1] is 'x' or 'X' && text.Length > 2 && char.IsAsciiHexDigit(text[2]))
        {
            radix = 16;
            text = text[2..];
        }
        else if (text.Length > 1 && text[0] == '0')
        {
            radix = 8;
        }

        var digits = 0;
        try
        {
            while (digits < text.Length)
            {
                var digit = char.IsAsciiDigit(text[digits]) ? text[digits] - '0'
                    : char.IsAsciiHexDigit(text[digits]) ? char.ToLowerInvariant(text[digits]) - 'a' + 10
                    : int.MaxValue;
                if (digit >= radix)
                {
                    break;
                }

                value = checked((value * radix) + digit);
                digits++;
            }
        }
        catch (OverflowException)
        {
            return false;
        }

        if (digits == 0)
        {
            return false;
        }

        value = negative ? -value : value;
        rest = text[digits..];
        return true;
    }
}

/// <summary>The arguments of lfs find do not parse (an unknown option, paths among the options): exit 1, as getopt's errors.</summary>
internal sealed class FindUsageException(string message) : Exception(message);
