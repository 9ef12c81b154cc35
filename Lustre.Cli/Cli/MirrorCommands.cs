using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre lfs mirror ...</c>: Lustre's file level redundancy (FLR) commands, with lfs's option names: create takes
/// <c>-N[COUNT]</c> groups of setstripe options.
/// </summary>
internal static class MirrorCommands
{
    private const string Tool = "lfs";
    private const string Parent = "mirror";

    public static Command Create() => new("mirror", "Lustre's lfs mirror: mirrored files (create)")
    {
        MirrorCreate(),
    };

    private static Command MirrorCreate()
    {
        var mirror = new MirrorOptions();
        var paths = new Argument<string[]>("FILE|DIR") { Description = "A new file (created empty with these mirrors) or a directory (gets them as its default layout)", Arity = ArgumentArity.ZeroOrMore };
        var command = ClientCommand.Create(Tool, "create", "Create mirrored files, or give directories a mirrored default layout", [.. mirror.Symbols, paths], async (session, parse, ct) =>
        {
            var template = FileLayout.Mirrored(mirror.Build(parse));
            await LfsCommands.WarnIfCappedAsync(session, template, ct).ConfigureAwait(false);
            var exit = 0;
            foreach (var argument in mirror.Paths(parse, paths))
            {
                exit = Math.Max(exit, await LfsCommands.SetLayoutAsync(session, ClusterPath.Normalize(argument), template, ct).ConfigureAwait(false));
            }

            return exit;
        }, parent: Parent);
        mirror.RequirePaths(command, paths);

        // As lfs mirror create: -N is what says how many mirrors; setstripe options alone are not a mirror.
        command.Validators.Add(result =>
        {
            if (result.GetResult(mirror.MirrorCount) is null)
            {
                result.AddError("option --mirror-count|-N is required: -N[COUNT] before each mirror's layout options");
            }
        });
        return command;
    }

    /// <summary>
    /// Warns, per mirror, when a stripe count is larger than the OSTs that the mirrors before it (and the file's own,
    /// <paramref name="usedOsts"/>) leave: mirrors never share an OST, so the MDS caps it.
    /// </summary>
    internal static async Task WarnIfCappedAsync(CliSession session, FileLayout template, int usedOsts, string label, CancellationToken cancellationToken)
    {
        var osts = await LfsCommands.ActiveOstCountAsync(session, cancellationToken).ConfigureAwait(false);
        foreach (var warning in CappedCounts(template.Mirrors, osts, usedOsts, label))
        {
            session.Warn(warning);
        }
    }

    /// <summary>
    /// The warnings for <see cref="WarnIfCappedAsync"/>. A mirror is counted as taking its largest (capped) stripe count
    /// of OSTs, which is the fewest it can take, so no warning is given for a count that will not be capped.
    /// </summary>
    internal static IEnumerable<string> CappedCounts(IReadOnlyList<LayoutMirror> mirrors, int osts, int usedOsts, string label)
    {
        var left = osts - usedOsts;
        for (var m = 0; m < mirrors.Count && left > 0; m++)
        {
            // As the MDS: "all OSTs" is shared among the mirrors still to place.
            var toPlace = mirrors.Count - m;
            var taken = 0;
            foreach (var component in mirrors[m].Layout.Components)
            {
                var count = component.StripeCount;
                if (count == StripeCount.All)
                {
                    taken = Math.Max(taken, toPlace > 1 ? Math.Max(1, left / toPlace) : left);
                    continue;
                }

                if (count > left)
                {
                    yield return string.Create(CultureInfo.InvariantCulture, $"{label} {m + 1}: stripe count {count} is larger than the {left} OSTs that other mirrors do not use: it will be capped at {left}");
                }

                taken = Math.Max(taken, Math.Min(count, left));
            }

            left -= taken;
        }
    }

    /// <summary>Reports a failed path; a server's refusal keeps its reason, which says more than the errno.</summary>
    internal static int Fail(CliSession session, string path, Exception exception) => exception switch
    {
        LustreServerException { IsTransient: false, Errno: not (LustreErrno.None or LustreErrno.EINVAL) } server when server.ServerMessage.Length > 0
            => session.Fail($"'{path}': {CliErrors.Describe(server.Errno)} ({server.ServerMessage})"),
        _ => session.Fail(path, exception),
    };
}
