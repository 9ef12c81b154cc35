using System.CommandLine;
using System.Globalization;
using Lustre.Client;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>Plain file commands on cluster paths (<c>/dir/file</c> or <c>lustre:/dir/file</c>): ls, stat, mkdir, rm, mv, cat, touch, chmod, chown.</summary>
internal static class FileCommands
{
    private const string Tool = "lustre";

    public static Command Ls()
    {
        var longFormat = new Option<bool>("-l") { Description = "Long listing: mode, links, owner, group, size, time, name" };
        var paths = new Argument<string[]>("PATH") { Description = "Directories or files (default /)", Arity = ArgumentArity.ZeroOrMore };
        return ClientCommand.Create(Tool, "ls", "List directory contents", [longFormat, paths], async (session, parse, ct) =>
        {
            var targets = parse.GetValue(paths) is { Length: > 0 } given ? given : ["/"];
            var exit = 0;
            for (var i = 0; i < targets.Length; i++)
            {
                var path = ClusterPath.Normalize(targets[i]);
                try
                {
                    var info = await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                    if (!info.IsDirectory)
                    {
                        WriteEntry(session.Out, info, info.Path, parse.GetValue(longFormat));
                        continue;
                    }

                    if (targets.Length > 1)
                    {
                        await session.Out.WriteLineAsync($"{(i > 0 ? "\n" : string.Empty)}{path}:").ConfigureAwait(false);
                    }

                    if (parse.GetValue(longFormat))
                    {
                        // Readdir-plus: the attributes come with the names, a request per page rather than a stat per entry.
                        await foreach (var entry in session.Client.EnumerateFileInfosAsync(path, ct).ConfigureAwait(false))
                        {
                            WriteEntry(session.Out, entry, entry.Name, longFormat: true);
                        }
                    }
                    else
                    {
                        await foreach (var entry in session.Client.EnumerateDirectoryAsync(path, ct).ConfigureAwait(false))
                        {
                            await session.Out.WriteLineAsync(entry.Name).ConfigureAwait(false);
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(path, ex);
                }
            }

            return exit;
        });
    }

    public static Command Stat()
    {
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "stat", "Show a file's or directory's attributes and FID", [paths], async (session, parse, ct) =>
            await ForEachPathAsync(session, parse.GetValue(paths)!, async path =>
            {
                var info = await session.Client.GetInfoAsync(path, ct).ConfigureAwait(false);
                var w = session.Out;
                w.WriteLine($"  File: {info.Path}");
                w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  Size: {info.Length,-15} Blocks: {(info.Length + 511) / 512,-10} IO Block: {IoBlock(info),-7} {(info.IsDirectory ? "directory" : info.Length == 0 ? "regular empty file" : "regular file")}"));
                w.WriteLine($"   FID: {info.Fid}  Links: {info.LinkCount}");
                w.WriteLine($"Access: ({Convert.ToString((int)info.Mode, 8).PadLeft(4, '0')}/{ModeString(info)})  Uid: ({info.UserId,5})   Gid: ({info.GroupId,5})");
                w.WriteLine($"Access: {Time(info.LastAccessTime)}");
                w.WriteLine($"Modify: {Time(info.LastWriteTime)}");
                w.WriteLine($"Change: {Time(info.ChangeTime)}");
            }).ConfigureAwait(false));
    }

    public static Command Mkdir()
    {
        var parents = new Option<bool>("--parents", "-p") { Description = "Make parent directories as needed; no error if the directory exists" };
        var paths = new Argument<string[]>("DIR") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "mkdir", "Make directories", [parents, paths], async (session, parse, ct) =>
            await ForEachPathAsync(session, parse.GetValue(paths)!, async path =>
            {
                if (!parse.GetValue(parents))
                {
                    await session.Client.CreateDirectoryAsync(path, ct).ConfigureAwait(false);
                    return;
                }

                await DirectoryTree.CreateAsync(session.Client, path, ct).ConfigureAwait(false);
            }).ConfigureAwait(false));
    }

    public static Command Rm()
    {
        var recursive = new Option<bool>("--recursive", "-r", "-R") { Description = "Remove directories and their contents" };
        var force = new Option<bool>("--force", "-f") { Description = "Ignore paths that do not exist" };
        var noPreserveRoot = new Option<bool>("--no-preserve-root") { Description = "Let -r remove everything under '/' (refused without it, as rm(1))" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "rm", "Remove files (and with -r, directories)", [recursive, force, noPreserveRoot, paths], async (session, parse, ct) =>
        {
            // As rm(1) --preserve-root: the root is refused however it is spelt ('//', '/.', '/a/..'); the other paths go on.
            var exit = 0;
            var targets = new List<string>();
            foreach (var argument in parse.GetValue(paths)!)
            {
                if (parse.GetValue(recursive) && !parse.GetValue(noPreserveRoot) && ClusterPath.Normalize(argument) == "/")
                {
                    session.Fail($"it is dangerous to operate recursively on '{argument}'{(argument == "/" ? string.Empty : " (same as '/')")}");
                    exit = session.Fail("use --no-preserve-root to override this failsafe");
                }
                else
                {
                    targets.Add(argument);
                }
            }

            var removed = await ForEachPathAsync(session, [.. targets], async path =>
            {
                var info = await LfsCommands.TryGetInfoAsync(session.Client, path, ct).ConfigureAwait(false);
                if (info is null)
                {
                    if (!parse.GetValue(force))
                    {
                        throw new FileNotFoundException(path);
                    }
                }
                else if (!info.IsDirectory)
                {
                    await session.Client.DeleteFileAsync(path, ct).ConfigureAwait(false);
                }
                else if (!parse.GetValue(recursive))
                {
                    throw new LustreServerException(LustreErrno.EISDIR, "is a directory", Tool);
                }
                else if (path == "/")
                {
                    // --no-preserve-root: everything under the root goes; the root itself cannot be removed and stays.
                    var entries = new List<LustreDirectoryEntry>();
                    await foreach (var entry in session.Client.EnumerateDirectoryAsync(path, ct).ConfigureAwait(false))
                    {
                        entries.Add(entry);
                    }

                    foreach (var entry in entries)
                    {
                        await DirectoryTree.DeleteAsync(session.Client, entry.Path, entry.IsDirectory, ct).ConfigureAwait(false);
                    }
                }
                else
                {
                    await DirectoryTree.DeleteAsync(session.Client, path, isDirectory: true, ct).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);
            return Math.Max(exit, removed);
        });
    }

    public static Command Mv()
    {
        var source = new Argument<string>("SOURCE");
        var destination = new Argument<string>("DEST") { Description = "New name, or an existing directory to move into" };
        return ClientCommand.Create(Tool, "mv", "Rename or move a file or directory (atomic)", [source, destination], async (session, parse, ct) =>
        {
            var from = ClusterPath.Normalize(parse.GetValue(source)!);
            var destinationArgument = parse.GetValue(destination)!;
            var to = ClusterPath.Normalize(destinationArgument);
            try
            {
                var moved = await session.Client.GetInfoAsync(from, ct).ConfigureAwait(false);
                var existing = await LfsCommands.TryGetInfoAsync(session.Client, to, ct).ConfigureAwait(false);
                if (existing is { IsDirectory: true })
                {
                    to = LustrePath.Combine(to, LustrePath.FileName(from));
                    existing = await LfsCommands.TryGetInfoAsync(session.Client, to, ct).ConfigureAwait(false);
                }
                else if (!moved.IsDirectory && ClusterPath.NamesDirectory(destinationArgument))
                {
                    // As POSIX: a trailing slash names a directory, which must exist.
                    return session.Fail($"cannot move '{from}' to '{destinationArgument}': Not a directory");
                }

                // The MDS would take a rename onto itself as done; mv(1) says what the user got wrong.
                if (existing?.Fid == moved.Fid)
                {
                    return session.Fail($"'{from}' and '{to}' are the same file");
                }

                if (moved.IsDirectory && await Subtree.ContainsAsync(session.Client, moved.Fid, to, ct).ConfigureAwait(false))
                {
                    return session.Fail($"cannot move '{from}' to a subdirectory of itself, '{to}'");
                }

                await session.Client.RenameAsync(from, to, ct).ConfigureAwait(false);
                return 0;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                return session.Fail(from, ex);
            }
        });
    }

    public static Command Cat()
    {
        var paths = new Argument<string[]>("FILE") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "cat", "Write files to standard output", [paths], async (session, parse, ct) =>
        {
            var output = session.OpenStandardOutput();
            await using (output.ConfigureAwait(false))
            {
                var buffer = new byte[ChunkedCopy.ChunkSize];
                return await ForEachPathAsync(session, parse.GetValue(paths)!, async path =>
                {
                    var file = await session.Client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: ct).ConfigureAwait(false);
                    await using (file.ConfigureAwait(false))
                    {
                        long offset = 0;
                        int read;
                        while ((read = await file.ReadAtAsync(offset, buffer, ct).ConfigureAwait(false)) > 0)
                        {
                            await output.WriteAsync(buffer.AsMemory(0, read), ct).ConfigureAwait(false);
                            offset += read;
                        }
                    }
                }).ConfigureAwait(false);
            }
        });
    }

    public static Command Touch()
    {
        var paths = new Argument<string[]>("FILE") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "touch", "Create empty files, or set the times of existing ones to now", [paths], async (session, parse, ct) =>
            await ForEachPathAsync(session, parse.GetValue(paths)!, async path =>
            {
                if (await session.Client.ExistsAsync(path, ct).ConfigureAwait(false))
                {
                    var now = DateTimeOffset.UtcNow;
                    await session.Client.SetTimesAsync(path, now, now, ct).ConfigureAwait(false);
                    return;
                }

                var file = await session.Client.OpenFileAsync(path, FileMode.OpenOrCreate, cancellationToken: ct).ConfigureAwait(false);
                await file.DisposeAsync().ConfigureAwait(false);
            }).ConfigureAwait(false));
    }

    public static Command Chmod()
    {
        var mode = new Argument<string>("MODE") { Description = "Octal permission bits, 0-7777 (e.g. 640, 1777)" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "chmod", "Change the permission bits of files and directories (their owner or root may)", [mode, paths], async (session, parse, ct) =>
        {
            var text = parse.GetValue(mode)!;
            if (text.Length is 0 or > 4 || !text.All(c => c is >= '0' and <= '7'))
            {
                await session.Error.WriteLineAsync($"{Tool} chmod: invalid mode '{text}': give octal digits, 0-7777").ConfigureAwait(false);
                return 2;
            }

            var bits = (UnixFileMode)Convert.ToInt32(text, 8);
            return await ForEachPathAsync(session, parse.GetValue(paths)!, path => session.Client.SetModeAsync(path, bits, ct)).ConfigureAwait(false);
        });
    }

    public static Command Chown()
    {
        var owner = new Argument<string>("OWNER") { Description = "UID, UID:GID or :GID, as numbers (the cluster knows ids, not names)" };
        var paths = new Argument<string[]>("PATH") { Arity = ArgumentArity.OneOrMore };
        return ClientCommand.Create(Tool, "chown", "Change the owner and group of files and directories (root gives files away; owners only to their groups)", [owner, paths], async (session, parse, ct) =>
        {
            var text = parse.GetValue(owner)!;
            var parts = text.Split(':');
            uint? Id(string part) => part.Length == 0 ? null : uint.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : throw new FormatException();
            uint? uid;
            uint? gid;
            try
            {
                (uid, gid) = parts.Length switch { 1 => (Id(parts[0]), null), 2 => (Id(parts[0]), Id(parts[1])), _ => throw new FormatException() };
            }
            catch (FormatException)
            {
                uid = gid = null;
            }

            if (uid is null && gid is null)
            {
                await session.Error.WriteLineAsync($"{Tool} chown: invalid owner '{text}': give UID, UID:GID or :GID as numbers").ConfigureAwait(false);
                return 2;
            }

            return await ForEachPathAsync(session, parse.GetValue(paths)!, path => session.Client.SetOwnerAsync(path, uid, gid, ct)).ConfigureAwait(false);
        });
    }

    /// <summary>Runs the work for every path; a failure is reported as <c>'path': reason</c> and the rest still run, as coreutils do.</summary>
    private static async Task<int> ForEachPathAsync(CliSession session, string[] arguments, Func<string, Task> work)
    {
        var exit = 0;
        foreach (var argument in arguments)
        {
            var path = ClusterPath.Normalize(argument);
            try
            {
                await work(path).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
            {
                exit = session.Fail(path, ex);
            }
        }

        return exit;
    }

    private static void WriteEntry(TextWriter writer, LustreFileInfo info, string name, bool longFormat)
    {
        if (!longFormat)
        {
            writer.WriteLine(name);
            return;
        }

        writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{ModeString(info)} {info.LinkCount,2} {info.UserId,5} {info.GroupId,5} {info.Length,12} {ListTime(info.LastWriteTime)} {name}"));
    }

    private static long IoBlock(LustreFileInfo info) => info.Layout?.Components[0].StripeSize ?? 4096;

    internal static string ModeString(LustreFileInfo info)
    {
        Span<char> text = stackalloc char[10];
        text[0] = info.IsDirectory ? 'd' : '-';
        var mode = (int)info.Mode;
        const string Letters = "rwxrwxrwx";
        for (var i = 0; i < 9; i++)
        {
            text[i + 1] = (mode & (1 << (8 - i))) != 0 ? Letters[i] : '-';
        }

        return new string(text);
    }

    private static string Time(DateTimeOffset time) => time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss.fffffff +0000", CultureInfo.InvariantCulture);

    // As ls: month, day and time for the last six months, else month, day and year.
    private static string ListTime(DateTimeOffset time)
    {
        var utc = time.ToUniversalTime();
        return (DateTimeOffset.UtcNow - utc).TotalDays < 182
            ? utc.ToString("MMM dd HH:mm", CultureInfo.InvariantCulture)
            : utc.ToString("MMM dd  yyyy", CultureInfo.InvariantCulture);
    }
}
