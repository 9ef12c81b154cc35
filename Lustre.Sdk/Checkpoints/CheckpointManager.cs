using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using Lustre.Client;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Checkpoints;

/// <summary>
/// Saves and loads the checkpoints of one training job under a root directory. <see cref="SaveAsync"/> copies the
/// tensors into pooled staging memory and returns; the files are then written in the background, in parallel, wide
/// striped over the OSTs, and the checkpoint becomes visible only once every byte is durable and its manifest has
/// been renamed into place: a crash at any moment leaves the previous checkpoint intact and the partial one
/// invisible. Files are standard <c>safetensors</c>. See <c>docs/checkpoints.md</c> for the layout and the
/// multi-rank protocol. Thread-safe; one manager per rank and root.
/// </summary>
public class CheckpointManager : IAsyncDisposable
{
    internal const string ManifestName = "manifest.json";
    internal const string StagingFolder = ".staging";
    internal const string TrashFolder = ".trash";
    /// <summary>Files up to this size load into pooled arrays; larger ones into exact-size arrays, since the pool would round them up to twice the size.</summary>
    internal const int MaxPooledLoadBuffer = 64 << 20;

    private readonly LustreClient _client = null!;
    private readonly CheckpointManagerOptions _options = null!;
    private readonly ConcurrentDictionary<long, CheckpointSaveOperation> _inFlight = new();
    private readonly SemaphoreSlim _setupLock = new(1, 1);
    private bool _setUp;

    /// <summary>For test doubles only.</summary>
    protected CheckpointManager()
    {
    }

    /// <summary>Creates a manager for the checkpoints under <paramref name="root"/> (created on the first save).</summary>
    /// <param name="client">The filesystem client; not disposed by the manager.</param>
    /// <param name="root">The checkpoint directory, such as <c>/jobs/llm-7b/checkpoints</c>.</param>
    /// <param name="options">Settings; null for the defaults (rank and world size from the environment).</param>
    /// <exception cref="ArgumentException">The root is not a valid path, or an option is out of range.</exception>
    public CheckpointManager(LustreClient client, string root, CheckpointManagerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (LustrePath.Validate(root, out _) is { } error)
        {
            throw new ArgumentException(error, nameof(root));
        }

        _client = client;
        Root = LustrePath.Normalize(root);
        _options = options ?? new CheckpointManagerOptions();
        _options.Validate();
        RunId = _options.RunId ?? Guid.NewGuid().ToString("N");
        Staging = new StagingBudget(_options.StagingBudget);
        StagingPool = ArrayPool<byte>.Create(_options.ChunkSize, (int)Math.Min(4096, (_options.StagingBudget / _options.ChunkSize) + 1));
        WriteGate = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
    }

    /// <summary>The checkpoint directory.</summary>
    public virtual string Root { get; } = "/";

    /// <summary>This manager's rank.</summary>
    public virtual int Rank => _options.Rank;

    /// <summary>The number of ranks that save parts of each checkpoint.</summary>
    public virtual int WorldSize => _options.WorldSize;

    internal string RunId { get; } = string.Empty;

    internal CheckpointManagerOptions Options => _options;

    internal LustreClient Client => _client;

    internal StagingBudget Staging { get; } = null!;

    internal ArrayPool<byte> StagingPool { get; } = null!;

    internal SemaphoreSlim WriteGate { get; } = null!;

    /// <summary>
    /// Starts saving this rank's part of the checkpoint of <paramref name="step"/>. Returns once every tensor has been
    /// copied into staging memory (the caller may change its tensors from then on); the operation returned completes
    /// when the checkpoint is committed. Cancelling <paramref name="cancellationToken"/> abandons the save, staged or
    /// in the background; the previous checkpoint is never affected.
    /// </summary>
    /// <param name="step">The training step, 0 or more; one checkpoint per step.</param>
    /// <param name="tensors">This rank's tensors; names unique across all ranks.</param>
    /// <param name="metadata">String metadata stored in the manifest (rank 0's) and in every file's <c>__metadata__</c>.</param>
    /// <param name="cancellationToken">Abandons the save.</param>
    /// <returns>The running save.</returns>
    /// <exception cref="ArgumentException">Two tensors share a name.</exception>
    /// <exception cref="InvalidOperationException">This manager is already saving <paramref name="step"/>.</exception>
    public virtual async Task<CheckpointSaveOperation> SaveAsync(
        long step, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentNullException.ThrowIfNull(tensors);
        var job = new CheckpointSaveJob(this, step, tensors, metadata ?? new Dictionary<string, string>(), cancellationToken);
        if (!_inFlight.TryAdd(step, job.Operation))
        {
            job.Dispose();
            throw new InvalidOperationException($"Checkpoint step {step} is already being saved by this manager.");
        }

        try
        {
            await job.StageAsync().ConfigureAwait(false);
        }
        catch
        {
            _inFlight.TryRemove(step, out _);
            throw;
        }

        _ = job.Operation.Completion.ContinueWith(
            (_, state) => ((CheckpointManager)state!)._inFlight.TryRemove(step, out CheckpointSaveOperation? _),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
        return job.Operation;
    }

    /// <summary>The committed steps, oldest first. Only directories renamed into place count, so each has a full manifest.</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The steps in ascending order; empty when there are none or the root does not exist.</returns>
    public virtual async Task<IReadOnlyList<long>> ListStepsAsync(CancellationToken cancellationToken = default)
    {
        var steps = new List<long>();
        try
        {
            await foreach (var entry in _client.EnumerateDirectoryAsync(Root, cancellationToken).ConfigureAwait(false))
            {
                if (entry.IsDirectory && TryParseStep(entry.Name, out var step))
                {
                    steps.Add(step);
                }
            }
        }
        catch (FileNotFoundException)
        {
            return steps;
        }

        steps.Sort();
        return steps;
    }

    /// <summary>The newest committed step, or null when there is none (a fresh start).</summary>
    /// <param name="cancellationToken">Cancels the listing.</param>
    /// <returns>The step or null.</returns>
    public virtual async Task<long?> GetLatestStepAsync(CancellationToken cancellationToken = default)
    {
        var steps = await ListStepsAsync(cancellationToken).ConfigureAwait(false);
        return steps.Count == 0 ? null : steps[^1];
    }

    /// <summary>
    /// Loads a committed checkpoint, every file in parallel, and verifies each file's size, every chunk's XXH3 checksum
    /// and every safetensors header against the manifest. Dispose the result to return its memory.
    /// </summary>
    /// <param name="step">The step; null for the newest.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The checkpoint, with all ranks' tensors.</returns>
    /// <exception cref="FileNotFoundException">There is no committed checkpoint (of that step).</exception>
    /// <exception cref="InvalidDataException">A file does not match its manifest: wrong size, checksum or header.</exception>
    public virtual async Task<Checkpoint> LoadAsync(long? step = null, CancellationToken cancellationToken = default)
    {
        var chosen = step ?? await GetLatestStepAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"{Root}: there is no committed checkpoint.", Root);
        var directory = StepPath(chosen);
        var manifestPath = LustrePath.Combine(directory, ManifestName);
        byte[] manifestBytes;
        try
        {
            manifestBytes = await ReadSmallFileAsync(manifestPath, CheckpointManifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            throw new FileNotFoundException($"{Root}: there is no committed checkpoint of step {chosen}.", directory, ex);
        }

        var manifest = CheckpointManifest.Parse(manifestBytes, manifestPath);
        if (manifest.Step != chosen)
        {
            throw new InvalidDataException($"{manifestPath}: the manifest is for step {manifest.Step}, not {chosen}.");
        }

        var buffers = new byte[manifest.Files.Count][];
        try
        {
            var files = new Task<NamedTensor[]>[manifest.Files.Count];
            for (var i = 0; i < files.Length; i++)
            {
                files[i] = LoadFileAsync(directory, manifest.Files[i], buffers, i, cancellationToken);
            }

            var tensors = new List<NamedTensor>();
            foreach (var file in await Task.WhenAll(files).ConfigureAwait(false))
            {
                tensors.AddRange(file);
            }

            return new Checkpoint(chosen, manifest.Metadata, tensors, buffers);
        }
        catch
        {
            ReturnLoadBuffers(buffers);
            throw;
        }
    }

    /// <summary>
    /// Removes what crashed or failed saves left behind: staging directories of other runs and half-deleted old
    /// checkpoints. Rank 0 does this before its first save; other ranks do nothing.
    /// </summary>
    /// <param name="cancellationToken">Cancels the clean-up.</param>
    /// <returns>A task that completes when done.</returns>
    public virtual async Task CleanUpAsync(CancellationToken cancellationToken = default)
    {
        if (Rank != 0)
        {
            return;
        }

        foreach (var (folder, keepOurs) in new[] { (StagingFolder, true), (TrashFolder, false) })
        {
            var path = LustrePath.Combine(Root, folder);
            var entries = new List<LustreDirectoryEntry>();
            try
            {
                await foreach (var entry in _client.EnumerateDirectoryAsync(path, cancellationToken).ConfigureAwait(false))
                {
                    entries.Add(entry);
                }
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            foreach (var entry in entries)
            {
                if (keepOurs && entry.Name.EndsWith("." + RunId, StringComparison.Ordinal))
                {
                    continue;
                }

                await DeleteTreeAsync(entry.Path, entry.IsDirectory, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for every save in flight to finish (their errors stay on their operations).</summary>
    /// <returns>A task that completes when no save is running.</returns>
    public async ValueTask DisposeAsync()
    {
        foreach (var operation in _inFlight.Values)
        {
            try
            {
                await operation.Completion.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException or InvalidDataException or UnauthorizedAccessException)
            {
                // Reported through the operation.
            }
        }

        GC.SuppressFinalize(this);
    }

    internal static void ReturnLoadBuffers(byte[][] buffers) => Checkpoint.Return(buffers);

    internal string StepPath(long step) => LustrePath.Combine(Root, StepName(step));

    internal string StagingPath(long step) => LustrePath.Combine(LustrePath.Combine(Root, StagingFolder), StepName(step) + "." + RunId);

    internal static string StepName(long step) => "step-" + step.ToString("D8", CultureInfo.InvariantCulture);

    internal static bool TryParseStep(string name, out long step)
    {
        step = 0;
        return name.StartsWith("step-", StringComparison.Ordinal) && name.Length > 5 &&
               long.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out step);
    }

    /// <summary>Rank 0's clean-up before its first save, once per manager.</summary>
    internal async Task SetUpAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _setUp))
        {
            return;
        }

        await _setupLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_setUp)
            {
                await EnsureDirectoryAsync(Root, cancellationToken).ConfigureAwait(false);
                await CleanUpAsync(cancellationToken).ConfigureAwait(false);
                Volatile.Write(ref _setUp, true);
            }
        }
        finally
        {
            _setupLock.Release();
        }
    }

    /// <summary>Deletes old committed checkpoints beyond <see cref="CheckpointManagerOptions.KeepLast"/>, never the newest nor <paramref name="justCommitted"/>.</summary>
    internal async Task ApplyRetentionAsync(long justCommitted, CancellationToken cancellationToken)
    {
        if (_options.KeepLast == 0)
        {
            return;
        }

        var steps = await ListStepsAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < steps.Count - _options.KeepLast; i++)
        {
            if (steps[i] == justCommitted || steps[i] == steps[^1])
            {
                continue;
            }

            // Rename first so no reader ever sees a half-deleted checkpoint, then delete at leisure.
            var trash = LustrePath.Combine(Root, TrashFolder);
            await EnsureDirectoryAsync(trash, cancellationToken).ConfigureAwait(false);
            var doomed = LustrePath.Combine(trash, StepName(steps[i]) + "." + Guid.NewGuid().ToString("N"));
            await _client.RenameAsync(StepPath(steps[i]), doomed, cancellationToken).ConfigureAwait(false);
            await DeleteTreeAsync(doomed, isDirectory: true, cancellationToken).ConfigureAwait(false);
        }
    }

    internal async Task EnsureDirectoryAsync(string path, CancellationToken cancellationToken)
    {
        if (path == "/" || await _client.ExistsAsync(path, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await EnsureDirectoryAsync(LustrePath.Parent(path), cancellationToken).ConfigureAwait(false);
        try
        {
            await _client.CreateDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (LustreServerException ex) when (ex.Errno == LustreErrno.EEXIST)
        {
            // Another rank made it first.
        }
    }

    internal async Task DeleteTreeAsync(string path, bool isDirectory, CancellationToken cancellationToken)
    {
        try
        {
            if (!isDirectory)
            {
                await _client.DeleteFileAsync(path, cancellationToken).ConfigureAwait(false);
                return;
            }

            var entries = new List<LustreDirectoryEntry>();
            await foreach (var entry in _client.EnumerateDirectoryAsync(path, cancellationToken).ConfigureAwait(false))
            {
                entries.Add(entry);
            }

            foreach (var entry in entries)
            {
                await DeleteTreeAsync(entry.Path, entry.IsDirectory, cancellationToken).ConfigureAwait(false);
            }

            await _client.DeleteDirectoryAsync(path, cancellationToken).ConfigureAwait(false);
        }
        catch (FileNotFoundException)
        {
            // Already gone.
        }
    }

    internal async Task<byte[]> ReadSmallFileAsync(string path, int limit, CancellationToken cancellationToken)
    {
        var file = await _client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var closer = file.ConfigureAwait(false);
        if (file.Length > limit)
        {
            throw new InvalidDataException($"{path}: {file.Length} bytes is more than the {limit} allowed.");
        }

        var bytes = new byte[file.Length];
        var read = await file.ReadAtAsync(0, bytes, cancellationToken).ConfigureAwait(false);
        return read == bytes.Length ? bytes : throw new InvalidDataException($"{path}: read {read} of {bytes.Length} bytes.");
    }

    internal async Task WriteSmallFileAsync(string path, byte[] content, CancellationToken cancellationToken)
    {
        var file = await _client.OpenFileAsync(path, FileMode.Create, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var closer = file.ConfigureAwait(false);
        await file.WriteAtAsync(0, content, cancellationToken).ConfigureAwait(false);
        await file.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Polls <paramref name="condition"/> with a growing pause until it holds; a TimeoutException after <paramref name="timeout"/>.</summary>
    internal static async Task WaitUntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var pause = TimeSpan.FromMilliseconds(5);
        while (!await condition(cancellationToken).ConfigureAwait(false))
        {
            if (Stopwatch.GetElapsedTime(started) > timeout)
            {
                throw new TimeoutException($"Gave up after {timeout.TotalSeconds:F0} s waiting for {what}.");
            }

            await Task.Delay(pause, cancellationToken).ConfigureAwait(false);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, TimeSpan.FromMilliseconds(200).Ticks));
        }
    }

    private async Task<NamedTensor[]> LoadFileAsync(string directory, ManifestFile entry, byte[][] buffers, int index, CancellationToken cancellationToken)
    {
        var path = LustrePath.Combine(directory, entry.Name);
        var file = await _client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var closer = file.ConfigureAwait(false);
        if (file.Length != entry.Size)
        {
            throw new InvalidDataException($"{path}: the file holds {file.Length} bytes but the manifest records {entry.Size}.");
        }

        if (entry.Size > Array.MaxLength)
        {
            throw new InvalidDataException($"{path}: {entry.Size} bytes is more than one file of a checkpoint may hold.");
        }

        var size = (int)entry.Size;
        var buffer = size <= MaxPooledLoadBuffer ? ArrayPool<byte>.Shared.Rent(size) : GC.AllocateUninitializedArray<byte>(size);
        buffers[index] = buffer;
        var reads = new Task[entry.Chunks.Length];
        for (var chunk = 0; chunk < reads.Length; chunk++)
        {
            reads[chunk] = ReadChunkAsync(file, path, buffer, entry, chunk, cancellationToken);
        }

        await Task.WhenAll(reads).ConfigureAwait(false);
        var contents = SafetensorsCodec.Parse(buffer.AsMemory(0, size), path);
        if (contents.Tensors.Length != entry.Tensors.Length)
        {
            throw new InvalidDataException($"{path}: the file holds {contents.Tensors.Length} tensors but the manifest lists {entry.Tensors.Length}.");
        }

        var listed = new HashSet<string>(entry.Tensors, StringComparer.Ordinal);
        foreach (var tensor in contents.Tensors)
        {
            if (!listed.Contains(tensor.Name))
            {
                throw new InvalidDataException($"{path}: tensor '{tensor.Name}' is not in the manifest.");
            }
        }

        return contents.Tensors;
    }

    private async Task ReadChunkAsync(IO.LustreFile file, string path, byte[] buffer, ManifestFile entry, int chunk, CancellationToken cancellationToken)
    {
        var offset = (long)chunk * entry.ChunkSize;
        var length = (int)Math.Min(entry.ChunkSize, entry.Size - offset);
        await WriteGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var read = await file.ReadAtAsync(offset, buffer.AsMemory((int)offset, length), cancellationToken).ConfigureAwait(false);
            if (read != length)
            {
                throw new InvalidDataException($"{path}: read {read} bytes at {offset}, expected {length}.");
            }
        }
        finally
        {
            WriteGate.Release();
        }

        var actual = XxHash3.HashToUInt64(buffer.AsSpan((int)offset, length));
        if (actual != entry.Chunks[chunk])
        {
            throw new InvalidDataException(
                $"{path}: checksum mismatch in chunk {chunk} (bytes {offset} to {offset + length}): XXH3 {actual:x16}, manifest {entry.Chunks[chunk]:x16}.");
        }
    }
}
