using System.CommandLine;
using Lustre.Client;

namespace Lustre.Cli;

/// <summary>
/// <c>lfs find DIR... [!] OPTION...</c> with lfs's own option syntax (<see cref="FindParser"/>): System.CommandLine only
/// takes <c>--mgs</c> and <c>--help</c>; every other argument goes, in order, to the parser, which reads them as
/// lfs's getopt_long_only does (<c>-name</c>, <c>-size 3901c</c>, <c>! -type d</c>).
/// </summary>
internal static class FindCommand
{
    private const string Description = """
        Find files and directories, as lfs find: DIR... then tests, all of which a printed entry passes.
        Options take one dash or two (-name, --name), abbreviated while unique; ! before an option negates it.
          -n, --name GLOB              last component matches the glob (*, ?, [...])
          -t, --type f|d               file or directory
          -s, --size [+-]N[cbkMGTPE]   size; N without a unit counts 512-byte blocks, c is bytes (lfs)
          -M, --mtime, -A, --atime, -C, --ctime [+-]N[smhdwy]   modified, accessed, changed N ago (days by default)
          --newer REF, --newerXY REF   X (a, m, c) later than REF's Y (a, m, c), or than the date REF when Y is t
          -c, --stripe-count [+-]N     stripes of the last instantiated component
          -O, --ost, -i LIST           files with an object on an OST of LIST (0,2-3,OST0004,lustre-OST0005_UUID)
          -u, --uid, -U, --user N      owner id (numeric)
          -g, --gid, -G, --group N     group id (numeric)
          -L, --layout raid0[,...]     layout pattern
          --component-count [+-]N      components of a composite layout (plain layouts have 0)
          -N, --mirror-count [+-]N     mirrors of a composite layout
          --mirror-state [^]ro|wp|sp   mirrored file state
          -d, --mindepth N, -D, --maxdepth N   depth bounds below DIR
          -0, --print0                 end each path with NUL instead of a newline
        +N means more than N, -N less than N, N exactly (after rounding up to the unit).
        """;

    public static Command Create()
    {
        var arguments = new Argument<string[]>("ARGS") { Description = "DIR... and the options above, in lfs's syntax", Arity = ArgumentArity.OneOrMore };
        var command = ClientCommand.Create("lfs", "find", Description, [], async (session, parse, ct) =>
        {
            FindQuery query;
            try
            {
                query = FindParser.Parse(parse.GetValue(arguments) ?? [], DateTimeOffset.UtcNow);
            }
            catch (FindUsageException ex)
            {
                return session.Fail(ex.Message);
            }

            await session.ConnectAsync(ct).ConfigureAwait(false);
            foreach (var reference in query.References)
            {
                try
                {
                    await reference.ResolveAsync(session.Client, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException && !CliErrors.IsUnreachable(ex))
                {
                    return session.Fail($"cannot stat file '{reference.Argument}': {CliErrors.Reason(ex)}");
                }
            }

            var exit = 0;
            foreach (var argument in query.Roots)
            {
                var root = ClusterPath.Normalize(argument);
                try
                {
                    var info = await session.Client.GetInfoAsync(root, ct).ConfigureAwait(false);
                    await VisitAsync(session, query, info.Path, info.Name, info.IsDirectory, info, depth: 0, ct).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(root, ex);
                }
            }

            return exit;
        }, connect: false);

        // Added after Create: its check that no path looks like an option would refuse lfs's own "-name".
        command.Arguments.Add(arguments);
        return command;
    }

    /// <summary>
    /// Depth first, an entry before its children, as lfs find. The tests that a directory entry answers alone
    /// (name, type) go first; the attributes are fetched only for entries that pass them and only when a test
    /// needs them, as lfs decides from the dirent when it can.
    /// </summary>
    private static async Task VisitAsync(CliSession session, FindQuery query, string path, string name, bool isDirectory, LustreFileInfo? info, int depth, CancellationToken cancellationToken)
    {
        if (depth >= query.MinDepth && query.MatchesEntry(name, isDirectory))
        {
            if (query.NeedsInfo && info is null)
            {
                try
                {
                    info = await session.Client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
                }
                catch (FileNotFoundException)
                {
                    // Removed since the directory was read: lfs warns and goes on.
                    session.Warn($"'{path}' does not exist");
                    return;
                }
            }

            if (info is null || query.MatchesInfo(info))
            {
                await session.Out.WriteAsync(path + query.Separator).ConfigureAwait(false);
            }
        }

        if (!isDirectory || depth >= query.MaxDepth)
        {
            return;
        }

        try
        {
            if (query.NeedsInfo)
            {
                // Readdir-plus: the attributes come with the names, one request per page instead of a stat per entry.
                await foreach (var child in session.Client.EnumerateFileInfosAsync(path, cancellationToken).ConfigureAwait(false))
                {
                    await VisitAsync(session, query, child.Path, child.Name, child.IsDirectory, child, depth + 1, cancellationToken).ConfigureAwait(false);
                }
            }
            else
            {
                await foreach (var entry in session.Client.EnumerateDirectoryAsync(path, cancellationToken).ConfigureAwait(false))
                {
                    await VisitAsync(session, query, entry.Path, entry.Name, entry.IsDirectory, info: null, depth + 1, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (FileNotFoundException) when (depth > 0)
        {
            session.Warn($"'{path}' does not exist");
        }
    }
}
