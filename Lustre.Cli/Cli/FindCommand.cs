using System.CommandLine;
using System.Globalization;
using System.IO.Enumeration;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>
/// <c>lfs find DIR [--name GLOB] [--type f|d] [--size [+-]N[KMG]] [--stripe-count [+-]N] [--mirror-count [+-]N]
/// [--mirror-state [^]STATE] [--mtime [+-]N] [--maxdepth N]</c>.
/// </summary>
internal static class FindCommand
{
    public static Command Create()
    {
        var name = new Option<string?>("--name", "-n") { Description = "Name matches the glob (*, ?, [...])", HelpName = "GLOB" };
        var type = new Option<string?>("--type", "-t") { Description = "f (file) or d (directory)", HelpName = "f|d" };
        type.AcceptOnlyFromAmong("f", "d");
        var size = new Option<string?>("--size", "-s") { Description = "Size: +N more than, -N less than, N exactly (rounded up to the unit), with K/M/G/T", HelpName = "[+-]N[KMG]" };
        var stripeCount = new Option<string?>("--stripe-count", "-c") { Description = "Files striped over +N more, -N fewer, or exactly N OSTs (any component)", HelpName = "[+-]N" };
        var mirrorCount = new Option<string?>("--mirror-count", "-N") { Description = "Composite files with +N more, -N fewer or exactly N mirrors (plain files have none, as in lfs)", HelpName = "[+-]N" };
        var mirrorState = new Option<string?>("--mirror-state") { Description = "Mirrored files in state ro (every mirror in sync) or wp (a mirror is stale); ^STATE: not in it", HelpName = "[^]ro|wp|sp" };
        var mtime = new Option<string?>("--mtime", "-M") { Description = "Modified +N more than, -N less than, or N days ago", HelpName = "[+-]N" };
        var maxDepth = new Option<int?>("--maxdepth", "-D") { Description = "Descend at most N levels below DIR", HelpName = "N" };
        var roots = new Argument<string[]>("DIR") { Description = "Where to start", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create("lfs", "find", "Find files and directories by name, type, size, stripe count, mirrors or age", [name, type, size, stripeCount, mirrorCount, mirrorState, mtime, maxDepth, roots], async (session, parse, ct) =>
        {
            var filter = new Filter(
                parse.GetValue(name),
                parse.GetValue(type),
                parse.GetValue(size) is { } s ? Comparison.ParseSize(s) : null,
                parse.GetValue(stripeCount) is { } c ? Comparison.ParseNumber(c, "stripe count") : null,
                parse.GetValue(mirrorCount) is { } n ? Comparison.ParseNumber(n, "mirror count") : null,
                parse.GetValue(mirrorState) is { } state ? MirrorState.Parse(state) : null,
                parse.GetValue(mtime) is { } m ? Comparison.ParseNumber(m, "mtime") : null,
                DateTimeOffset.UtcNow);
            var depth = parse.GetValue(maxDepth) ?? int.MaxValue;
            var exit = 0;
            foreach (var argument in parse.GetValue(roots)!)
            {
                var root = ClusterPath.Normalize(argument);
                try
                {
                    var info = await session.Client.GetInfoAsync(root, ct).ConfigureAwait(false);
                    await WalkAsync(session, info, filter, depth, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(root, ex);
                }
            }

            return exit;
        });
    }

    private static async Task WalkAsync(CliSession session, LustreFileInfo info, Filter filter, int depthLeft, CancellationToken cancellationToken)
    {
        if (filter.Matches(info))
        {
            await session.Out.WriteLineAsync(info.Path).ConfigureAwait(false);
        }

        if (!info.IsDirectory || depthLeft <= 0)
        {
            return;
        }

        await foreach (var entry in session.Client.EnumerateDirectoryAsync(info.Path, cancellationToken).ConfigureAwait(false))
        {
            var child = await session.Client.GetInfoAsync(entry.Path, cancellationToken).ConfigureAwait(false);
            await WalkAsync(session, child, filter, depthLeft - 1, cancellationToken).ConfigureAwait(false);
        }
    }

    private sealed record Filter(string? Name, string? Type, Comparison? Size, Comparison? StripeCount, Comparison? MirrorCount, MirrorState? MirrorState, Comparison? ModifiedDaysAgo, DateTimeOffset Now)
    {
        public bool Matches(LustreFileInfo info)
        {
            if (Name is not null && !FileSystemName.MatchesSimpleExpression(Name, info.Name, ignoreCase: false))
            {
                return false;
            }

            if (Type is not null && (Type == "d") != info.IsDirectory)
            {
                return false;
            }

            if (Size is { } size && (info.IsDirectory || !size.Matches(info.Length)))
            {
                return false;
            }

            if (StripeCount is { } count && !MatchesStripeCount(info, count))
            {
                return false;
            }

            // As lfs: only a composite layout (PFL or mirrored) has a mirror count and a mirror state.
            if (MirrorCount is { } mirrors && (info.Layout is not { IsComposite: true } composite || !mirrors.Matches(composite.MirrorCount)))
            {
                return false;
            }

            if (MirrorState is { } state && !state.Matches(info.Layout))
            {
                return false;
            }

            // Age in whole days, rounded down, as find(1) counts -mtime.
            return ModifiedDaysAgo is not { } days || days.Matches((long)Math.Floor((Now - info.LastWriteTime).TotalDays));
        }

        private static bool MatchesStripeCount(LustreFileInfo info, Comparison count)
        {
            if (info.Layout is null)
            {
                return false;
            }

            foreach (var component in info.Layout.Components)
            {
                if (count.Matches(component.StripeCount))
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>
    /// <c>--mirror-state [^]STATE</c>: Lustre's file states are ro (mirrors in sync), wp (write pending: a mirror is
    /// stale) and sp (sync pending, while a resync runs). Here a write goes to every mirror in sync, so a file is ro
    /// until a mirror misses a write, then wp until a resync; sp is accepted and never seen.
    /// </summary>
    internal readonly record struct MirrorState(string State, bool Negated)
    {
        public bool Matches(Layouts.FileLayout? layout)
        {
            if (layout is not { IsComposite: true })
            {
                return false;
            }

            var actual = !layout.IsMirrored ? string.Empty : layout.Mirrors.Any(m => m.IsStale) ? "wp" : "ro";
            return Negated ? actual != State : actual == State;
        }

        public static MirrorState Parse(string text)
        {
            var negated = text.StartsWith('^');
            var state = negated ? text[1..] : text;
            return state is "ro" or "wp" or "sp"
                ? new MirrorState(state, negated)
                : throw new FormatException($"bad mirrored file state '{text}': use ro, wp or sp, or ^STATE for files not in it");
        }
    }

    /// <summary>A find(1)-style number: +N (more than), -N (less than) or N (equal, after rounding up to the unit).</summary>
    internal readonly record struct Comparison(int Sign, long Value, long Unit)
    {
        public bool Matches(long actual) => Sign switch
        {
            > 0 => actual > Value,
            < 0 => actual < Value,
            _ => (actual + Unit - 1) / Unit * Unit == Value,
        };

        public static Comparison ParseSize(string text)
        {
            var (sign, rest) = SplitSign(text);
            var unit = rest.Length > 0 && char.IsAsciiLetter(rest[^1]) ? SizeParser.Parse("1" + rest[^1], "--size unit") : 1;
            return new Comparison(sign, SizeParser.Parse(rest, "--size"), unit);
        }

        public static Comparison ParseNumber(string text, string what)
        {
            var (sign, rest) = SplitSign(text);
            return long.TryParse(rest, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                ? new Comparison(sign, value, 1)
                : throw new FormatException($"invalid {what} '{text}': use N, +N or -N");
        }

        private static (int Sign, string Digits) SplitSign(string text) => text.Length > 0 && text[0] is '+' or '-'
            ? (text[0] == '+' ? 1 : -1, text[1..])
            : (0, text);
    }
}
