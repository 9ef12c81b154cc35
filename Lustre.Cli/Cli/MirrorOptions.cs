using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Lustre.Layouts;

namespace Lustre.Cli;

/// <summary>
/// The <c>-N[COUNT]</c> groups of <c>lfs mirror create</c>, <c>lfs mirror extend</c> and <c>lfs setstripe -N</c>: each
/// <c>-N</c> starts COUNT mirrors (1 when omitted) laid out by the setstripe options that follow it, as in
/// <c>-N -c 1 -N2 -E 4M -c 1 -E -1 -c 2</c>. Options before the first <c>-N</c> belong to the first group.
/// </summary>
internal sealed class MirrorOptions
{
    public MirrorOptions()
    {
        // One optional value per -N (-N2, -N 2 and -N all parse); each group's options are read from the tokens.
        MirrorCount = new Option<string[]>("--mirror-count", "-N")
        {
            Description = $"Start a group of COUNT mirrors (default 1), laid out by the options that follow; at most {FileLayout.MaxMirrors} mirrors per file",
            HelpName = "COUNT",
            Arity = ArgumentArity.ZeroOrMore,
        };
    }

    public Option<string[]> MirrorCount { get; }

    public LayoutOptions Layout { get; } = new();

    public IEnumerable<Symbol> Symbols => [MirrorCount, .. Layout.Symbols];

    /// <summary>True when <c>-N</c> was given at least once.</summary>
    public bool AnyGiven(ParseResult parse) => parse.GetResult(MirrorCount) is not null;

    /// <summary>
    /// The paths: any that a bare <c>-N</c> took as its value (in <c>-N /f</c> the parser cannot know that -N has no
    /// count; lfs takes a value as the count only when it starts with a digit), then those of <paramref name="paths"/>.
    /// </summary>
    public IReadOnlyList<string> Paths(ParseResult parse, Argument<string[]> paths)
    {
        var result = new List<string>();
        foreach (var value in parse.GetValue(MirrorCount) ?? [])
        {
            if (!IsCount(value))
            {
                result.Add(value);
            }
        }

        result.AddRange(parse.GetValue(paths) ?? []);
        return result;
    }

    /// <summary>Makes a command without any path fail to parse, as a required argument does (see <see cref="Paths"/>).</summary>
    public void RequirePaths(Command command, Argument<string[]> paths) => command.Validators.Add(result =>
    {
        var given = result.GetResult(paths)?.Tokens.Count > 0;
        foreach (var token in result.GetResult(MirrorCount)?.Tokens ?? [])
        {
            given |= !IsCount(token.Value);
        }

        if (!given)
        {
            result.AddError($"Required argument missing for command: '{command.Name}'.");
        }
    });

    /// <summary>
    /// Builds the mirrors in command-line order: one layout per mirror, each group's repeated COUNT times. Without
    /// <c>-N</c>, one mirror from all the layout options. A stripe count or size that no option gives comes from
    /// <paramref name="inherited"/> (lfs mirror extend: the file's last instantiated component), else the defaults.
    /// </summary>
    /// <exception cref="FormatException">A count is not 1 to <see cref="FileLayout.MaxMirrors"/>, the groups add up to more, or a layout option is bad.</exception>
    public IReadOnlyList<FileLayout> Build(ParseResult parse, LayoutOptions.Inherited? inherited = null)
    {
        var tokens = parse.Tokens;
        var starts = new List<int>();
        var counts = new List<int>();
        for (var i = 0; i < tokens.Count; i++)
        {
            if (IsMirrorCount(tokens[i]))
            {
                starts.Add(i);
                counts.Add(i + 1 < tokens.Count && tokens[i + 1].Type == TokenType.Argument && IsCount(tokens[i + 1].Value) ? ParseCount(tokens[i + 1].Value) : 1);
            }
        }

        if (starts.Count == 0)
        {
            starts.Add(0);
            counts.Add(1);
        }

        var total = counts.Sum();
        if (total > FileLayout.MaxMirrors)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"too many mirrors: {total} asked for, a file has at most {FileLayout.MaxMirrors}"));
        }

        var mirrors = new List<FileLayout>(total);
        inherited ??= new LayoutOptions.Inherited();
        for (var g = 0; g < starts.Count; g++)
        {
            // The first group also takes the options before its -N, as lfs does.
            var from = g == 0 ? 0 : starts[g];
            var to = g + 1 < starts.Count ? starts[g + 1] : tokens.Count;
            var layout = Layout.Build(tokens, from, to, inherited);
            mirrors.AddRange(Enumerable.Repeat(layout, counts[g]));
        }

        return mirrors;
    }

    private bool IsMirrorCount(Token token) => token.Type == TokenType.Option && LayoutOptions.Matches(MirrorCount, token.Value);

    // As lfs: a value after -N is its count when it starts with a digit (so "-N 2x" is a bad count, not a file);
    // and "-N -1" is a bad count here rather than a file named "-1".
    private static bool IsCount(string value) => value.Length > 0 && (char.IsAsciiDigit(value[0]) || value[0] is '=' or '-' or '+');

    private static int ParseCount(string text)
    {
        if (text.StartsWith('='))
        {
            throw new FormatException($"bad mirror count: {text}: the total form (-N=TOTAL) is not supported; give the number of mirrors to add");
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var count) && count is >= 1 and <= FileLayout.MaxMirrors
            ? count
            : throw new FormatException($"bad mirror count: {text}: use 1 to {FileLayout.MaxMirrors} (a file has at most {FileLayout.MaxMirrors} mirrors)");
    }
}
