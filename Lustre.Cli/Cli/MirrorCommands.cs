using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre lfs mirror ...</c>: Lustre's file level redundancy (FLR) commands, with lfs's option names: create and
/// extend take <c>-N[COUNT]</c> groups of setstripe options, split takes <c>--mirror-id</c> or <c>-I</c> and <c>-d</c>.
/// </summary>
internal static class MirrorCommands
{
    private const string Tool = "lfs";
    private const string Parent = "mirror";

    public static Command Create() => new("mirror", "Lustre's lfs mirror: mirrored files (create, extend, split, resync, verify)")
    {
        MirrorCreate(),
        Extend(),
        Split(),
        Resync(),
        Verify(),
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

    private static Command Extend()
    {
        var mirror = new MirrorOptions();
        var files = new Argument<string[]>("FILE") { Description = "Files to add mirrors to (a file without mirrors becomes mirror 1)", Arity = ArgumentArity.ZeroOrMore };
        var command = ClientCommand.Create(Tool, "extend", "Add mirrors to existing files and copy their data to them", [.. mirror.Symbols, files], async (session, parse, ct) =>
        {
            // Bad options stop the command before any file; each file's own template is built below.
            _ = mirror.Build(parse);
            var exit = 0;
            foreach (var argument in mirror.Paths(parse, files))
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    var info = await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                    if (info.IsDirectory)
                    {
                        exit = session.Fail(path, new LustreServerException(LustreErrno.EISDIR, "is a directory", Tool));
                        continue;
                    }

                    var template = FileLayout.Mirrored(mirror.Build(parse, InheritedFrom(info.Layout)));
                    await WarnIfCappedAsync(session, template, UsedOsts(info.Layout), "new mirror", ct).ConfigureAwait(false);
                    await session.Client.ExtendMirrorsAsync(path, template, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = Fail(session, path, ex);
                }
            }

            return exit;
        }, parent: Parent);
        mirror.RequirePaths(command, files);
        return command;
    }

    private static Command Split()
    {
        var mirrorId = new Option<string?>("--mirror-id") { Description = "The mirror to split off (its lcme_mirror_id)", HelpName = "ID" };
        var componentId = new Option<string?>("--component-id", "--comp-id", "-I") { Description = "The mirror that holds this component (its lcme_id)", HelpName = "COMP_ID" };
        var destroy = new Option<bool>("--destroy", "-d") { Description = "Destroy the mirror's objects (required: splitting into a file of its own is not supported)" };
        var newFile = new Option<string?>("--file", "-f") { Description = "Not supported: lfs would keep the split mirror as NEW_FILE", HelpName = "NEW_FILE" };
        var files = new Argument<string[]>("FILE") { Description = "Mirrored files", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "split", "Remove a mirror from mirrored files and destroy its objects (-d)", [mirrorId, componentId, destroy, newFile, files], async (session, parse, ct) =>
        {
            var byMirror = parse.GetValue(mirrorId) is { } m ? ParseId(m, "mirror id", LayoutMirror.MaxId) : (long?)null;
            var byComponent = parse.GetValue(componentId) is { } c ? ParseId(c, "component id", uint.MaxValue) : (long?)null;
            if (byMirror is null == byComponent is null)
            {
                return session.Fail("give the mirror to split with --mirror-id ID or --component-id COMP_ID (one of them)", 2);
            }

            if (parse.GetValue(newFile) is not null)
            {
                return session.Fail("-f NEW_FILE (keeping the split mirror as a file of its own) is not supported: use -d to destroy the mirror", 2);
            }

            if (!parse.GetValue(destroy))
            {
                return session.Fail("only the destroy form is supported: add -d (--destroy) to remove the mirror and destroy its objects (lfs would keep them as FILE.mirror~ID)", 2);
            }

            var exit = 0;
            foreach (var argument in parse.GetValue(files)!)
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    exit = Math.Max(exit, await SplitAsync(session, path, byMirror, byComponent, ct).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = Fail(session, path, ex);
                }
            }

            return exit;
        }, parent: Parent);
    }

    /// <summary>
    /// Checks the file as lfs mirror split does (mirrored, with more than one mirror, with that mirror), resyncs first
    /// when the mirror is the only one in sync (as lfs does, so that a copy in sync remains), then splits it off.
    /// </summary>
    private static async Task<int> SplitAsync(CliSession session, string path, long? mirrorId, long? componentId, CancellationToken cancellationToken)
    {
        var info = await session.Client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        if (info.IsDirectory)
        {
            return session.Fail(path, new LustreServerException(LustreErrno.EISDIR, "is a directory", Tool));
        }

        var layout = info.Layout!;
        if (layout.MirrorCount < 2)
        {
            return session.Fail($"'{path}': cannot split: the file has {(layout.IsMirrored ? "only 1 mirror" : "no mirrors")}; splitting would leave no copy");
        }

        LayoutMirror? mirror;
        if (mirrorId is { } id)
        {
            mirror = layout.MirrorById((int)id);
            if (mirror is null)
            {
                return session.Fail(string.Create(CultureInfo.InvariantCulture, $"'{path}': the file has no mirror with id {id} (its mirrors: {string.Join(", ", layout.Mirrors.Select(m => m.Id))})"));
            }
        }
        else
        {
            var entries = LayoutEntry.Of(layout).ToList();
            var entry = entries.FindIndex(e => e.Id == componentId);
            if (entry < 0)
            {
                return session.Fail(string.Create(CultureInfo.InvariantCulture, $"'{path}': the file has no component with id {componentId} (its components: {string.Join(", ", entries.Select(e => e.Id))})"));
            }

            mirror = layout.MirrorById(entries[entry].MirrorId)!;
        }

        if (!mirror.IsStale && !layout.Mirrors.Any(m => m.Id != mirror.Id && !m.IsStale))
        {
            await session.Client.ResyncMirrorsAsync(path, cancellationToken).ConfigureAwait(false);
        }

        await session.Client.SplitMirrorAsync(path, mirror.Id, cancellationToken).ConfigureAwait(false);
        return 0;
    }

    private static Command Resync()
    {
        var files = new Argument<string[]>("FILE") { Description = "Mirrored files", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "resync", "Copy mirrored files to their stale mirrors and mark them in sync", [files], async (session, parse, ct) =>
        {
            var exit = 0;
            foreach (var argument in parse.GetValue(files)!)
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    if (await RequireMirroredAsync(session, path, ct).ConfigureAwait(false) is null)
                    {
                        exit = 1;
                        continue;
                    }

                    // As lfs: a file a writer or another resync holds fails at once (EBUSY), it is not waited for.
                    await session.Client.ResyncMirrorsAsync(path, TimeSpan.Zero, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = Fail(session, path, ex);
                }
            }

            return exit;
        }, parent: Parent);
    }

    private static Command Verify()
    {
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Also say what was compared when the mirrors agree" };
        var files = new Argument<string[]>("FILE") { Description = "Mirrored files", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "verify", "Check that the in-sync mirrors of files hold the same bytes; exit 1 where they differ or one is stale", [verbose, files], async (session, parse, ct) =>
        {
            var exit = 0;
            foreach (var argument in parse.GetValue(files)!)
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    exit = Math.Max(exit, await VerifyAsync(session, path, parse.GetValue(verbose), ct).ConfigureAwait(false));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = Fail(session, path, ex);
                }
            }

            return exit;
        }, parent: Parent);
    }

    /// <summary>
    /// Compares the in-sync mirrors; a difference or a stale mirror (not compared) is an error, as in lfs mirror verify.
    /// Errors go to standard error, the <c>-v</c> summary of a file whose mirrors agree to standard output.
    /// </summary>
    private static async Task<int> VerifyAsync(CliSession session, string path, bool verbose, CancellationToken cancellationToken)
    {
        if (await RequireMirroredAsync(session, path, cancellationToken).ConfigureAwait(false) is not { } layout)
        {
            return 1;
        }

        var result = await session.Client.VerifyMirrorsAsync(path, cancellationToken).ConfigureAwait(false);
        var exit = 0;
        foreach (var stale in layout.Mirrors.Where(m => m.IsStale && !result.MirrorsCompared.Contains(m.Id)))
        {
            exit = session.Fail(string.Create(CultureInfo.InvariantCulture, $"'{path}': mirror {stale.Id} is stale, not compared (lfs mirror resync brings it in sync)"));
        }

        foreach (var difference in result.Differences)
        {
            exit = session.Fail(string.Create(
                CultureInfo.InvariantCulture,
                $"'{path}': mirror {difference.MirrorId} differs from mirror {difference.ReferenceMirrorId} in {Extent(difference.Offset, difference.Offset + difference.Length)}"));
        }

        if (verbose && exit == 0)
        {
            var compared = string.Join(", ", result.MirrorsCompared);
            await session.Out.WriteLineAsync(
                result.Length == 0 ? $"{path}: file size is 0"
                : result.MirrorsCompared.Count < 2 ? $"{path}: only mirror {compared} is in sync: nothing to compare"
                : string.Create(CultureInfo.InvariantCulture, $"{path}: mirrors {compared} hold the same {result.Length} bytes {Extent(0, result.Length)}")).ConfigureAwait(false);
        }

        return exit;
    }

    /// <summary>The file's layout when it is mirrored; otherwise says so (as lfs: not a FLR file) and returns null.</summary>
    private static async Task<FileLayout?> RequireMirroredAsync(CliSession session, string path, CancellationToken cancellationToken)
    {
        var info = await session.Client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        if (info.IsDirectory)
        {
            session.Fail(path, new LustreServerException(LustreErrno.EISDIR, "is a directory", Tool));
            return null;
        }

        if (info.Layout is not { IsMirrored: true } layout)
        {
            session.Fail($"'{path}': not a mirrored (FLR) file");
            return null;
        }

        return layout;
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

        // Busy (open for writing) and stale (changed during a resync) are retried later, not a cluster that is down.
        LustreException { Errno: LustreErrno.EBUSY or LustreErrno.ESTALE } busy => session.Fail($"'{path}': {CliErrors.Describe(busy.Errno)} ({busy.Message})"),
        _ => session.Fail(path, exception),
    };

    /// <summary>An extent as lfs prints one (<c>DEXT</c>): <c>[0, 0x400000)</c>.</summary>
    private static string Extent(long start, long end) => $"[{Hex(start)}, {Hex(end)})";

    // C's %#llx: no prefix for zero.
    private static string Hex(long value) => value == 0 ? "0" : string.Create(CultureInfo.InvariantCulture, $"0x{value:x}");

    private static long ParseId(string text, string what, long max) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id >= 1 && id <= max
            ? id
            : throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"bad {what} '{text}': use 1 to {max}"));

    /// <summary>As lfs mirror extend: a new mirror without its own count or size takes those of the file's last instantiated OST component.</summary>
    private static LayoutOptions.Inherited InheritedFrom(FileLayout? layout)
    {
        var inherited = new LayoutOptions.Inherited();
        if (layout is not null && LayoutEntry.Of(layout).LastOrDefault(e => e.Component.IsInstantiated && !e.Component.IsOnMdt) is { Component: { } last })
        {
            inherited.Count = last.StripeCount;
            inherited.Size = last.StripeSize;
        }

        return inherited;
    }

    private static int UsedOsts(FileLayout? layout)
    {
        if (layout is null)
        {
            return 0;
        }

        var osts = new HashSet<int>();
        foreach (var entry in LayoutEntry.Of(layout))
        {
            foreach (var obj in entry.Component.Objects)
            {
                osts.Add(obj.OstIndex);
            }
        }

        return osts.Count;
    }
}
