using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>
/// The layout options of <c>lfs setstripe</c> and <c>lfs migrate</c>: <c>-c</c>, <c>-S</c>, <c>-i</c>, <c>-p</c> and,
/// for a composite (PFL) layout, <c>-E END</c> starting each component, as in <c>-E 4M -c 1 -E 1G -c 4 -E -1 -c -1</c>;
/// <c>-L mdt</c> makes the first component Data-on-MDT, as in <c>-E 64K -L mdt -E -1 -c -1</c>.
/// </summary>
internal sealed class LayoutOptions
{
    public LayoutOptions()
    {
        // Arrays, because -c/-S/-i repeat once per -E component.
        StripeCount = new Option<string[]>("--stripe-count", "-c") { Description = "Number of OSTs to stripe over (-1: all; 0: the default, inherited when a file is created)", HelpName = "COUNT" };
        StripeSize = new Option<string[]>("--stripe-size", "-S") { Description = "Bytes per stripe, a multiple of 64K (K/M/G suffixes; 0: the default, inherited when a file is created)", HelpName = "SIZE" };
        StripeIndex = new Option<string[]>("--stripe-index", "-i") { Description = "OST index of the first stripe (-1: the default, inherited or chosen by the allocator)", HelpName = "INDEX" };
        ComponentEnd = new Option<string[]>("--component-end", "-E") { Description = "End of a composite layout component (K/M/G, -1 or eof for the end of file)", HelpName = "END" };
        Pool = new Option<string[]>("--pool", "-p") { Description = "OST pool to place the objects in (lctl pool_new); '' or inherit: none", HelpName = "POOL" };
        Pattern = new Option<string[]>("--layout", "-L") { Description = "Component pattern: mdt (Data-on-MDT: the first component's bytes live on the MDT, up to its -E end) or raid0 (the default)", HelpName = "PATTERN" };
    }

    public Option<string[]> StripeCount { get; }

    public Option<string[]> StripeSize { get; }

    public Option<string[]> StripeIndex { get; }

    public Option<string[]> ComponentEnd { get; }

    public Option<string[]> Pool { get; }

    /// <summary><c>-L mdt|raid0</c>: the pattern of the component being described.</summary>
    public Option<string[]> Pattern { get; }

    public IEnumerable<Symbol> Symbols => [StripeCount, StripeSize, StripeIndex, ComponentEnd, Pool, Pattern];

    /// <summary>True when any layout option was given.</summary>
    public bool AnyGiven(ParseResult parse) =>
        parse.GetResult(StripeCount) is not null || parse.GetResult(StripeSize) is not null
        || parse.GetResult(StripeIndex) is not null || parse.GetResult(ComponentEnd) is not null || parse.GetResult(Pool) is not null
        || parse.GetResult(Pattern) is not null;

    /// <summary>
    /// Builds the layout from the options in command-line order. Unset values of a component are taken from the
    /// component before it, as lfs does; those the first leaves unset stay 0 (the default), which the MDS fills in when
    /// a file is created: from the directories above it, then the filesystem's default.
    /// </summary>
    /// <exception cref="FormatException">A value is not a number or size, or a stripe size is not a multiple of 64 KiB.</exception>
    public FileLayout Build(ParseResult parse) => Build(parse.Tokens, 0, parse.Tokens.Count, new Inherited());

    /// <summary>
    /// The components of <c>lfs setstripe --component-add</c>: each <c>-E</c> starts one, the first at
    /// <paramref name="start"/> (where the file's layout ends), as lfs does.
    /// </summary>
    /// <exception cref="FormatException">A value is bad (a missing <c>-E</c> is refused before: ComponentOptions.UsageError).</exception>
    public IReadOnlyList<LayoutComponent> BuildComponents(ParseResult parse, long start)
    {
        // Without -E the command was refused before this (ComponentOptions.UsageError).
        var segments = Segments(parse.Tokens, 0, parse.Tokens.Count, out _);
        if (segments.Exists(s => s.OnMdt))
        {
            throw new FormatException("'mdt' layout can be only the first one: a Data-on-MDT component starts at 0, and --component-add appends after the last");
        }

        return Components(segments, start, new Inherited());
    }

    /// <summary>
    /// Builds one layout from the layout options among <c>tokens[from..to)</c> (one mirror's, for <c>-N</c>): unset
    /// values come from <paramref name="inherited"/>, which then holds this layout's last stripe count, size and pool,
    /// as lfs carries them from one component to the next and from one mirror to the next. The stripe index is not carried.
    /// </summary>
    /// <exception cref="FormatException">A value is not a number or size, or a stripe size is not a multiple of 64 KiB.</exception>
    public FileLayout Build(IReadOnlyList<Token> tokens, int from, int to, Inherited inherited)
    {
        var segments = Segments(tokens, from, to, out var sawEnd);
        if (!sawEnd)
        {
            var current = segments[0];
            if (current.OnMdt)
            {
                throw new FormatException("-L mdt needs -E END: a Data-on-MDT component is the first component of a composite layout, e.g. -E 64K -L mdt -E -1 -c -1");
            }

            inherited.Size = current.Size ?? inherited.Size;
            inherited.Count = CheckCount(current.Count ?? inherited.Count);
            inherited.Pool = current.Pool ?? inherited.Pool;
            return FileLayout.Raid0(inherited.Size, inherited.Count, current.Index ?? -1, inherited.Pool.Name);
        }

        // As lfs: the last component may end before EOF (writes past it fail until --component-add extends the file).
        return FileLayout.Composite(Components(segments, 0, inherited));
    }

    /// <summary>The option values among <c>tokens[from..to)</c>, one segment per <c>-E</c> (one in all without any).</summary>
    private List<Segment> Segments(IReadOnlyList<Token> tokens, int from, int to, out bool sawEnd)
    {
        var segments = new List<Segment>();
        var current = new Segment();
        sawEnd = false;
        for (var i = from; i < to - 1; i++)
        {
            if (tokens[i].Type != TokenType.Option)
            {
                continue;
            }

            var value = tokens[i + 1].Value;
            var name = tokens[i].Value;
            if (Matches(ComponentEnd, name))
            {
                if (sawEnd)
                {
                    segments.Add(current);
                    current = new Segment();
                }

                sawEnd = true;
                current.End = ParseEnd(value);
            }
            else if (Matches(StripeCount, name))
            {
                current.Count = ParseInt(value, "stripe count");
            }
            else if (Matches(StripeSize, name))
            {
                current.Size = ParseStripeSize(value);
            }
            else if (Matches(StripeIndex, name))
            {
                current.Index = ParseInt(value, "stripe index");
            }
            else if (Matches(Pool, name))
            {
                current.Pool = ParsePool(value);
            }
            else if (Matches(Pattern, name))
            {
                current.OnMdt = ParsePattern(value, segments.Count);
            }
        }

        segments.Add(current);
        return segments;
    }

    private static List<LayoutComponent> Components(List<Segment> segments, long start, Inherited inherited)
    {
        var components = new List<LayoutComponent>();
        foreach (var segment in segments)
        {
            if (segment.OnMdt)
            {
                components.Add(DataOnMdt(segment));
                start = components[^1].End;
                continue;
            }

            inherited.Size = segment.Size ?? inherited.Size;
            inherited.Count = CheckCount(segment.Count ?? inherited.Count);
            inherited.Pool = segment.Pool ?? inherited.Pool;
            var end = segment.End ?? LayoutComponent.Eof;
            if (end <= start)
            {
                throw new FormatException($"component end {Text(end)} is not after the previous component's end {start}");
            }

            if (end != LayoutComponent.Eof && end % LayoutDefaults.StripeAlignment != 0)
            {
                throw new FormatException($"component end {end} is not a multiple of 64 KiB (65536 bytes)");
            }

            components.Add(new LayoutComponent(start, end, inherited.Size, inherited.Count, segment.Index ?? -1) { Pool = inherited.Pool.Name });
            start = end;
        }

        return components;
    }

    /// <summary>
    /// <c>-L mdt|raid0</c> of component <paramref name="index"/>; true for mdt, which lfs takes for the first component only
    /// (<c>error: 'mdt' layout can be only the first one</c>).
    /// </summary>
    private static bool ParsePattern(string value, int index) => value switch
    {
        "mdt" when index > 0 => throw new FormatException("'mdt' layout can be only the first one: a Data-on-MDT component starts at 0"),
        "mdt" => true,
        "raid0" => false,
        _ => throw new FormatException($"layout '{value}' is unknown, supported layouts are: 'mdt', 'raid0'"),
    };

    /// <summary>
    /// The Data-on-MDT component of <c>-E END -L mdt</c>, refused as lfs refuses it: an end of EOF or over 1 GiB, a stripe
    /// count or index (it has no OST stripes), a stripe size other than its end (its one stripe is the whole component).
    /// </summary>
    private static LayoutComponent DataOnMdt(Segment segment)
    {
        var end = segment.End ?? LayoutComponent.Eof;
        if (end == LayoutComponent.Eof)
        {
            throw new FormatException("a Data-on-MDT component needs an end (-E 64K -L mdt ...): its bytes live on the MDT, which takes at most its dom_stripesize (1 MiB by default)");
        }

        if (end > LayoutDefaults.MaxDataOnMdtSize)
        {
            throw new FormatException($"'mdt' layout size is too big: {end} bytes, over {LayoutDefaults.MaxDataOnMdtSize} (1G)");
        }

        if (segment.Pool is { Name: { } pool })
        {
            throw new FormatException($"Option 'pool' can't be specified with Data-on-MDT component: {pool} (its bytes live on the MDT, not on OSTs; give -p to the components after it)");
        }

        if (end % LayoutDefaults.StripeAlignment != 0)
        {
            throw new FormatException($"component end {end} is not a multiple of 64 KiB (65536 bytes)");
        }

        if (segment.Count is { } count && count != 0)
        {
            throw new FormatException($"Option 'stripe-count' can't be specified with Data-on-MDT component: {count}");
        }

        if (segment.Size is { } size && size != end)
        {
            throw new FormatException($"Option 'stripe-size' can't be specified with Data-on-MDT component: {size}");
        }

        if (segment.Index is { } index && index is not (0 or -1))
        {
            throw new FormatException($"Option 'stripe-offset' can't be specified with Data-on-MDT component: {index}");
        }

        return LayoutComponent.DataOnMdt(end);
    }

    /// <summary>The largest explicit stripe count requested, or 0 when none is above 1.</summary>
    public static int LargestCount(IEnumerable<LayoutComponent> components)
    {
        var largest = 0;
        foreach (var component in components)
        {
            largest = Math.Max(largest, component.StripeCount);
        }

        return largest;
    }

    /// <summary>A stripe size: 0 (the default) or a multiple of 64 KiB up to the largest.</summary>
    public static long ParseStripeSize(string text)
    {
        var size = SizeParser.Parse(text, "stripe size");
        return size < 0 || size % LayoutDefaults.StripeAlignment != 0 || size > LayoutDefaults.MaxStripeSize
            ? throw new FormatException($"invalid stripe size '{text}': must be a multiple of 64 KiB (65536 bytes), at most {LayoutDefaults.MaxStripeSize}, or 0 for the default")
            : size;
    }

    private static int CheckCount(int count) => count < -1 || count > LayoutDefaults.MaxStripeCount
        ? throw new FormatException($"invalid stripe count {count}: use -1 (all OSTs), 0 (the default) or 1 to {LayoutDefaults.MaxStripeCount}")
        : count;

    /// <summary>
    /// As lfs: <c>''</c>, <c>inherit</c> and <c>none</c> ask for no pool; <c>FSNAME.POOL</c> names the pool with its
    /// filesystem, which is dropped.
    /// </summary>
    internal static PoolChoice ParsePool(string text)
    {
        if (text is "" or "inherit" or "none")
        {
            return new PoolChoice(null);
        }

        var name = text[(text.IndexOf('.', StringComparison.Ordinal) + 1)..];
        return PoolName.Check(name) is { } error ? throw new FormatException($"invalid pool name '{text}': {error}") : new PoolChoice(name);
    }

    private static long ParseEnd(string text) =>
        text is "-1" or "eof" or "EOF" ? LayoutComponent.Eof : SizeParser.Parse(text, "component end");

    private static int ParseInt(string text, string what) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"invalid {what} '{text}'");

    private static string Text(long end) => end == LayoutComponent.Eof ? "EOF" : end.ToString(CultureInfo.InvariantCulture);

    internal static bool Matches(Option option, string token) => option.Name == token || option.Aliases.Contains(token);

    /// <summary>
    /// The stripe count and size that a component or mirror without its own takes from the one before it; 0 (the
    /// default) for the first, which the MDS fills in.
    /// </summary>
    internal sealed class Inherited
    {
        public long Size { get; set; }

        public int Count { get; set; }

        public PoolChoice Pool { get; set; } = new(null);
    }

    /// <summary>A -p given: a pool, or none (<c>-p ''</c>), which a later component then inherits too.</summary>
    internal readonly record struct PoolChoice(string? Name);

    private sealed class Segment
    {
        public long? End { get; set; }

        public int? Count { get; set; }

        public long? Size { get; set; }

        public int? Index { get; set; }

        public PoolChoice? Pool { get; set; }
        /// <summary><c>-L mdt</c>: a Data-on-MDT component.</summary>
        public bool OnMdt { get; set; }
    }
}
