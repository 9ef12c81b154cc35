using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Lustre.Diagnostics;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Migration;
using Lustre.Namespace;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Client;

/// <summary>
/// The entry point to a filesystem: made from an address such as <c>127.0.0.1:9880/lustre</c>, it finds the
/// targets through the MGS, does metadata through the MDS and moves file data straight to and from the OSTs.
/// Thread-safe; make one per process and share it. Methods are virtual so tests can substitute it.
/// </summary>
public class LustreClient : IAsyncDisposable
{
    private readonly FilesystemSession? _session;

    /// <summary>For test doubles only.</summary>
    protected LustreClient()
    {
    }

    /// <summary>Creates a client; no connection is made until the first call.</summary>
    /// <param name="address">MGS address(es) and filesystem name: <c>host:port[,host:port]/fsname</c>.</param>
    /// <param name="options">Settings; null for the defaults.</param>
    public LustreClient(string address, LustreClientOptions? options = null)
    {
        var parsed = LustreAddress.Parse(address);
        options ??= new LustreClientOptions();
        options.Validate();
        var loggers = options.LoggerFactory ?? NullLoggerFactory.Instance;
        _session = new FilesystemSession(parsed, options, loggers.CreateLogger("Lustre.Sdk"));
    }

    /// <summary>The filesystem name from the address.</summary>
    public virtual string FsName => _session?.FsName ?? string.Empty;

    internal LustreClientOptions Options => Session.Options;

    internal FilesystemSession Session => _session ?? throw new InvalidOperationException("This LustreClient was made for a test double.");

    /// <summary>A logger of <paramref name="category"/> from the options' logger factory (none for a test double): for the SDK's parts built on a client.</summary>
    internal ILogger CreateLogger(string category) => _session?.Options.LoggerFactory?.CreateLogger(category) ?? NullLogger.Instance;

    private TargetTable Targets => Session.Targets;

    /// <summary>Re-reads the target list from the MGS (new or deactivated OSTs).</summary>
    public virtual async Task RefreshConfigurationAsync(CancellationToken cancellationToken = default) =>
        await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// This client's parameters, as <c>lctl get_param</c> (or <c>list_param</c>, for directories) shows a Lustre client
    /// node's: <c>osc.*.max_rpcs_in_flight</c>, <c>osc.*.max_pages_per_rpc</c>, <c>llite.*.max_read_ahead_per_file_mb</c>,
    /// <c>jobid_var</c>, ... (docs/operations.md lists them). The pattern is matched as lctl matches it: a glob per
    /// dot-separated component. Fetches the configuration first, so that every OST has its <c>osc</c> device.
    /// </summary>
    /// <param name="pattern">A parameter name with globs: <c>osc.*.max_rpcs_in_flight</c>, <c>llite.*.*</c>.</param>
    /// <param name="cancellationToken">Cancels the wait for the configuration.</param>
    /// <returns>The parameters and directories the pattern names, in name order; none when it names nothing.</returns>
    public virtual async Task<IReadOnlyList<LustreParameter>> GetParametersAsync(string pattern, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var entries = Session.Parameters.Tree.Match(pattern, recursive: false);
        var result = new List<LustreParameter>(entries.Count);
        foreach (var entry in entries)
        {
            result.Add(new LustreParameter(entry.Name, entry.Parameter?.Read(), entry.Parameter?.IsWritable ?? false));
        }

        return result;
    }

    /// <summary>
    /// Changes this client's parameters at run time, as <c>lctl set_param PATTERN=VALUE</c> on a Lustre client: every
    /// parameter the pattern names is checked first, and none changes unless all accept the value. Settings last for this
    /// client's life; <c>lustre lctl set_param -P</c> stores one on the MGS for every client that connects later.
    /// </summary>
    /// <param name="pattern">A parameter name with globs: <c>osc.*.max_rpcs_in_flight</c>.</param>
    /// <param name="value">The new value: <c>16</c>.</param>
    /// <param name="cancellationToken">Cancels the wait for the configuration.</param>
    /// <returns>The names of the parameters changed.</returns>
    /// <exception cref="KeyNotFoundException">The pattern names no parameter.</exception>
    /// <exception cref="UnauthorizedAccessException">A parameter it names is read-only.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is outside a parameter's range (the message names it and the range).</exception>
    /// <exception cref="ArgumentException">The value is not one a parameter takes.</exception>
    public virtual async Task<IReadOnlyList<string>> SetParametersAsync(string pattern, string value, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(pattern);
        ArgumentNullException.ThrowIfNull(value);
        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var tree = Session.Parameters.Tree;
        foreach (var check in tree.Set(pattern, value, checkOnly: true))
        {
            switch (check.Status)
            {
                case LustreErrno.None:
                    break;
                case LustreErrno.ENOENT:
                    throw new KeyNotFoundException($"No parameter of this client matches '{pattern}'.");
                case LustreErrno.EACCES:
                    throw new UnauthorizedAccessException($"{check.Message}: set_param refused.");
                case LustreErrno.ERANGE:
                    throw new ArgumentOutOfRangeException(nameof(value), value, check.Message);
                default:
                    throw new ArgumentException(check.Message, nameof(value));
            }
        }

        var changed = new List<string>();
        foreach (var result in tree.Set(pattern, value, checkOnly: false))
        {
            changed.Add(result.Name);
        }

        return changed;
    }

    private static string CheckPath(string path, [CallerArgumentExpression(nameof(path))] string? name = null)
    {
        var error = LustrePath.Check(path);
        return error is null ? LustrePath.Canonical(path) : throw new ArgumentException(error, name);
    }

    /// <summary>
    /// Sets the permission bits of a file or directory (<c>chmod</c>): its owner or root may. Permissions are enforced
    /// for clients that prove a client key with an identity (docs/security.md); other clients act as root.
    /// </summary>
    /// <param name="path">The file or directory.</param>
    /// <param name="mode">The permission bits, set-id and sticky bits (<see cref="UnixFileMode"/>).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The attributes after the change.</returns>
    public virtual async Task<LustreFileInfo> SetModeAsync(string path, UnixFileMode mode, CancellationToken cancellationToken = default)
    {
        if (((int)mode & ~0xFFF) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only permission, set-id and sticky bits (0-07777) can be set.");
        }

        return await SetAttributesAsync(path, fid => new SetAttrRequest(fid, SetAttrMask.Mode, 0, (uint)mode, 0, 0, 0, 0), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sets the owner and group of a file or directory (<c>chown</c>): only root may give it to another user; its owner
    /// may give it to one of their own groups.
    /// </summary>
    /// <param name="path">The file or directory.</param>
    /// <param name="userId">The new owner, or null to keep it.</param>
    /// <param name="groupId">The new group, or null to keep it.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The attributes after the change.</returns>
    public virtual async Task<LustreFileInfo> SetOwnerAsync(string path, uint? userId, uint? groupId, CancellationToken cancellationToken = default)
    {
        var mask = (userId is null ? SetAttrMask.None : SetAttrMask.Uid) | (groupId is null ? SetAttrMask.None : SetAttrMask.Gid);
        return await SetAttributesAsync(path, fid => new SetAttrRequest(fid, mask, 0, 0, userId ?? 0, groupId ?? 0, 0, 0), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A setattr of the file or directory at <paramref name="path"/> (the MDS changes inodes by FID).</summary>
    private async Task<LustreFileInfo> SetAttributesAsync(string path, Func<LustreFid, SetAttrRequest> request, CancellationToken cancellationToken)
    {
        var info = await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        return new LustreFileInfo(info.Path, await Session.SetAttributesAsync(request(info.Fid), info.Path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Returns the attributes of a file or directory. Throws <see cref="FileNotFoundException"/> when there is none.</summary>
    public virtual async Task<LustreFileInfo> GetInfoAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var statAhead = Session.StatAhead;
        if (statAhead.TryTake(path, out var leased, out _, out var release))
        {
            Session.ReleaseStatAheadLease(release);
            return new LustreFileInfo(path, leased);
        }

        if (statAhead.PlanFor(path) is { } plan)
        {
            return await StatAheadAsync(path, statAhead, plan, cancellationToken).ConfigureAwait(false);
        }

        using var frame = FrameBuffer.Rent();
        new PathRequest(path).Write(frame.Body);
        var attributes = await Session.CallForAttributesAsync(Opcode.MdsGetAttr, frame, path, cancellationToken).ConfigureAwait(false);
        return await ToInfoAsync(path, attributes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// A stat that asks for the names after it too, under a lease (<see cref="StatAhead"/>), and answers the first; the
    /// others are read into the stream's answers without a string or result object each.
    /// </summary>
    private async Task<LustreFileInfo> StatAheadAsync(string path, StatAhead statAhead, StatAhead.Plan plan, CancellationToken cancellationToken)
    {
        var (first, _) = await LeasedBatchAsync(path, statAhead, plan, OpenFlags.None, cancellationToken).ConfigureAwait(false);
        if (first.Status != 0)
        {
            throw Session.MdsError(first.Status, first.Message, path);
        }

        return await ToInfoAsync(path, first.Attributes!, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Sends a planned statahead batch: stats, or with <see cref="OpenFlags.Read"/> opens for reading that bring the bytes
    /// of files that live on the MDT. Keeps the answers after the first in <paramref name="statAhead"/> (whose lease the
    /// client releases when it is done with them) and returns the first, with its file's bytes when the batch brought
    /// them (an array of <see cref="ArrayPool{T}.Shared"/>).
    /// </summary>
    private async Task<(GetAttrResult First, byte[]? Opened)> LeasedBatchAsync(string path, StatAhead statAhead, StatAhead.Plan plan, OpenFlags flags, CancellationToken cancellationToken)
    {
        var readOnOpen = flags == OpenFlags.Read ? ReadOnOpenBytes : 0;
        GetAttrResult first;
        InodeAttributes?[] answers;
        byte[]?[]? data = null;
        TimeSpan lease;
        ulong id;
        var sent = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            using var frame = FrameBuffer.Rent();
            GetAttrBatchRequest.WriteNumbered(frame.Body, plan.Prefix, plan.Number, plan.Count, plan.Width, flags, readOnOpen);
            using var reply = await Session.CallMdsAsync(Opcode.MdsGetAttrBatch, frame, path, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            answers = new InodeAttributes?[CheckAnswered(GetAttrBatchReply.ReadCount(ref reader), plan.Count)];
            first = GetAttrResult.Read(ref reader);
            for (var i = 1; i < answers.Length; i++)
            {
                answers[i] = GetAttrResult.ReadAttributes(ref reader);
            }

            (lease, id) = GetAttrBatchReply.ReadLease(ref reader);
            if (readOnOpen > 0)
            {
                data = GetAttrBatchReply.ReadData(ref reader, answers.Length, readOnOpen, first.Attributes, answers);
            }
        }
        catch
        {
            statAhead.Abandon(plan);
            throw;
        }

        var opened = data?[0];
        if (data is not null)
        {
            data[0] = null;
        }

        Session.ReleaseStatAheadLease(statAhead.Complete(plan, answers, data, lease, id, sent));
        return (first, opened);
    }

    /// <summary>
    /// Returns the attributes of many files and directories in as few requests as possible: one per up to 1,024 paths
    /// (a reply answers fewer when it would pass 256 KiB, and the rest are asked again), instead of one per path.
    /// Each path is looked up as <see cref="GetInfoAsync(string, CancellationToken)"/> would look it up, with the same
    /// permission checks, and a path that fails does not fail the others: its result carries the exception that call
    /// would have thrown (<see cref="FileNotFoundException"/>, <see cref="UnauthorizedAccessException"/>,
    /// <see cref="LustreServerException"/>). The call itself throws only when no answer can be had (the MDS unreachable,
    /// cancellation).
    /// </summary>
    /// <param name="paths">Absolute paths; the same path may appear more than once.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>One result per path, in the order of <paramref name="paths"/>.</returns>
    /// <exception cref="ArgumentException">A path is not a valid absolute path (the exception names it).</exception>
    public virtual async Task<IReadOnlyList<LustreFileInfoResult>> GetInfoAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        var normalized = CheckPaths(paths);
        var answers = await GetAttrBatchAsync(normalized, OpenFlags.None, cancellationToken).ConfigureAwait(false);
        var results = new LustreFileInfoResult[normalized.Length];
        for (var i = 0; i < results.Length; i++)
        {
            var path = normalized[i];
            if (answers[i].Status != 0)
            {
                results[i] = new LustreFileInfoResult(path, null, Session.MdsError(answers[i].Status, answers[i].Message, path));
                continue;
            }

            try
            {
                results[i] = new LustreFileInfoResult(path, await ToInfoAsync(path, answers[i].Attributes!, cancellationToken).ConfigureAwait(false), null);
            }
            catch (IOException ex)
            {
                // Only a file open for write elsewhere is glimpsed; an OST that does not answer fails that file alone.
                results[i] = new LustreFileInfoResult(path, null, ex);
            }
        }

        return results;
    }

    /// <summary>
    /// Opens many existing files for reading in as few requests as possible (as
    /// <see cref="GetInfoAsync(IEnumerable{string}, CancellationToken)"/> batches them): for datasets of one file per
    /// sample, where an open each would cost a round trip each. Each file is checked and opened as
    /// <see cref="OpenFileAsync"/> with <see cref="FileMode.Open"/> and <see cref="FileAccess.Read"/> opens it. A file
    /// open for reading holds nothing on the servers, so this is all or nothing: when a path cannot be opened, the call
    /// throws what <see cref="OpenFileAsync"/> would have thrown for it (the first such path in order) and opens none.
    /// </summary>
    /// <param name="paths">Absolute paths of files; the same path may appear more than once.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Read-only files, in the order of <paramref name="paths"/>.</returns>
    /// <exception cref="ArgumentException">A path is not a valid absolute path (the exception names it).</exception>
    /// <exception cref="FileNotFoundException">No file at a path.</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of a path is missing or is a file.</exception>
    /// <exception cref="UnauthorizedAccessException">A path is a directory, or read permission is denied.</exception>
    public virtual async Task<IReadOnlyList<LustreFile>> OpenFilesAsync(IEnumerable<string> paths, CancellationToken cancellationToken = default)
    {
        var normalized = CheckPaths(paths);
        var answers = await GetAttrBatchAsync(normalized, OpenFlags.Read, cancellationToken).ConfigureAwait(false);
        var files = new LustreFile[normalized.Length];
        for (var i = 0; i < files.Length; i++)
        {
            if (answers[i].Status != 0)
            {
                throw await OpenFailureAsync(normalized[i], answers[i], cancellationToken).ConfigureAwait(false);
            }

            files[i] = new LustreFile(Session, normalized[i], answers[i].Attributes!, writable: false);
            await Session.EnsureOstsKnownAsync(files[i].Layout, cancellationToken).ConfigureAwait(false);
        }

        return files;
    }

    /// <summary>What an open for reading of <paramref name="path"/> throws when a batch answered it with <paramref name="failed"/>.</summary>
    private async Task<Exception> OpenFailureAsync(string path, GetAttrResult failed, CancellationToken cancellationToken)
    {
        var error = Session.MdsError(failed.Status, failed.Message, path);
        return error is FileNotFoundException or LustreServerException { Errno: LustreErrno.ENOTDIR or LustreErrno.EISDIR }
            ? await OpenErrorAsync(path, error, creating: false, cancellationToken).ConfigureAwait(false)
            : error;
    }

    private static string[] CheckPaths(IEnumerable<string> paths, [CallerArgumentExpression(nameof(paths))] string? name = null)
    {
        ArgumentNullException.ThrowIfNull(paths, name);
        var normalized = new List<string>(paths is IReadOnlyCollection<string> known ? known.Count : 16);
        foreach (var path in paths)
        {
            var error = LustrePath.Check(path);
            if (error is not null)
            {
                throw new ArgumentException($"path {normalized.Count} ('{path}'): {error}", name);
            }

            normalized.Add(LustrePath.Canonical(path));
        }

        return [.. normalized];
    }

    /// <summary>
    /// Sends <paramref name="paths"/> in batched getattrs (<see cref="Opcode.MdsGetAttrBatch"/>) of at most
    /// <see cref="ProtocolLimits.MaxBatchPaths"/> paths and <see cref="ProtocolLimits.MaxMetadataPageBytes"/> of request,
    /// one after another, each resumed where the MDS's reply stopped; returns one answer per path, in order.
    /// </summary>
    private async Task<GetAttrResult[]> GetAttrBatchAsync(string[] paths, OpenFlags flags, CancellationToken cancellationToken)
    {
        var results = new GetAttrResult[paths.Length];
        var next = 0;
        while (next < paths.Length)
        {
            var count = 0;
            var bytes = 0;
            while (next + count < paths.Length && count < ProtocolLimits.MaxBatchPaths)
            {
                var size = 2 + System.Text.Encoding.UTF8.GetByteCount(paths[next + count]);
                if (count > 0 && bytes + size > ProtocolLimits.MaxMetadataPageBytes)
                {
                    break;
                }

                bytes += size;
                count++;
            }

            IReadOnlyList<GetAttrResult> answered;
            using (var frame = FrameBuffer.Rent(64 + bytes))
            {
                new GetAttrBatchRequest(flags, new ArraySegment<string>(paths, next, count)).Write(frame.Body);
                using var reply = await Session.CallMdsAsync(Opcode.MdsGetAttrBatch, frame, paths[next], cancellationToken).ConfigureAwait(false);
                var reader = reply.Reader;
                answered = GetAttrBatchReply.Read(ref reader).Results;
            }

            CheckAnswered(answered.Count, count);
            for (var i = 0; i < answered.Count; i++)
            {
                results[next + i] = answered[i];
            }

            next += answered.Count;
        }

        return results;
    }

    /// <summary>Returns <paramref name="answered"/>, the results of a batched getattr of <paramref name="asked"/> paths, when it is at least one and at most all.</summary>
    private int CheckAnswered(int answered, int asked) => answered >= 1 && answered <= asked
        ? answered
        : throw new LustreException($"{TargetNames.Mdt(FsName)} answered {answered} of the {asked} paths of a batched getattr: it must answer at least one and at most all", LustreErrno.EPROTO, isTransient: false);

    /// <summary>
    /// The info of attributes the MDS sent. For a file some client has open for write, the size comes from its OSTs (a
    /// glimpse): a writer may hold data the MDS has not heard of yet, so the size is the furthest byte any object holds.
    /// </summary>
    private async ValueTask<LustreFileInfo> ToInfoAsync(string path, InodeAttributes attributes, CancellationToken cancellationToken)
    {
        if ((attributes.Flags & InodeFlags.OpenForWrite) == 0 || attributes.Type != EntryType.File || attributes.Layout.Length == 0)
        {
            return new LustreFileInfo(path, attributes);
        }

        var layout = LayoutCodec.Decode(attributes.Layout);
        await Session.EnsureOstsKnownAsync(layout, cancellationToken).ConfigureAwait(false);
        var glimpsed = await StripedIo.GlimpseAsync(Session, path, layout, cancellationToken).ConfigureAwait(false);
        return new LustreFileInfo(path, attributes, Math.Max(glimpsed, attributes.Size));
    }

    /// <summary>True when a file or directory exists at <paramref name="path"/>.</summary>
    public virtual async Task<bool> ExistsAsync(string path, CancellationToken cancellationToken = default)
    {
        try
        {
            await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
        catch (LustreServerException ex) when (ex.Errno == LustreErrno.ENOTDIR)
        {
            // A path below a file: nothing can exist there.
            return false;
        }
    }

    /// <summary>Creates a directory; its parent must exist.</summary>
    public virtual async Task<LustreFileInfo> CreateDirectoryAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = FrameBuffer.Rent();
        new MkdirRequest(path, 0x1ED).Write(frame.Body);
        return new LustreFileInfo(path, await Session.CallForAttributesAsync(Opcode.MdsMkdir, frame, path, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>Deletes a file; its OST objects are destroyed in the background.</summary>
    public virtual async Task DeleteFileAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = FrameBuffer.Rent();
        new PathRequest(path).Write(frame.Body);
        using var reply = await Session.CallMdsAsync(Opcode.MdsUnlink, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes an empty directory.</summary>
    public virtual async Task DeleteDirectoryAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        using var frame = FrameBuffer.Rent();
        new PathRequest(path).Write(frame.Body);
        using var reply = await Session.CallMdsAsync(Opcode.MdsRmdir, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renames atomically, replacing a file (or empty directory) at <paramref name="destinationPath"/> as POSIX rename does.</summary>
    public virtual async Task RenameAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken = default)
    {
        sourcePath = CheckPath(sourcePath);
        destinationPath = CheckPath(destinationPath);
        using var frame = FrameBuffer.Rent();
        new RenameRequest(sourcePath, destinationPath).Write(frame.Body);
        using var reply = await Session.CallMdsAsync(Opcode.MdsRename, frame, sourcePath, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Lists a directory in name order, a page at a time under the hood. For each entry's attributes too, use
    /// <see cref="EnumerateFileInfosAsync"/>: a request per page instead of a <see cref="GetInfoAsync(string, CancellationToken)"/> per entry.
    /// </summary>
    public virtual async IAsyncEnumerable<LustreDirectoryEntry> EnumerateDirectoryAsync(
        string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var cookie = string.Empty;
        while (true)
        {
            ReadDirReply page;
            using (var frame = FrameBuffer.Rent())
            {
                new ReadDirRequest(path, cookie, 512).Write(frame.Body);
                using var reply = await Session.CallMdsAsync(Opcode.MdsReadDir, frame, path, cancellationToken).ConfigureAwait(false);
                var reader = reply.Reader;
                page = ReadDirReply.Read(ref reader);
            }

            foreach (var entry in page.Entries)
            {
                yield return new LustreDirectoryEntry(LustrePath.Combine(path, entry.Name), entry.Name, entry.Type == EntryType.Directory, entry.Fid);
            }

            if (page.End || page.Entries.Count == 0)
            {
                yield break;
            }

            cookie = page.Entries[^1].Name;
        }
    }

    /// <summary>
    /// Lists a directory in name order with every entry's attributes and layout, as <c>ls -l</c> or <c>lfs find</c> need
    /// them: one request per page of up to 1,024 entries (readdir-plus), instead of a listing and then a stat per entry.
    /// Each entry is what <see cref="GetInfoAsync(string, CancellationToken)"/> would have returned when its page was
    /// read (a file open for write elsewhere gets its size from its OSTs, as there). Needs read and search permission on
    /// the directory, as listing it and stat'ing its entries do. Pages are read as the enumeration reaches them: an entry
    /// present for the whole enumeration comes exactly once, whatever is created or removed meanwhile; one created or
    /// removed meanwhile may come or not, and one renamed meanwhile may come under both names or neither.
    /// </summary>
    /// <param name="path">The directory.</param>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <exception cref="FileNotFoundException">No directory at <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">Read or search permission on the directory (or search on a parent) is denied.</exception>
    /// <exception cref="LustreServerException"><paramref name="path"/> is not a directory (ENOTDIR).</exception>
    public virtual async IAsyncEnumerable<LustreFileInfo> EnumerateFileInfosAsync(
        string path, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var cookie = string.Empty;
        while (true)
        {
            ReadDirPlusReply page;
            using (var frame = FrameBuffer.Rent())
            {
                new ReadDirPlusRequest(path, cookie, ProtocolLimits.MaxDirectoryPageEntries, ProtocolLimits.MaxMetadataPageBytes).Write(frame.Body);
                using var reply = await Session.CallMdsAsync(Opcode.MdsReadDirPlus, frame, path, cancellationToken).ConfigureAwait(false);
                var reader = reply.Reader;
                page = ReadDirPlusReply.Read(ref reader);
            }

            foreach (var entry in page.Entries)
            {
                yield return await ToInfoAsync(LustrePath.Combine(path, entry.Name), entry.Attributes, cancellationToken).ConfigureAwait(false);
            }

            if (page.End || page.Entries.Count == 0)
            {
                yield break;
            }

            cookie = page.Entries[^1].Name;
        }
    }

    /// <summary>
    /// Opens a file for positional, parallel reads and writes. <paramref name="mode"/>: <see cref="FileMode.Open"/>,
    /// <see cref="FileMode.OpenOrCreate"/>, <see cref="FileMode.CreateNew"/>, <see cref="FileMode.Create"/> (truncates) or
    /// <see cref="FileMode.Truncate"/>. A new file gets <paramref name="layout"/>, else its directory's default layout.
    /// The parameters come in the order of <see cref="File.Open(string, FileMode, FileAccess)"/>, as in <see cref="OpenStreamAsync"/>.
    /// </summary>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/> (opening without creating).</exception>
    /// <exception cref="DirectoryNotFoundException">A directory of the path is missing or is a file, as <see cref="FileStream"/> says.</exception>
    /// <exception cref="UnauthorizedAccessException">The path is a directory (as <see cref="FileStream"/> says), or permission is denied.</exception>
    public virtual Task<LustreFile> OpenFileAsync(
        string path, FileMode mode = FileMode.Open, FileAccess access = FileAccess.ReadWrite, FileLayout? layout = null, CancellationToken cancellationToken = default) =>
        OpenFileCoreAsync(path, mode, access, layout, cancellationToken).AsTask();

    // The open's state lives in a pooled box: the caller's task is then a small task over it rather than a box as large
    // as everything the open keeps across its awaits (a create + close allocated a quarter of its bytes there).
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<LustreFile> OpenFileCoreAsync(string path, FileMode mode, FileAccess access, FileLayout? layout, CancellationToken cancellationToken)
    {
        path = CheckPath(path);
        if (access == FileAccess.Read && mode != FileMode.Open)
        {
            throw new ArgumentException($"FileMode.{mode} needs write access; open read-only files with FileMode.Open.", nameof(access));
        }

        var flags = mode switch
        {
            FileMode.Open or FileMode.Truncate => OpenFlags.None,
            FileMode.OpenOrCreate or FileMode.Create => OpenFlags.Create,
            FileMode.CreateNew => OpenFlags.Create | OpenFlags.Exclusive,
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, "Append is not supported by OpenFileAsync; write at Length instead, or use OpenStreamAsync."),
        };
        var writer = (access & FileAccess.Write) != 0;
        if (writer)
        {
            flags |= OpenFlags.Write;
        }

        if ((access & FileAccess.Read) != 0)
        {
            flags |= OpenFlags.Read;
        }

        if (layout is not null && layout.AllObjects().Any())
        {
            throw new ArgumentException("A layout for a new file must not name OST objects; the MDS allocates them.", nameof(layout));
        }

        // Opens for reading of names that count up are answered from leased batches, with the bytes of small files.
        if (mode == FileMode.Open && access == FileAccess.Read)
        {
            var openAhead = Session.OpenAhead;
            if (openAhead.TryTake(path, out var leased, out var data, out var release))
            {
                Session.ReleaseStatAheadLease(release);
                return await WithOstsKnownAsync(new LustreFile(Session, path, leased, writable: false, data), cancellationToken).ConfigureAwait(false);
            }

            if (openAhead.PlanFor(path) is { } plan)
            {
                return await OpenAheadAsync(path, openAhead, plan, cancellationToken).ConfigureAwait(false);
            }
        }

        var encoded = layout is null ? [] : LayoutCodec.Encode(layout);
        using var frame = FrameBuffer.Rent(256 + encoded.Length);

        // An open for reading only asks for the file's bytes with the reply (read-on-open): a file whose bytes all live on
        // the MDT (Data-on-MDT) is then opened and read in one round trip.
        var readOnOpen = writer ? 0 : ReadOnOpenBytes;
        new OpenRequest(path, flags, 0x1A4, encoded, readOnOpen).Write(frame.Body);
        InodeAttributes attributes;
        byte[]? opened;
        try
        {
            (attributes, opened) = await OpenAsync(frame, path, readOnOpen, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or LustreServerException { Errno: LustreErrno.ENOTDIR or LustreErrno.EISDIR })
        {
            throw await OpenErrorAsync(path, ex, (flags & OpenFlags.Create) != 0, cancellationToken).ConfigureAwait(false);
        }

        var file = new LustreFile(Session, path, attributes, writer, opened);
        try
        {
            await Session.EnsureOstsKnownAsync(file.Layout, cancellationToken).ConfigureAwait(false);

            // An existing file may hold unflushed bytes on its OSTs even when the MDS records size 0: punch them all.
            if (mode is FileMode.Create or FileMode.Truncate && (attributes.Flags & InodeFlags.Created) == 0)
            {
                await file.SetLengthAsync(0, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return file;
    }

    /// <summary>
    /// An open for reading that asks for the names after it too, under a lease, with the bytes of those that all live on
    /// the MDT (<see cref="FilesystemSession.OpenAhead"/>), and opens the first: the statahead of opens.
    /// </summary>
    private async Task<LustreFile> OpenAheadAsync(string path, StatAhead openAhead, StatAhead.Plan plan, CancellationToken cancellationToken)
    {
        var (first, opened) = await LeasedBatchAsync(path, openAhead, plan, OpenFlags.Read, cancellationToken).ConfigureAwait(false);
        if (first.Status != 0)
        {
            throw await OpenFailureAsync(path, first, cancellationToken).ConfigureAwait(false);
        }

        return await WithOstsKnownAsync(new LustreFile(Session, path, first.Attributes!, writable: false, opened), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Returns <paramref name="file"/> once the client knows its OSTs' addresses; disposes of it when that fails.</summary>
    private async Task<LustreFile> WithOstsKnownAsync(LustreFile file, CancellationToken cancellationToken)
    {
        try
        {
            await Session.EnsureOstsKnownAsync(file.Layout, cancellationToken).ConfigureAwait(false);
            return file;
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Sends an open. One for writing of a file whose layout is being migrated is answered EINPROGRESS until the new
    /// layout is in place: it waits and tries again, as Lustre's writers wait for the migration's group lock. The MDS
    /// bounds the wait: a migrator that stops renewing its hold loses it within its lease (a minute).
    /// </summary>
    /// <remarks>
    /// With <paramref name="readOnOpen"/> above 0, the reply may bring the whole file as bulk (read-on-open): it lands
    /// in a pooled buffer and is returned in an array of <see cref="ArrayPool{T}.Shared"/> sized for it (the
    /// <see cref="LustreFile"/> made with it gives it back); null when the reply has none.
    /// </remarks>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    private async ValueTask<(InodeAttributes Attributes, byte[]? Opened)> OpenAsync(FrameBuffer frame, string path, int readOnOpen, CancellationToken cancellationToken)
    {
        var pause = TimeSpan.FromMilliseconds(20);
        // From the bulk pool, which keeps enough 1 MiB buffers for many opens in flight (the shared pool keeps few).
        var scratch = readOnOpen > 0 ? BulkPool.Shared.Rent(readOnOpen) : null;
        try
        {
            while (true)
            {
                try
                {
                    using var reply = await Session.CallMdsAsync(Opcode.MdsOpen, frame, path, default, scratch.AsMemory(0, readOnOpen), cancellationToken).ConfigureAwait(false);
                    var reader = reply.Reader;
                    var attributes = InodeAttributes.Read(ref reader);

                    // The bytes are the whole file or nothing (a reply rebuilt for a resend carries none).
                    if (reply.BulkLength == 0 || reply.BulkLength != attributes.Size)
                    {
                        return (attributes, null);
                    }

                    var opened = ArrayPool<byte>.Shared.Rent(reply.BulkLength);
                    scratch.AsSpan(0, reply.BulkLength).CopyTo(opened);
                    return (attributes, opened);
                }
                catch (LustreServerException ex) when (ex.Errno == LustreErrno.EINPROGRESS)
                {
                    Diagnostics.ClientLog.OpenWaitsForMigration(Session.Logger, path, pause.TotalMilliseconds);
                    await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
                    pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromSeconds(1).Ticks));
                }
            }
        }
        finally
        {
            if (scratch is not null)
            {
                BulkPool.Shared.Return(scratch);
            }
        }
    }

    /// <summary>
    /// The most file bytes a read-only open asks to get with its reply (read-on-open): 64 KiB, the common Data-on-MDT
    /// component, so a small file comes back whole. Not the MDS's 1 MiB limit: the MDS sets the asked bytes aside from
    /// its memory budget before it reads the request, for every read-only open, Data-on-MDT or not.
    /// </summary>
    private const int ReadOnOpenBytes = 64 << 10;

    /// <summary>
    /// Opens many files for reading at once, by the identifiers a listing gave (<see cref="EnumerateDirectoryAsync"/>):
    /// the MDS opens up to 1,024 per request (as Lustre opens a file it has looked up, by FID), where
    /// <see cref="OpenFileAsync"/> costs a path walk and a round trip per file. With <see cref="ReadBatchAsync"/>, what a
    /// loader of many small files needs. Each file's own read permission is checked. Read-only handles hold nothing on
    /// the servers; disposing them is optional.
    /// </summary>
    /// <param name="entries">Files from listings of this filesystem.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The files, in the order of <paramref name="entries"/>.</returns>
    /// <exception cref="FileNotFoundException">A file was deleted (or replaced by a new one) since it was listed.</exception>
    /// <exception cref="UnauthorizedAccessException">An entry is a directory, or a file may not be read.</exception>
    public virtual async Task<LustreFile[]> OpenFilesAsync(IReadOnlyList<LustreDirectoryEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var fids = new LustreFid[entries.Count];
        for (var i = 0; i < fids.Length; i++)
        {
            var entry = entries[i] ?? throw new ArgumentException($"Entry {i} is null.", nameof(entries));
            if (entry.IsDirectory)
            {
                throw new UnauthorizedAccessException($"Access to the path '{entry.Path}' is denied: it is a directory.");
            }

            fids[i] = entry.Fid;
        }

        var opened = await Session.OpenBatchAsync(fids, cancellationToken).ConfigureAwait(false);
        var files = new LustreFile[opened.Length];
        for (var i = 0; i < opened.Length; i++)
        {
            var path = entries[i].Path;
            files[i] = new LustreFile(Session, path, Session.OpenedOrThrow(opened[i], path, entries[i].Fid), writable: false);
            await Session.EnsureOstsKnownAsync(files[i].Layout, cancellationToken).ConfigureAwait(false);
        }

        return files;
    }

    /// <summary>
    /// Reads many ranges of many files in one call, as 3FS's USRBIO batches reads: each range is mapped through its
    /// file's layout to its OST objects; ranges of one object that overlap or touch are read once; the small ranges of
    /// each OST travel together, up to a thousand per request (one round trip for a batch of small files instead of one
    /// per file), the large ones alone; all requests to all OSTs are in flight together. A range past the end of its
    /// file reads only up to the end (nothing at or past it), holes read as zeros, and mirrored files are read from one
    /// in-sync mirror each, failing over as <see cref="LustreFile.ReadAtAsync(long, Memory{byte}, CancellationToken)"/> does.
    /// </summary>
    /// <param name="requests">The ranges: files of this client, in any order; ranges may overlap, destinations must not.</param>
    /// <param name="cancellationToken">Cancels the reads in flight; destinations may then hold part of their bytes.</param>
    /// <returns>How many bytes each request read, in request order: its destination's length, or fewer at the end of its file.</returns>
    /// <exception cref="ArgumentException">A request's file is null or belongs to another client, or two requests' destinations overlap.</exception>
    /// <exception cref="ObjectDisposedException">A request's file is disposed.</exception>
    /// <exception cref="LustreException">A read failed (after its retries); every read has finished by then, and destinations may hold part of their bytes, or bytes a failed checksum refused.</exception>
    public virtual async Task<int[]> ReadBatchAsync(IReadOnlyList<LustreReadRequest> requests, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        for (var i = 0; i < requests.Count; i++)
        {
            var (file, offset, _) = requests[i];
            if (file is null || !ReferenceEquals(file.Session, Session))
            {
                throw new ArgumentException($"Request {i}: {(file is null ? "the file is null" : $"{file.Path} was opened by another client")}.", nameof(requests));
            }

            ObjectDisposedException.ThrowIf(file.IsDisposed, file);
            if (offset < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(requests), offset, $"Request {i}: the offset must not be negative.");
            }
        }

        ThrowIfDestinationsOverlap(requests);
        var counts = new int[requests.Count];
        if (requests.Count == 0)
        {
            return counts;
        }

        using var activity = LustreDiagnostics.StartOperation("lustre.read_batch", requests[0].File.Path);
        activity?.SetTag("lustre.requests", requests.Count);
        try
        {
            await BatchedIo.ReadAsync(requests, counts, limiter: null, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }

        return counts;
    }

    /// <summary>
    /// Refuses two requests whose destinations share bytes: a batch receives each range straight into its destination
    /// (or copies it there), so overlapping destinations would end with one another's bytes, or fail a checksum.
    /// Destinations over the same array or the same memory manager are compared by where they lie in it.
    /// </summary>
    private static void ThrowIfDestinationsOverlap(IReadOnlyList<LustreReadRequest> requests)
    {
        var byOwner = new Dictionary<object, List<(int Start, int End, int Request)>>(ReferenceEqualityComparer.Instance);
        for (var i = 0; i < requests.Count; i++)
        {
            var destination = requests[i].Destination;
            if (destination.IsEmpty)
            {
                continue;
            }

            object owner;
            int start;
            if (MemoryMarshal.TryGetArray<byte>(destination, out var segment))
            {
                (owner, start) = (segment.Array!, segment.Offset);
            }
            else if (MemoryMarshal.TryGetMemoryManager<byte, MemoryManager<byte>>(destination, out var manager, out var index, out _))
            {
                (owner, start) = (manager, index);
            }
            else
            {
                continue;
            }

            if (!byOwner.TryGetValue(owner, out var spans))
            {
                byOwner[owner] = spans = [];
            }

            spans.Add((start, start + destination.Length, i));
        }

        foreach (var spans in byOwner.Values)
        {
            spans.Sort();
            for (var k = 1; k < spans.Count; k++)
            {
                if (spans[k].Start < spans[k - 1].End)
                {
                    var (first, second) = (Math.Min(spans[k - 1].Request, spans[k].Request), Math.Max(spans[k - 1].Request, spans[k].Request));
                    var shared = Math.Min(spans[k - 1].End, spans[k].End) - spans[k].Start;
                    throw new ArgumentException($"Requests {first} and {second}: their destinations overlap ({shared} bytes in common); each range is read into its own destination, so destinations must not share bytes.", nameof(requests));
                }
            }
        }
    }

    /// <summary>
    /// The exception <see cref="FileStream"/> throws for the same failure to open: a directory of the path that is missing
    /// or is a file gives <see cref="DirectoryNotFoundException"/>, the path being a directory <see cref="UnauthorizedAccessException"/>.
    /// A missing name is the file's fault only when its parent directory exists; when not creating, the parent is
    /// looked up to tell (as .NET does on Unix), which costs one more request on this error path only.
    /// </summary>
    private async Task<Exception> OpenErrorAsync(string path, Exception error, bool creating, CancellationToken cancellationToken)
    {
        if (error is LustreServerException { Errno: LustreErrno.EISDIR })
        {
            return new UnauthorizedAccessException($"Access to the path '{path}' is denied: it is a directory.", error);
        }

        var parent = LustrePath.Parent(path);
        if (error is LustreServerException { Errno: LustreErrno.ENOTDIR } || creating || !await IsDirectoryAsync(parent, cancellationToken).ConfigureAwait(false))
        {
            return new DirectoryNotFoundException($"Could not find a part of the path '{path}': {error.Message}", error);
        }

        return error;
    }

    private async Task<bool> IsDirectoryAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return (await GetInfoAsync(path, cancellationToken).ConfigureAwait(false)).IsDirectory;
        }
        catch (Exception ex) when (ex is FileNotFoundException or LustreServerException { Errno: LustreErrno.ENOTDIR })
        {
            return false;
        }
    }

    /// <summary>
    /// Creates an empty file (failing with EEXIST if the name exists) without opening it: one durable MDS
    /// operation, no open handle to close — what <c>touch</c> and metadata benchmarks need.
    /// </summary>
    public virtual Task<LustreFileInfo> CreateFileAsync(string path, FileLayout? layout = null, CancellationToken cancellationToken = default) =>
        CreateAsync(path, layout, default, cancellationToken);

    /// <summary>
    /// Creates a file holding <paramref name="data"/> (failing with EEXIST if the name exists), durable when this
    /// returns. When the new file's layout keeps at least those bytes on the MDT (Data-on-MDT), it is one MDS operation:
    /// the create and the bytes are committed together and no open handle is left to close — what a writer of many
    /// small files (one per sample, mdtest-hard) needs. Otherwise (no Data-on-MDT component, or one smaller than the
    /// data), the file is created, written and closed as <see cref="OpenFileAsync"/> would.
    /// </summary>
    public virtual async Task<LustreFileInfo> CreateFileAsync(string path, ReadOnlyMemory<byte> data, FileLayout? layout = null, CancellationToken cancellationToken = default)
    {
        if (data.Length <= LayoutDefaults.MaxDataOnMdtSize)
        {
            try
            {
                return await CreateAsync(path, layout, data, cancellationToken).ConfigureAwait(false);
            }
            catch (LustreServerException ex) when (ex.Errno == LustreErrno.EFBIG && !data.IsEmpty)
            {
                // The bytes do not fit the new file's Data-on-MDT component (or it has none): nothing was created.
            }
        }

        return await CreateAndWriteAsync(path, data, layout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One exclusive create; <paramref name="data"/>, when not empty, goes with it as the new file's bytes.</summary>
    private async Task<LustreFileInfo> CreateAsync(string path, FileLayout? layout, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        path = CheckPath(path);
        if (layout is not null && layout.AllObjects().Any())
        {
            throw new ArgumentException("A layout for a new file must not name OST objects; the MDS allocates them.", nameof(layout));
        }

        var encoded = layout is null ? [] : LayoutCodec.Encode(layout);
        using var frame = FrameBuffer.Rent(256 + encoded.Length);
        new OpenRequest(path, OpenFlags.Create | OpenFlags.Exclusive, 0x1A4, encoded).Write(frame.Body);
        try
        {
            using var reply = await Session.CallMdsAsync(Opcode.MdsOpen, frame, path, data, default, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            return new LustreFileInfo(path, InodeAttributes.Read(ref reader));
        }
        catch (Exception ex) when (ex is FileNotFoundException or LustreServerException { Errno: LustreErrno.ENOTDIR or LustreErrno.EISDIR })
        {
            throw await OpenErrorAsync(path, ex, creating: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<LustreFileInfo> CreateAndWriteAsync(string path, ReadOnlyMemory<byte> data, FileLayout? layout, CancellationToken cancellationToken)
    {
        var file = await OpenFileAsync(path, FileMode.CreateNew, FileAccess.Write, layout, cancellationToken).ConfigureAwait(false);
        await using (file.ConfigureAwait(false))
        {
            await file.WriteAtAsync(0, data, cancellationToken).ConfigureAwait(false);
        }

        return await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a file as a <see cref="Stream"/> with readahead and write-behind. <see cref="FileMode.Append"/> starts at the
    /// end (creating the file if needed). Dispose it (or <see cref="Stream.FlushAsync(CancellationToken)"/>) to make writes durable.
    /// </summary>
    public virtual async Task<LustreStream> OpenStreamAsync(
        string path, FileMode mode = FileMode.Open, FileAccess access = FileAccess.ReadWrite, FileLayout? layout = null, CancellationToken cancellationToken = default)
    {
        var append = mode == FileMode.Append;
        if (append && access == FileAccess.Read)
        {
            throw new ArgumentException("FileMode.Append needs write access.", nameof(access));
        }

        var file = await OpenFileAsync(path, append ? FileMode.OpenOrCreate : mode, access, layout, cancellationToken).ConfigureAwait(false);
        return new LustreStream(file, access, append);
    }

    /// <summary>Sets (or with null, removes) a directory's default layout for files created in it.</summary>
    public virtual async Task SetDirectoryLayoutAsync(string path, FileLayout? layout, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        if (layout is not null && layout.AllObjects().Any())
        {
            throw new ArgumentException("A default layout must not name OST objects.", nameof(layout));
        }

        var encoded = layout is null ? [] : LayoutCodec.Encode(layout);
        using var frame = FrameBuffer.Rent(256 + encoded.Length);
        new SetDirLayoutRequest(path, encoded).Write(frame.Body);
        using var reply = await Session.CallMdsAsync(Opcode.MdsSetDirLayout, frame, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds mirrors to a file (<c>lfs mirror extend</c>): each mirror of <paramref name="template"/> (a plain or PFL
    /// layout adds one; a mirrored one adds its mirrors) gets objects on OSTs the file's mirrors do not use, then the file
    /// is copied to them. A file without mirrors becomes mirror 1 of the result.
    /// </summary>
    /// <returns>The file's layout with the new mirrors in sync.</returns>
    /// <exception cref="ArgumentException">The template names OST objects.</exception>
    /// <exception cref="LustreServerException">More than <see cref="FileLayout.MaxMirrors"/> mirrors, or no OSTs left for a new one.</exception>
    public virtual async Task<FileLayout> ExtendMirrorsAsync(string path, FileLayout template, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        ArgumentNullException.ThrowIfNull(template);
        if (template.AllObjects().Any())
        {
            throw new ArgumentException("A mirror template must not name OST objects; the MDS allocates them.", nameof(template));
        }

        var info = await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        var attributes = await Session.MirrorAsync(new MirrorRequest(info.Fid, MirrorOperation.Extend, 0, 0, LayoutCodec.Encode(template)), path, cancellationToken).ConfigureAwait(false);
        // The first attempt starts from the layout the extend returned; a retry re-reads it.
        var first = true;
        await Mirrors.MirrorSync.ResyncAsync(
            Session,
            path,
            ct =>
            {
                if (first)
                {
                    first = false;
                    return Task.FromResult(attributes);
                }

                return GetAttributesAsync(path, ct);
            },
            ResyncBusyWait,
            cancellationToken).ConfigureAwait(false);
        return (await GetInfoAsync(path, cancellationToken).ConfigureAwait(false)).Layout!;
    }

    /// <summary>Removes mirror <paramref name="mirrorId"/> of a file and destroys its objects (<c>lfs mirror split -d</c>).</summary>
    /// <returns>The file's layout without that mirror.</returns>
    /// <exception cref="LustreServerException">The file has no such mirror (ENOENT), or it is the last one, or the last one in sync (EINVAL).</exception>
    public virtual async Task<FileLayout> SplitMirrorAsync(string path, int mirrorId, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var info = await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        var attributes = await Session.MirrorAsync(new MirrorRequest(info.Fid, MirrorOperation.Split, mirrorId, 0, []), path, cancellationToken).ConfigureAwait(false);
        return LayoutCodec.Decode(attributes.Layout);
    }

    /// <summary>
    /// Appends components to a PFL file whose layout stops short of EOF (<c>lfs setstripe --component-add</c>): the
    /// first must start where the file's last component ends (<see cref="FileLayout.End"/>), each next one where the one
    /// before ends. They get their objects when a write first reaches them; a stripe count or size left at 0 takes the
    /// filesystem's default, as Lustre fills in an added component.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="components">1 or more templates (no objects), in file order, with absolute extents.</param>
    /// <param name="cancellationToken">Cancels the wait; once sent, the change is made or not, and the call waits for the answer.</param>
    /// <returns>The file's layout with the components added.</returns>
    /// <exception cref="ArgumentException">No components, a component with objects, or components that do not follow each other.</exception>
    /// <exception cref="LustreServerException">
    /// EINVAL: the file is plain (not PFL), its last component already extends to EOF, or the components do not start where
    /// it ends; EBUSY: the file is mirrored; EISDIR: a directory.
    /// </exception>
    public virtual async Task<FileLayout> AddLayoutComponentsAsync(string path, IEnumerable<LayoutComponent> components, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        ArgumentNullException.ThrowIfNull(components);
        var added = components.ToArray();
        if (added.Length == 0)
        {
            throw new ArgumentException("Name at least one component to add.", nameof(components));
        }

        if (Array.Exists(added, c => c is null || c.IsInstantiated))
        {
            throw new ArgumentException("Components to add must be templates without OST objects; the MDS allocates them when a write reaches them.", nameof(components));
        }

        // A layout starts at 0, so the components travel from there; the MDS puts them back where they start.
        var start = added[0].Start;
        FileLayout shifted;
        try
        {
            shifted = FileLayout.Composite(added.Select(c => c.Shifted(-start)));
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"The components do not follow each other: {ex.Message}", nameof(components), ex);
        }

        return await ChangeComponentsAsync(path, LayoutOperation.AddComponents, start, 0, ComponentSelection.ById, LayoutCodec.Encode(shifted), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Deletes the component <paramref name="componentId"/> of a PFL file (<c>lfs setstripe --component-del -I</c>). As
    /// Lustre, only the last components can go (no hole); here also only components without objects, which no write has
    /// reached, so no data is lost.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="componentId">The component's <c>lcme_id</c>, as <c>lfs getstripe</c> prints it: its position in the layout, from 1.</param>
    /// <param name="cancellationToken">Cancels the wait; once sent, the change is made or not, and the call waits for the answer.</param>
    /// <returns>The file's layout without the component.</returns>
    /// <exception cref="LustreServerException">
    /// EINVAL: the file is plain, has no such component, it is not the last one, or it has objects; EBUSY: the file is
    /// mirrored; EISDIR: a directory.
    /// </exception>
    public virtual Task<FileLayout> DeleteLayoutComponentAsync(string path, int componentId, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(componentId, 1);
        return ChangeComponentsAsync(path, LayoutOperation.DeleteComponents, 0, componentId, ComponentSelection.ById, [], cancellationToken);
    }

    /// <summary>
    /// Deletes every component of a PFL file that has no objects yet (<c>lfs setstripe --component-del --component-flags
    /// ^init</c>): those past the last byte any write reached, so the layout then ends where its instantiated components do.
    /// </summary>
    /// <returns>The file's layout without them.</returns>
    /// <exception cref="LustreServerException">EINVAL: the file is plain, or every component has objects; EBUSY: the file is mirrored; EISDIR: a directory.</exception>
    public virtual Task<FileLayout> DeleteUninstantiatedLayoutComponentsAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        return ChangeComponentsAsync(path, LayoutOperation.DeleteComponents, 0, 0, ComponentSelection.Uninstantiated, [], cancellationToken);
    }

    private async Task<FileLayout> ChangeComponentsAsync(string path, LayoutOperation operation, long end, int componentId, ComponentSelection selection, byte[] template, CancellationToken cancellationToken)
    {
        var info = await GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        if (info.IsDirectory)
        {
            throw new LustreException($"{path} is a directory: components belong to a file's layout (set a directory's default with SetDirectoryLayoutAsync)", LustreErrno.EISDIR, isTransient: false);
        }

        var attributes = await Session.ChangeLayoutAsync(new LayoutRequest(info.Fid, operation, end, componentId, selection, template), path, cancellationToken).ConfigureAwait(false);
        return LayoutCodec.Decode(attributes.Layout);
    }

    /// <summary>
    /// Copies a mirrored file to its stale mirrors and marks them in sync (<c>lfs mirror resync</c>). Waits up to 30 s
    /// while the file is open for writing or another resync (the MDS's own, say) runs, then fails with EBUSY; starts
    /// again when a writer came and went during the copy, and fails with ESTALE after three such tries.
    /// </summary>
    /// <returns>The ids of the mirrors this call resynced; empty when none was stale or another resync did it.</returns>
    public virtual Task<IReadOnlyList<int>> ResyncMirrorsAsync(string path, CancellationToken cancellationToken = default) =>
        ResyncMirrorsAsync(path, ResyncBusyWait, cancellationToken);

    /// <summary>As <see cref="ResyncMirrorsAsync(string, CancellationToken)"/>, waiting at most <paramref name="busyWait"/> (zero: not at all) while a writer or another resync has the file.</summary>
    /// <returns>The ids of the mirrors this call resynced; empty when none was stale or another resync did it.</returns>
    public virtual async Task<IReadOnlyList<int>> ResyncMirrorsAsync(string path, TimeSpan busyWait, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        ArgumentOutOfRangeException.ThrowIfLessThan(busyWait, TimeSpan.Zero);
        return await Mirrors.MirrorSync.ResyncAsync(Session, path, ct => GetAttributesAsync(path, ct), busyWait, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Moves a file's data to new OST objects with <paramref name="layout"/> and swaps them in on the MDS (<c>lfs
    /// migrate</c>): the file keeps its FID, its times but the change time, and its name; its old objects are destroyed.
    /// The MDS refuses the swap if the file changed since the copy started (its data version), so a writer's data is
    /// never lost: it is in the copy, or the migration fails and the file keeps its objects. How writers are treated
    /// meanwhile is up to <paramref name="options"/> (<see cref="MigrateOptions.NonBlocking"/>).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="layout">The new layout, plain or PFL, without objects; null for the default layout of the file's directory.</param>
    /// <param name="options">Blocking (the default) or not; null for the defaults.</param>
    /// <param name="cancellationToken">
    /// Stops the copy and gives the new objects back. Cancelled while the swap is on its way, the call may throw with the
    /// swap done: the file then has the new layout (and the same bytes either way).
    /// </param>
    /// <returns>The file's attributes after the swap, with its new layout.</returns>
    /// <exception cref="ArgumentException">The layout names OST objects, or is mirrored.</exception>
    /// <exception cref="FileNotFoundException">No file at <paramref name="path"/>.</exception>
    /// <exception cref="UnauthorizedAccessException">The caller may not read and write the file.</exception>
    /// <exception cref="LustreServerException">
    /// EBUSY: the file changed during the migration or is open for writing (non-blocking), or stayed open for writing
    /// past <see cref="MigrateOptions.BusyTimeout"/> (blocking); the file keeps its layout. EINVAL: the file is
    /// mirrored (restripe it with <see cref="ExtendMirrorsAsync"/> and <see cref="SplitMirrorAsync"/>). EISDIR: a
    /// directory.
    /// </exception>
    public virtual async Task<LustreFileInfo> MigrateAsync(string path, FileLayout? layout, MigrateOptions? options = null, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        if (layout is not null && layout.AllObjects().Any())
        {
            throw new ArgumentException("A layout to migrate to must not name OST objects; the MDS places them.", nameof(layout));
        }

        if (layout is { IsMirrored: true })
        {
            throw new ArgumentException("A migration gives a file a plain or PFL layout; ExtendMirrorsAsync adds mirrors.", nameof(layout));
        }

        options ??= new MigrateOptions();
        options.Validate();
        var attributes = await LayoutMigration.MigrateAsync(Session, path, layout, options, cancellationToken).ConfigureAwait(false);
        return new LustreFileInfo(path, attributes);
    }

    /// <summary>Reads every in-sync mirror of a file and compares them byte for byte (<c>lfs mirror verify</c>).</summary>
    /// <returns>The mirrors compared and where they differ.</returns>
    public virtual async Task<Mirrors.MirrorVerifyResult> VerifyMirrorsAsync(string path, CancellationToken cancellationToken = default)
    {
        path = CheckPath(path);
        var attributes = await GetAttributesAsync(path, cancellationToken).ConfigureAwait(false);
        return await Mirrors.MirrorSync.VerifyAsync(Session, path, attributes, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>How long a resync waits for another resync (the MDS's own, say) or a writer to let go of the file.</summary>
    private static readonly TimeSpan ResyncBusyWait = TimeSpan.FromSeconds(30);

    private async Task<InodeAttributes> GetAttributesAsync(string path, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        new PathRequest(path).Write(frame.Body);
        var attributes = await Session.CallForAttributesAsync(Opcode.MdsGetAttr, frame, path, cancellationToken).ConfigureAwait(false);
        if (attributes.Type != EntryType.File)
        {
            throw new LustreException($"{path} is a directory: mirrors are a file's", LustreErrno.EISDIR, isTransient: false);
        }

        return attributes;
    }

    /// <summary>Sets a file's or directory's access and modification times (as <c>touch</c> does); a null time is left as it is.</summary>
    public virtual async Task<LustreFileInfo> SetTimesAsync(string path, DateTimeOffset? lastAccessTime, DateTimeOffset? lastWriteTime, CancellationToken cancellationToken = default)
    {
        var mask = (lastAccessTime is null ? SetAttrMask.None : SetAttrMask.AccessTime) | (lastWriteTime is null ? SetAttrMask.None : SetAttrMask.ModifyTime);
        return await SetAttributesAsync(path, fid => new SetAttrRequest(fid, mask, 0, 0, 0, 0, ToNs(lastAccessTime), ToNs(lastWriteTime)), cancellationToken).ConfigureAwait(false);

        static long ToNs(DateTimeOffset? time) => time is { } t ? (t - DateTimeOffset.UnixEpoch).Ticks * 100 : 0;
    }

    /// <summary>Space and object usage of every target, the data behind <c>lfs df</c>. Unreachable OSTs are reported inactive with zeros.</summary>
    public virtual async Task<IReadOnlyList<LustreTargetUsage>> GetUsageAsync(CancellationToken cancellationToken = default)
    {
        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
        var rows = new List<LustreTargetUsage>();
        using (var frame = FrameBuffer.Rent())
        {
            using var reply = await Session.CallMdsAsync(Opcode.MdsStatFs, frame, null, cancellationToken).ConfigureAwait(false);
            var reader = reply.Reader;
            var mdt = StatFsReply.Read(ref reader);
            rows.Add(new LustreTargetUsage(TargetNames.Mdt(FsName), true, 0, true, mdt.TotalBytes, mdt.UsedBytes, mdt.AvailableBytes, mdt.Objects) { FreeObjects = mdt.FreeObjects, State = mdt.State });
        }

        var osts = config.Targets.Where(t => t.Kind == TargetKind.Ost).ToList();
        var usage = await Task.WhenAll(osts.Select(async target =>
        {
            try
            {
                using var frame = FrameBuffer.Rent();
                new OstIndexRequest(target.Index).Write(frame.Body);
                using var reply = await Targets.CallAsync(TargetKind.Ost, target.Index, Opcode.OstStatFs, frame, default, default, cancellationToken).ConfigureAwait(false);
                TargetTable.ThrowIfError(reply, TargetNames.Ost(FsName, target.Index));
                var reader = reply.Reader;
                var statfs = StatFsReply.Read(ref reader);
                return new LustreTargetUsage(TargetNames.Ost(FsName, target.Index), false, target.Index, target.Active, statfs.TotalBytes, statfs.UsedBytes, statfs.AvailableBytes, statfs.Objects) { FreeObjects = statfs.FreeObjects, State = statfs.State };
            }
            catch (LustreException) when (!cancellationToken.IsCancellationRequested)
            {
                return new LustreTargetUsage(TargetNames.Ost(FsName, target.Index), false, target.Index, false, 0, 0, 0, 0);
            }
        })).ConfigureAwait(false);
        rows.AddRange(usage);
        return rows;
    }

    /// <summary>Marks an OST active or inactive on the MGS; an inactive OST receives no new objects (existing data stays readable).</summary>
    public virtual async Task SetOstActiveAsync(int ostIndex, bool active, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(ostIndex);
        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        using var frame = FrameBuffer.Rent();
        new SetTargetStateRequest(TargetKind.Ost, ostIndex, active).Write(frame.Body);
        using var reply = await Targets.CallMgsAsync(Opcode.MgsSetTargetState, frame, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The OST pools of the filesystem, in name order, as the MGS holds them now (Lustre's <c>lctl pool_list</c>).
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Every pool with its OSTs.</returns>
    public virtual async Task<IReadOnlyList<LustreOstPool>> GetPoolsAsync(CancellationToken cancellationToken = default)
    {
        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        var config = await Targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
        return [.. config.Pools.Select(p => new LustreOstPool(p.Name, p.Osts))];
    }

    /// <summary>
    /// Creates an empty OST pool on the MGS (<c>lctl pool_new FSNAME.POOL</c>); fill it with
    /// <see cref="AddPoolOstAsync"/>. Pools are configuration: they survive restarts, and the MDS and clients learn of
    /// them as of the rest of the configuration. An administrator's operation: with keys, it needs an admin key.
    /// </summary>
    /// <param name="pool">The pool's name: 1 to <see cref="LayoutDefaults.MaxPoolNameLength"/> letters, digits, '_' or '-'.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException"><paramref name="pool"/> is not a valid pool name.</exception>
    /// <exception cref="LustreServerException">The pool exists already (<see cref="LustreErrno.EEXIST"/>).</exception>
    public virtual Task CreatePoolAsync(string pool, CancellationToken cancellationToken = default) =>
        ChangePoolAsync(PoolOperation.New, pool, -1, cancellationToken);

    /// <summary>Destroys an empty OST pool (<c>lctl pool_destroy</c>); as Lustre, a pool that still has OSTs is refused.</summary>
    /// <param name="pool">The pool's name.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException"><paramref name="pool"/> is not a valid pool name.</exception>
    /// <exception cref="FileNotFoundException">No such pool.</exception>
    /// <exception cref="LustreServerException">The pool has OSTs (<see cref="LustreErrno.ENOTEMPTY"/>).</exception>
    public virtual Task DestroyPoolAsync(string pool, CancellationToken cancellationToken = default) =>
        ChangePoolAsync(PoolOperation.Destroy, pool, -1, cancellationToken);

    /// <summary>Adds an OST to a pool (<c>lctl pool_add</c>); an OST may be in several pools.</summary>
    /// <param name="pool">The pool's name.</param>
    /// <param name="ostIndex">The index of an OST of the filesystem.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException"><paramref name="pool"/> is not a valid pool name.</exception>
    /// <exception cref="FileNotFoundException">No such pool, or no such OST in the filesystem.</exception>
    /// <exception cref="LustreServerException">The OST is in the pool already (<see cref="LustreErrno.EEXIST"/>).</exception>
    public virtual Task AddPoolOstAsync(string pool, int ostIndex, CancellationToken cancellationToken = default) =>
        ChangePoolAsync(PoolOperation.Add, pool, ostIndex, cancellationToken);

    /// <summary>Removes an OST from a pool (<c>lctl pool_remove</c>); files placed there keep their objects.</summary>
    /// <param name="pool">The pool's name.</param>
    /// <param name="ostIndex">The index of an OST of the pool.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <exception cref="ArgumentException"><paramref name="pool"/> is not a valid pool name.</exception>
    /// <exception cref="FileNotFoundException">No such pool, or the OST is not in it.</exception>
    public virtual Task RemovePoolOstAsync(string pool, int ostIndex, CancellationToken cancellationToken = default) =>
        ChangePoolAsync(PoolOperation.Remove, pool, ostIndex, cancellationToken);

    private async Task ChangePoolAsync(PoolOperation operation, string pool, int ostIndex, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(pool);
        PoolName.ThrowIfInvalid(pool, nameof(pool));
        if (operation is PoolOperation.Add or PoolOperation.Remove)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(ostIndex);
        }

        await Session.EnsureConnectedAsync(cancellationToken).ConfigureAwait(false);
        await Targets.ChangePoolAsync(new PoolRequest(operation, pool, ostIndex), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Takes an online backup of the MDT (a RocksDB checkpoint at a point between two metadata operations) into
    /// the MDS's backup folder under <paramref name="name"/>; returns the folder on the MDS host and its commit.
    /// An administrator's operation, behind <c>lustre lctl backup-mdt</c>.
    /// </summary>
    internal async Task<(string Path, ulong Commit)> BackupMdtAsync(string name, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();
        new MdtBackupRequest(name).Write(frame.Body);
        using var reply = await Session.CallMdsAsync(Opcode.MdsBackup, frame, null, cancellationToken).ConfigureAwait(false);
        var reader = reply.Reader;
        var backup = MdtBackupReply.Read(ref reader);
        return (backup.Path, backup.Commit);
    }

    /// <summary>Closes every connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the client's connections; override in a derived type to release more.</summary>
    protected virtual async ValueTask DisposeAsyncCore()
    {
        if (_session is not null)
        {
            await _session.DisposeAsync().ConfigureAwait(false);
        }
    }
}
