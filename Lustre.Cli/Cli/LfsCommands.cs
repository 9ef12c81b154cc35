using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Migration;
using Lustre.Namespace;

namespace Lustre.Cli;

/// <summary><c>lustre lfs ...</c>: Lustre's lfs subcommands, option names and output shapes, on top of the SDK.</summary>
internal static class LfsCommands
{
    private const string Tool = "lfs";

    public static Command Create() => new("lfs", "Lustre's lfs: layouts (setstripe, getstripe, migrate), mirrors (mirror create, extend, split, resync, verify), space (df), find, OST pools (pool_list), path2fid and fid2path")
    {
        SetStripe(),
        GetStripe(),
        MirrorCommands.Create(),
        Df(),
        FindCommand.Create(),
        Migrate(),
        FidCommands.Path2Fid(),
        FidCommands.Fid2Path(),
        PoolCommands.List(Tool),
    };

    private static Command SetStripe()
    {
        var mirror = new MirrorOptions();
        var components = new ComponentOptions();
        var delete = new Option<bool>("--delete", "-d") { Description = "Remove a directory's default layout" };
        var paths = new Argument<string[]>("PATH") { Description = "A directory (sets its default layout) or a new file (created empty with this layout)", Arity = ArgumentArity.ZeroOrMore };
        var command = ClientCommand.Create(Tool, "setstripe", "Set the layout of a new file or the default layout of a directory; with -N, a mirrored one (as lfs mirror create); add or delete components of a PFL file", [.. mirror.Symbols, .. components.Symbols, delete, paths], async (session, parse, ct) =>
        {
            if (components.UsageError(parse, parse.GetValue(delete), mirror) is { } usage)
            {
                return session.Fail(usage, exitCode: 2);
            }

            if (components.AnyGiven(parse))
            {
                var failed = 0;
                foreach (var argument in mirror.Paths(parse, paths))
                {
                    failed = Math.Max(failed, await components.RunAsync(session, parse, mirror.Layout, ClusterPath.Normalize(argument), ct).ConfigureAwait(false));
                }

                return failed;
            }

            FileLayout? wanted = null;
            if (!parse.GetValue(delete))
            {
                wanted = mirror.AnyGiven(parse) ? FileLayout.Mirrored(mirror.Build(parse)) : mirror.Layout.Build(parse);
                await WarnIfCappedAsync(session, wanted, ct).ConfigureAwait(false);
            }

            var exit = 0;
            foreach (var argument in mirror.Paths(parse, paths))
            {
                exit = Math.Max(exit, await SetLayoutAsync(session, ClusterPath.Normalize(argument), wanted, ct).ConfigureAwait(false));
            }

            return exit;
        });
        mirror.RequirePaths(command, paths);
        return command;
    }

    /// <summary>
    /// What setstripe and mirror create do to one path: a directory gets <paramref name="wanted"/> as its default (null
    /// removes it), a new file is created empty with it, and an existing file is refused, as Lustre refuses to set the
    /// layout of a file that has one (lfs migrate restripes it, lfs mirror extend adds mirrors).
    /// </summary>
    internal static async Task<int> SetLayoutAsync(CliSession session, string path, FileLayout? wanted, CancellationToken cancellationToken)
    {
        try
        {
            var info = await TryGetInfoAsync(session.Client, path, cancellationToken).ConfigureAwait(false);
            if (info is { IsDirectory: true })
            {
                await session.Client.SetDirectoryLayoutAsync(path, wanted, cancellationToken).ConfigureAwait(false);
            }
            else if (wanted is null)
            {
                return session.Fail(path, new LustreServerException(Protocol.LustreErrno.ENOTDIR, "not a directory", "lfs"));
            }
            else if (info is not null)
            {
                return wanted.IsMirrored
                    ? session.Fail($"'{path}': File exists (lfs mirror extend adds mirrors to an existing file)")
                    : session.Fail(path, new LustreServerException(Protocol.LustreErrno.EEXIST, "exists", "lfs"));
            }
            else
            {
                var file = await session.Client.OpenFileAsync(path, FileMode.CreateNew, layout: wanted, cancellationToken: cancellationToken).ConfigureAwait(false);
                await file.DisposeAsync().ConfigureAwait(false);
            }

            return 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return wanted is { IsMirrored: true } ? MirrorCommands.Fail(session, path, ex) : session.Fail(path, ex);
        }
    }

    private static Command GetStripe()
    {
        var count = new Option<bool>("--stripe-count", "-c") { Description = "Print only the stripe count" };
        var size = new Option<bool>("--stripe-size", "-S") { Description = "Print only the stripe size" };
        var index = new Option<bool>("--stripe-index", "-i") { Description = "Print only the index of the first OST" };
        var pool = new Option<bool>("--pool", "-p") { Description = "Print only the OST pool (nothing for a layout without one)" };
        var directory = new Option<bool>("--directory", "-d") { Description = "For a directory, print its default layout only, not its files" };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Descend into every directory below (without it, a directory's entries are listed one level down)" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print every field, with lmm_magic, lmm_seq, lmm_object_id and lmm_fid (composite files: composite_header and each component's offset and size)" };
        var yaml = new Option<bool>("--yaml", "-y") { Description = "Print the layout as YAML" };
        var paths = new Argument<string[]>("PATH") { Description = "Files and directories", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "getstripe", "Print the layout of files and the default layout of directories", [count, size, index, pool, directory, recursive, verbose, yaml, paths], async (session, parse, ct) =>
        {
            // As lfs: -v prints every field whatever else is asked; -c, -S, -i, -p, -d list no entries of a directory, -r all of them.
            var detail = parse.GetValue(verbose);
            var only = detail ? StripeFields.None
                : (parse.GetValue(count) ? StripeFields.Count : 0) | (parse.GetValue(size) ? StripeFields.Size : 0) | (parse.GetValue(index) ? StripeFields.Offset : 0) | (parse.GetValue(pool) ? StripeFields.Pool : 0);
            var depth = parse.GetValue(recursive) ? int.MaxValue : parse.GetValue(directory) || only != StripeFields.None ? 0 : 1;
            var targets = parse.GetValue(paths)!;
            var printer = new StripePrinter(session.Out, only, parse.GetValue(yaml), detail);

            // lfs prints the bare value for one field of one file, so scripts can do $(lfs getstripe -c f).
            var showNames = only == StripeFields.None || targets.Length > 1;
            var exit = 0;
            foreach (var argument in targets)
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    var info = await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                    await printer.PrintTreeAsync(session.Client, info, depth, showNames && (!parse.GetValue(yaml) || targets.Length > 1), ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(path, ex);
                }
            }

            return exit;
        });
    }

    /// <summary>What one getstripe prints of each path: the fields asked for, as YAML or not, with -v's lines or not.</summary>
    private sealed class StripePrinter(TextWriter writer, StripeFields only, bool yaml, bool verbose)
    {
        /// <summary>The path, then (for a directory, <paramref name="depth"/> levels down) every entry below it, depth first.</summary>
        public async Task PrintTreeAsync(LustreClient client, LustreFileInfo info, int depth, bool showName, CancellationToken cancellationToken)
        {
            Print(info, showName);
            if (!info.IsDirectory || depth <= 0)
            {
                return;
            }

            // Readdir-plus: the layouts come with the names, one request per page instead of a stat per entry.
            await foreach (var child in client.EnumerateFileInfosAsync(info.Path, cancellationToken).ConfigureAwait(false))
            {
                await PrintTreeAsync(client, child, depth - 1, showName: true, cancellationToken).ConfigureAwait(false);
            }
        }

        private void Print(LustreFileInfo info, bool showName)
        {
            if (showName && !yaml)
            {
                writer.WriteLine(info.Path);
            }
            else if (yaml && showName)
            {
                writer.WriteLine($"--- # {info.Path}");
            }

            var layout = info.IsDirectory ? info.DefaultLayout : info.Layout;
            if (verbose && !yaml && (info.IsDirectory || layout is null))
            {
                // lfs -v names a directory by its own FID, before its default layout.
                writer.WriteLine($"lmm_fid:           {info.Fid}");
            }

            if (layout is null)
            {
                return;
            }

            if (yaml)
            {
                LayoutPrinter.PrintYaml(writer, layout);
            }
            else if (info.IsDirectory)
            {
                LayoutPrinter.PrintDirectoryDefault(writer, layout, only);
            }
            else
            {
                LayoutPrinter.PrintFile(writer, layout, only, verbose ? info.Fid : null);
            }
        }
    }

    private static Command Df()
    {
        var human = new Option<bool>("--human-readable", "-h") { Description = "Sizes and counts in K, M, G, T (powers of 1024)" };
        var inodes = new Option<bool>("--inodes", "-i") { Description = "Inodes (MDT) and objects (OST) instead of space: Inodes IUsed IFree IUse%" };
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Every state letter after each row (f: flash), not only the error states (D R N S I)" };
        var pool = new Option<string?>("--pool", "-p") { Description = "Only the OSTs of this pool (POOL or FSNAME.POOL), the summary of them alone", HelpName = "POOL" };
        return ClientCommand.Create(Tool, "df", "Space (or inodes) used and available on every MDT and OST, and the filesystem summary", [human, inodes, verbose, pool], async (session, parse, ct) =>
        {
            var rows = await session.Client.GetUsageAsync(ct).ConfigureAwait(false);
            if (parse.GetValue(pool) is { } name)
            {
                var osts = await PoolOstsAsync(session, name, ct).ConfigureAwait(false);
                if (osts is null)
                {
                    return 1;
                }

                // As lfs df --pool: the MDTs, and of the OSTs only the pool's, which alone make the summary's space.
                rows = [.. rows.Where(r => r.IsMetadataTarget || osts.Contains(r.Index))];
            }

            DfPrinter.Print(session.Out, session.Client.FsName, rows, parse.GetValue(human), parse.GetValue(inodes), parse.GetValue(verbose));
            return 0;
        });
    }

    /// <summary>The OSTs of the pool <paramref name="name"/> (<c>POOL</c> or <c>FSNAME.POOL</c>); null, the failure said, when there is no such pool.</summary>
    private static async Task<IReadOnlyList<int>?> PoolOstsAsync(CliSession session, string name, CancellationToken cancellationToken)
    {
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0 && name[..dot] != session.Client.FsName)
        {
            // lfs's words for a pool of another filesystem.
            session.Fail($"filesystem name incorrect: '{name}' is not a pool of '{session.Client.FsName}'");
            return null;
        }

        var pool = name[(dot + 1)..];
        var pools = await session.Client.GetPoolsAsync(cancellationToken).ConfigureAwait(false);
        if (pools.FirstOrDefault(p => p.Name == pool) is { } found)
        {
            return found.OstIndexes;
        }

        session.Fail($"pool '{session.Client.FsName}.{pool}' does not exist");
        return null;
    }

    private static Command Migrate()
    {
        var layout = new LayoutOptions();
        var block = new Option<bool>("--block", "-b") { Description = "Hold writers off while the file is copied: their opens wait until the swap (the default)" };
        var nonBlock = new Option<bool>("--non-block", "-n") { Description = "Do not hold writers off: fail with EBUSY if the file is open for writing, or is opened for writing or resized before the swap" };
        var files = new Argument<string[]>("FILE") { Description = "Files to restripe", Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "migrate", "Restripe files: copy them to new objects and swap those in, keeping the FID (the data is kept)", [.. layout.Symbols, block, nonBlock, files], async (session, parse, ct) =>
        {
            if (parse.GetValue(block) && parse.GetValue(nonBlock))
            {
                return session.Fail("options --non-block and --block are mutually exclusive", exitCode: 2);
            }

            FileLayout? wanted = layout.AnyGiven(parse) ? layout.Build(parse) : null;
            if (wanted is not null)
            {
                await WarnIfCappedAsync(session, wanted, ct).ConfigureAwait(false);
            }

            var options = new MigrateOptions { NonBlocking = parse.GetValue(nonBlock) };
            var exit = 0;
            foreach (var argument in parse.GetValue(files)!)
            {
                var path = ClusterPath.Normalize(argument);
                try
                {
                    await session.Client.MigrateAsync(path, wanted, options, ct).ConfigureAwait(false);
                }
                catch (LustreServerException ex) when (ex.ServerMessage.StartsWith($"'{path}': ", StringComparison.Ordinal))
                {
                    // The SDK names the file in its refusals (busy, changed, mirrored): the reason, then the errno as lfs prints it.
                    exit = session.Fail($"{ex.ServerMessage} ({CliErrors.Describe(ex.Errno)})");
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(path, ex);
                }
            }

            return exit;
        });
    }

    /// <summary>
    /// The MDS caps a count larger than the OSTs; say so here, where the user can see it, as lfs does. For a mirrored
    /// layout, per mirror: each takes OSTs that the mirrors before it do not use.
    /// </summary>
    internal static async Task WarnIfCappedAsync(CliSession session, FileLayout layout, CancellationToken cancellationToken)
    {
        if (layout.IsMirrored)
        {
            await MirrorCommands.WarnIfCappedAsync(session, layout, usedOsts: 0, "mirror", cancellationToken).ConfigureAwait(false);
            return;
        }

        await WarnIfCappedAsync(session, LayoutOptions.LargestCount(layout.Components), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Warns when <paramref name="largest"/>, the largest stripe count asked for, is more than the OSTs there are.</summary>
    internal static async Task WarnIfCappedAsync(CliSession session, int largest, CancellationToken cancellationToken)
    {
        if (largest <= 1)
        {
            return;
        }

        var osts = await ActiveOstCountAsync(session, cancellationToken).ConfigureAwait(false);
        if (largest > osts)
        {
            session.Warn(string.Create(CultureInfo.InvariantCulture, $"stripe count {largest} is larger than the {osts} available OSTs: it will be capped at {osts}"));
        }
    }

    internal static async Task<int> ActiveOstCountAsync(CliSession session, CancellationToken cancellationToken)
    {
        var usage = await session.Client.GetUsageAsync(cancellationToken).ConfigureAwait(false);
        var osts = 0;
        foreach (var row in usage)
        {
            osts += !row.IsMetadataTarget && row.IsActive ? 1 : 0;
        }

        return osts;
    }

    internal static async Task<LustreFileInfo?> TryGetInfoAsync(LustreClient client, string path, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
    }
}
