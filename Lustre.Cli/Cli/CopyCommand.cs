using System.CommandLine;
using System.Diagnostics;
using Lustre.Protocol;

namespace Lustre.Cli;

/// <summary>
/// <c>lustre cp [-r] SRC... DST</c> between the local filesystem and the cluster (<c>lustre:/path</c>) either way,
/// cluster to cluster, or from standard input (<c>-</c>). Files are copied four at a time, each in 16 MiB chunks
/// that fan out over its stripes; every destination file is flushed to disk (cluster: fsync on every OST object
/// and the size on the MDS) before the command exits 0.
/// </summary>
internal static class CopyCommand
{
    public const int FilesInParallel = 4;

    public static Command Create()
    {
        var recursive = new Option<bool>("--recursive", "-r", "-R") { Description = "Copy directories and their contents" };
        var arguments = new Argument<string[]>("SRC... DST")
        {
            Description = "Sources and a destination: local paths, lustre:/cluster/paths, or - for standard input",
            Arity = new ArgumentArity(2, 100_000),
        };
        return ClientCommand.Create("lustre", "cp", "Copy files and directories to, from and within the cluster, with progress", [recursive, arguments], async (session, parse, ct) =>
        {
            var values = parse.GetValue(arguments)!;
            if (Array.Exists(values, ClusterPath.IsCluster))
            {
                await session.ConnectAsync(ct).ConfigureAwait(false);
            }

            var jobs = new List<CopyJob>();
            var directories = new List<CopyLocation>();
            var exit = 0;
            var destination = CopyLocation.Parse(values[^1], () => session.Client);
            if (destination.IsStandardInput)
            {
                return session.Fail("cannot copy to '-': name a file or directory", 2);
            }

            var (destinationExists, destinationIsDirectory, _, destinationFid) = await destination.StatAsync(ct).ConfigureAwait(false);
            if (values.Length > 2 && !destinationIsDirectory)
            {
                return session.Fail(destination.Display, new DirectoryNotFoundException($"target '{destination.Display}' is not a directory"));
            }

            foreach (var argument in values[..^1])
            {
                var source = CopyLocation.Parse(argument, () => session.Client);
                try
                {
                    var (exists, isDirectory, length, fid) = await source.StatAsync(ct).ConfigureAwait(false);
                    if (!exists)
                    {
                        throw new FileNotFoundException(source.Display);
                    }

                    if (isDirectory && !parse.GetValue(recursive))
                    {
                        exit = session.Fail($"-r not specified; omitting directory '{source.Display}'");
                        continue;
                    }

                    if (source.IsStandardInput && destinationIsDirectory)
                    {
                        exit = session.Fail($"cannot copy standard input into directory '{destination.Display}': name the file");
                        continue;
                    }

                    // As POSIX: a trailing slash names a directory, which must exist (a directory source may create it).
                    if (!isDirectory && !destinationIsDirectory && ClusterPath.NamesDirectory(values[^1]))
                    {
                        exit = session.Fail($"{(destinationExists ? "failed to access" : "cannot create regular file")} '{values[^1]}': Not a directory");
                        continue;
                    }

                    // As cp: into an existing directory under the source's name, else to the destination name itself.
                    var target = destinationIsDirectory ? destination.Child(source.Name) : destination;
                    var (targetExists, targetIsDirectory, _, targetFid) = destinationIsDirectory ? await target.StatAsync(ct).ConfigureAwait(false) : (destinationExists, destinationIsDirectory, 0, destinationFid);
                    if (await RefuseAsync(session, source, fid, isDirectory, target, targetExists, targetIsDirectory, targetFid, ct).ConfigureAwait(false) is { } refusal)
                    {
                        exit = session.Fail(refusal);
                        continue;
                    }

                    if (isDirectory)
                    {
                        await PlanTreeAsync(source, target, jobs, directories, ct).ConfigureAwait(false);
                    }
                    else
                    {
                        jobs.Add(new CopyJob(source, target, length));
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    exit = session.Fail(source.Display, ex);
                }
            }

            if (jobs.Count == 0 && directories.Count == 0 && exit != 0)
            {
                // Everything was refused or failed: the messages said it all, as cp(1) prints nothing more.
                return exit;
            }

            foreach (var directory in directories)
            {
                await directory.CreateDirectoryAsync(ct).ConfigureAwait(false);
            }

            var failed = await RunAsync(session, jobs, ct).ConfigureAwait(false);
            return failed ? 1 : exit;
        }, connect: false);
    }

    /// <summary>
    /// Why copying <paramref name="source"/> to <paramref name="target"/> must not start, in coreutils' words, or null.
    /// Within the cluster the check is by FID: a file copied onto itself would be truncated before it is read.
    /// </summary>
    private static async Task<string?> RefuseAsync(CliSession session, CopyLocation source, LustreFid? sourceFid, bool sourceIsDirectory, CopyLocation target, bool targetExists, bool targetIsDirectory, LustreFid? targetFid, CancellationToken cancellationToken)
    {
        if (targetExists && sourceIsDirectory && !targetIsDirectory)
        {
            return $"cannot overwrite non-directory '{target.Display}' with directory '{source.Display}'";
        }

        if (sourceFid is not { } fid || !target.IsCluster)
        {
            return null;
        }

        if (targetFid == fid)
        {
            return $"'{source.Display}' and '{target.Display}' are the same file";
        }

        return sourceIsDirectory && await Subtree.ContainsAsync(session.Client, fid, target.Path, cancellationToken).ConfigureAwait(false)
            ? $"cannot copy a directory, '{source.Display}', into itself, '{target.Display}'"
            : null;
    }

    private static async Task PlanTreeAsync(CopyLocation source, CopyLocation target, List<CopyJob> jobs, List<CopyLocation> directories, CancellationToken cancellationToken)
    {
        directories.Add(target);
        await foreach (var (name, isDirectory) in source.ListAsync(cancellationToken).ConfigureAwait(false))
        {
            var child = source.Child(name);
            if (isDirectory)
            {
                await PlanTreeAsync(child, target.Child(name), jobs, directories, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var (_, _, length, _) = await child.StatAsync(cancellationToken).ConfigureAwait(false);
                jobs.Add(new CopyJob(child, target.Child(name), length));
            }
        }
    }

    /// <summary>Copies every job, at most <see cref="FilesInParallel"/> at once; returns true when any failed (each failure is reported).</summary>
    private static async Task<bool> RunAsync(CliSession session, List<CopyJob> jobs, CancellationToken cancellationToken)
    {
        CopyProgress progress = session.IsInteractive ? new CopyProgress.Bars() : new CopyProgress.Plain(session.Out);
        long total = 0;
        foreach (var job in jobs)
        {
            total = job.Length < 0 || total < 0 ? -1 : total + job.Length;
        }

        // Chunk buffers in flight over all files: bounds memory at 8 x 16 MiB.
        using var slots = new SemaphoreSlim(2 * ChunkedCopy.ChunksPerFile);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<(CopyJob Job, Exception Error)>();
        long copied = 0;
        await progress.RunAsync(total, async () =>
        {
            await Parallel.ForEachAsync(jobs, new ParallelOptions { MaxDegreeOfParallelism = FilesInParallel, CancellationToken = cancellationToken }, async (job, ct) =>
            {
                var clock = Stopwatch.StartNew();
                try
                {
                    var advance = progress.StartFile(job.Source.Name, job.Length);
                    var source = await job.Source.OpenReadAsync(ct).ConfigureAwait(false);
                    await using (source.ConfigureAwait(false))
                    {
                        var destination = await job.Destination.OpenWriteAsync(ct).ConfigureAwait(false);
                        await using (destination.ConfigureAwait(false))
                        {
                            var bytes = await ChunkedCopy.CopyAsync(source, destination, slots, advance, ct).ConfigureAwait(false);
                            Interlocked.Add(ref copied, bytes);
                            progress.FinishFile(job.Source.Display, job.Destination.Display, bytes, clock.Elapsed);
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
                {
                    failures.Enqueue((job, ex));
                }
            }).ConfigureAwait(false);
            return 0;
        }).ConfigureAwait(false);

        foreach (var (job, error) in failures)
        {
            session.Fail(job.Source.Display, error);
        }

        await session.Out.WriteLineAsync($"copied {CopyProgress.Summary(jobs.Count - failures.Count, copied, progress.Elapsed)}").ConfigureAwait(false);
        return !failures.IsEmpty;
    }

    private sealed record CopyJob(CopyLocation Source, CopyLocation Destination, long Length);
}
