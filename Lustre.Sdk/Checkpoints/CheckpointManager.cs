using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Lustre.Client;
using Lustre.IO;
using Lustre.Namespace;
using Lustre.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

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

    /// <summary>Chunks the staging pool keeps at most (and <see cref="PrepareStagingAsync"/> prepares at most).</summary>
    private const int MaxPooledChunks = 4096;
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
        if (LustrePath.Check(root) is { } error)
        {
            throw new ArgumentException(error, nameof(root));
        }

        _client = client;
        Root = LustrePath.Normalize(root);
        _options = options ?? new CheckpointManagerOptions();
        (Rank, WorldSize, _, _) = _options.Validate();
        RunId = _options.RunId ?? Guid.NewGuid().ToString("N");
        Staging = new ByteBudget(_options.StagingBudget);
        StagingPool = ArrayPool<byte>.Create(_options.ChunkSize, (int)Math.Min(MaxPooledChunks, (_options.StagingBudget / _options.ChunkSize) + 1));
        WriteGate = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
        Codec = new ZstdChunkCodec(_options.CompressionLevel);
        CompressGate = new SemaphoreSlim(Environment.ProcessorCount, Environment.ProcessorCount);
        Logger = client.CreateLogger("Lustre.Sdk.Checkpoints");
    }

    /// <summary>The checkpoint directory.</summary>
    public virtual string Root { get; } = "/";

    /// <summary>This manager's rank.</summary>
    public virtual int Rank { get; }

    /// <summary>The number of ranks that save parts of each checkpoint.</summary>
    public virtual int WorldSize { get; } = 1;

    internal string RunId { get; } = string.Empty;

    internal CheckpointManagerOptions Options => _options;

    internal LustreClient Client => _client;

    internal ByteBudget Staging { get; } = null!;

    internal ArrayPool<byte> StagingPool { get; } = null!;

    internal SemaphoreSlim WriteGate { get; } = null!;

    /// <summary>Chunk compressions or decompressions at once: one per core, since each is CPU work.</summary>
    internal SemaphoreSlim CompressGate { get; } = null!;

    internal ZstdChunkCodec Codec { get; } = null!;

    internal ILogger Logger { get; } = NullLogger.Instance;

    /// <summary>
    /// Makes staging memory for saves of up to <paramref name="bytes"/> ready before the first save: the chunks are
    /// allocated and every page of them touched now, off the caller's thread, and kept in the staging pool. Without it
    /// the first save pays for that itself, while it blocks its caller (on a 2-core VM, 1.3–13 s for 4 GiB against
    /// 0.3–0.4 s for later saves). Call it once at start-up with the size of the state you save; what it prepares
    /// counts toward nothing and stays until the manager is collected. At most <see cref="CheckpointManagerOptions.StagingBudget"/>
    /// is prepared.
    /// </summary>
    /// <param name="bytes">The bytes a save will stage: the size of the tensors saved (0 prepares nothing).</param>
    /// <param name="cancellationToken">Stops preparing; what was prepared stays in the pool.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative.</exception>
    public virtual Task PrepareStagingAsync(long bytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        var chunkSize = _options.ChunkSize;
        var chunks = (int)Math.Min((Math.Min(bytes, _options.StagingBudget) + chunkSize - 1) / chunkSize, MaxPooledChunks);
        return Task.Run(
            () =>
            {
                var prepared = new List<byte[]>(chunks);
                try
                {
                    for (var i = 0; i < chunks && !cancellationToken.IsCancellationRequested; i++)
                    {
                        var chunk = StagingPool.Rent(chunkSize);
                        prepared.Add(chunk);

                        // A new array may be fresh pages the runtime never wrote: write one byte a page, so each is mapped now.
                        for (var page = 0; page < chunk.Length; page += 4096)
                        {
                            chunk[page] = 0;
                        }
                    }
                }
                finally
                {
                    prepared.ForEach(chunk => StagingPool.Return(chunk));
                }

                cancellationToken.ThrowIfCancellationRequested();
            },
            CancellationToken.None);
    }

    /// <summary>
    /// Starts saving this rank's part of the checkpoint of <paramref name="step"/>. Returns once every tensor has been
    /// copied into staging memory (the caller may change its tensors from then on); the operation returned completes
    /// when the checkpoint is committed. Cancelling <paramref name="cancellationToken"/> abandons the save, staged or
    /// in the background; the previous checkpoint is never affected.
    /// </summary>
    /// <remarks>
    /// Cancelled while staging, this throws <see cref="OperationCanceledException"/>; in the background, the operation
    /// ends cancelled. Either way the staging memory is returned and the staged files are deleted before that, so the
    /// same step can be saved again at once. Once rank 0 has started the rename that commits, the save is no longer
    /// cancelled: it commits (the operation succeeds) or fails. A rank other than 0 cancelled after it reported its
    /// files done leaves them for rank 0 to commit or delete, since rank 0 may already be committing them.
    /// </remarks>
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
        cancellationToken.ThrowIfCancellationRequested();
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
            job.Dispose();
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
    public virtual Task<Checkpoint> LoadAsync(long? step = null, CancellationToken cancellationToken = default) =>
        CheckpointTelemetry.ObserveLoadAsync(Root, step, Logger, () => LoadWholeAsync(step, cancellationToken));

    /// <summary>As <see cref="CheckpointManager.LoadAsync(long?, CancellationToken)"/>, without its span, log and metrics.</summary>
    private async Task<Checkpoint> LoadWholeAsync(long? step, CancellationToken cancellationToken)
    {
        var (chosen, directory, manifest) = await ReadManifestAsync(step, cancellationToken).ConfigureAwait(false);
        var buffers = new byte[manifest.Files.Count][];
        try
        {
            var files = new Task<NamedTensor[]>[manifest.Files.Count];
            for (var i = 0; i < files.Length; i++)
            {
                files[i] = LoadFileAsync(directory, manifest.Files[i], buffers, i, cancellationToken);
            }

            var sharded = ShardedTensors(manifest);
            var tensors = new List<NamedTensor>();
            foreach (var file in await Task.WhenAll(files).ConfigureAwait(false))
            {
                foreach (var tensor in file)
                {
                    if (!sharded.ContainsKey(tensor.Name))
                    {
                        tensors.Add(tensor);
                    }
                }
            }

            // Each tensor saved as shards, put together from the files already in memory.
            foreach (var tensor in sharded.Values)
            {
                var whole = TensorSlice.Whole(tensor.GlobalShape);
                var elementSize = tensor.DType.GetElementSize();
                var bytes = whole.ElementCount * elementSize;
                var buffer = RentLoadBuffer(bytes);
                Array.Resize(ref buffers, buffers.Length + 1);
                buffers[^1] = buffer;
                var perFile = new List<CopyBlock>?[buffers.Length];
                AddSliceCopies(perFile, tensor.Pieces, whole, elementSize);
                for (var i = 0; i < perFile.Length; i++)
                {
                    foreach (var block in perFile[i] ?? [])
                    {
                        buffers[i].AsSpan(checked((int)block.Source), (int)block.Length).CopyTo(buffer.AsSpan(checked((int)block.Destination)));
                    }
                }

                tensors.Add(new NamedTensor(tensor.Name, tensor.DType, tensor.GlobalShape, buffer.AsMemory(0, (int)bytes)));
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
    /// Loads the tensors named in <paramref name="destinations"/> of a committed checkpoint straight into the caller's
    /// memory, verified like <see cref="LoadAsync(long?, CancellationToken)"/>. Every destination is checked against the
    /// stored tensor before any byte is read; tensors not named are not read (apart from chunks they share with named ones).
    /// </summary>
    /// <param name="step">The step; null for the newest.</param>
    /// <param name="destinations">Tensor name → where its bytes go; each exactly the tensor's byte count (shape × element size).</param>
    /// <param name="cancellationToken">Cancels the load; destinations may then hold part of the data.</param>
    /// <returns>The checkpoint's step and metadata, and the loaded tensors, whose <see cref="NamedTensor.Data"/> is the caller's memory.</returns>
    /// <exception cref="ArgumentException">A name is not in the checkpoint, or a destination's length is not the tensor's byte count.</exception>
    /// <exception cref="FileNotFoundException">There is no committed checkpoint (of that step).</exception>
    /// <exception cref="InvalidDataException">A file does not match its manifest: wrong size, checksum or header. Destinations may hold part of the data.</exception>
    public virtual Task<Checkpoint> LoadAsync(long? step, IReadOnlyDictionary<string, Memory<byte>> destinations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        return CheckpointTelemetry.ObserveLoadAsync(
            Root,
            step,
            Logger,
            () => LoadIntoAsync(step, tensor => destinations.TryGetValue(tensor.Name, out var destination) ? destination : (Memory<byte>?)null, destinations.Keys, nameof(destinations), cancellationToken));
    }

    /// <summary>
    /// Loads a committed checkpoint into memory the caller chooses per tensor: <paramref name="destinations"/> is called
    /// once per stored tensor, in file order, on one thread at a time, before any tensor byte is read, and returns where
    /// that tensor's bytes go (exactly <see cref="TensorDescription.ByteCount"/> bytes) or null to skip it. Verified like
    /// <see cref="LoadAsync(long?, CancellationToken)"/>; chunks that lie inside one destination are read straight into it.
    /// </summary>
    /// <param name="step">The step; null for the newest.</param>
    /// <param name="destinations">
    /// Chooses each tensor's destination (check its dtype and shape there), or null to skip it. Mind that a null
    /// <c>byte[]</c> converts to empty memory, not to null: write <c>(Memory&lt;byte&gt;?)null</c>.
    /// </param>
    /// <param name="cancellationToken">Cancels the load; destinations may then hold part of the data.</param>
    /// <returns>The checkpoint's step and metadata, and the loaded tensors, whose <see cref="NamedTensor.Data"/> is the caller's memory.</returns>
    /// <exception cref="ArgumentException">A destination's length is not the tensor's byte count.</exception>
    /// <exception cref="FileNotFoundException">There is no committed checkpoint (of that step).</exception>
    /// <exception cref="InvalidDataException">A file does not match its manifest: wrong size, checksum or header. Destinations may hold part of the data.</exception>
    public virtual Task<Checkpoint> LoadAsync(long? step, Func<TensorDescription, Memory<byte>?> destinations, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destinations);
        return CheckpointTelemetry.ObserveLoadAsync(Root, step, Logger, () => LoadIntoAsync(step, destinations, null, nameof(destinations), cancellationToken));
    }

    /// <summary>
    /// Loads a slice of each named tensor of a committed checkpoint, whatever the number of ranks that saved it: the
    /// resharding load. For a tensor saved as shards (<see cref="NamedTensor.Shard"/>) the manifest says where every
    /// shard's bytes are, so only the byte runs the slice needs are read, from every shard it overlaps, and no header;
    /// a tensor saved whole is located by its file's header first. Runs closer than 64 KiB in a file are read as one.
    /// A read of a whole chunk is verified against the manifest's checksum, a part of a chunk by the transfers' bulk
    /// checksums. Dispose the result to return its memory.
    /// </summary>
    /// <param name="step">The step; null for the newest.</param>
    /// <param name="slices">Tensor name → the block of it to load, in the whole tensor's coordinates (<see cref="TensorSlice.Whole"/> for all of it).</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>
    /// The checkpoint's step and metadata, and one <see cref="NamedTensor.Shard">shard</see> per slice: the slice's bytes,
    /// row-major, with the tensor's global shape and the slice's offsets, ready to be saved again by this rank.
    /// </returns>
    /// <exception cref="ArgumentException">A name is not in the checkpoint, or a slice does not lie within its tensor.</exception>
    /// <exception cref="FileNotFoundException">There is no committed checkpoint (of that step).</exception>
    /// <exception cref="InvalidDataException">The manifest or a file is damaged: wrong size, checksum or header.</exception>
    public virtual async Task<Checkpoint> LoadSlicesAsync(long? step, IReadOnlyDictionary<string, TensorSlice> slices, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(slices);
        var (chosen, directory, manifest) = await ReadManifestAsync(step, cancellationToken).ConfigureAwait(false);
        var sharded = ShardedTensors(manifest);
        var count = manifest.Files.Count;

        // Tensors saved whole: their file's header says where they are.
        var wholeIn = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            foreach (var name in manifest.Files[i].Tensors)
            {
                if (slices.ContainsKey(name) && !sharded.ContainsKey(name))
                {
                    wholeIn[name] = i;
                }
            }
        }

        var missing = new List<string>();
        foreach (var name in slices.Keys)
        {
            if (!sharded.ContainsKey(name) && !wholeIn.ContainsKey(name))
            {
                missing.Add("'" + name + "'");
            }
        }

        if (missing.Count > 0)
        {
            throw new ArgumentException($"Checkpoint step {chosen} has no tensor named {string.Join(", ", missing)}.", nameof(slices));
        }

        var files = new IO.LustreFile?[count];
        var readers = new Task<CheckpointFileReader>?[count];
        var headers = new Task<StoredHeader>?[count];
        var buffers = new List<byte[]>();
        var returned = false;
        try
        {
            foreach (var file in wholeIn.Values)
            {
                headers[file] ??= ReadHeaderAsync(directory, manifest.Files[file], files, file, cancellationToken);
            }

            await Task.WhenAll(headers.Where(h => h is not null).Cast<Task>()).ConfigureAwait(false);
            long bytesRead = 0;
            var requests = new List<(NamedTensor Tensor, List<CopyBlock>?[] PerFile)>(slices.Count);
            foreach (var (name, slice) in slices)
            {
                ArgumentNullException.ThrowIfNull(slice, nameof(slices));
                TensorDType dtype;
                long[] globalShape;
                IReadOnlyList<StoredPiece> pieces;
                if (sharded.TryGetValue(name, out var tensor))
                {
                    (dtype, globalShape, pieces) = (tensor.DType, tensor.GlobalShape, tensor.Pieces);
                }
                else
                {
                    var file = wholeIn[name];
                    var header = headers[file]!.Result;
                    var entry = header.Entries.Find(e => e.Name == name)!;
                    (dtype, globalShape) = (entry.DType, entry.Shape);
                    pieces = [new StoredPiece(file, entry.Shape, new long[entry.Shape.Length], header.DataStart + entry.Begin)];
                }

                slice.CheckWithin(name, globalShape, nameof(slices));
                var elementSize = dtype.GetElementSize();
                var buffer = RentLoadBuffer(slice.ElementCount * elementSize);
                buffers.Add(buffer);
                var data = buffer.AsMemory(0, (int)(slice.ElementCount * elementSize));
                var perFile = new List<CopyBlock>?[count];
                AddSliceCopies(perFile, pieces, slice, elementSize);
                requests.Add((NamedTensor.Shard(name, dtype, globalShape, slice.OffsetsSpan, slice.ShapeSpan, data), perFile));
                for (var i = 0; i < count; i++)
                {
                    if (perFile[i] is not null && headers[i] is null)
                    {
                        readers[i] ??= OpenReaderAsync(directory, manifest.Files[i], files, i, cancellationToken);
                    }
                }
            }

            for (var i = 0; i < count; i++)
            {
                if (headers[i] is { } header)
                {
                    bytesRead += header.Result.Covered;
                    readers[i] = Task.FromResult(header.Result.Reader);
                }
            }

            var gate = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
            var reads = new List<Task<long>>();
            foreach (var (tensor, perFile) in requests)
            {
                for (var i = 0; i < count; i++)
                {
                    if (perFile[i] is { } blocks)
                    {
                        reads.Add(ReadSliceBlocksAsync(readers[i]!, blocks, MemoryMarshal.AsMemory(tensor.Data), gate, cancellationToken));
                    }
                }
            }

            foreach (var read in await Task.WhenAll(reads).ConfigureAwait(false))
            {
                bytesRead += read;
            }

            var loaded = new List<NamedTensor>(requests.Count);
            foreach (var (tensor, _) in requests)
            {
                loaded.Add(tensor);
            }

            returned = true;
            return new Checkpoint(chosen, manifest.Metadata, loaded, [.. buffers]) { BytesRead = bytesRead };
        }
        finally
        {
            if (!returned)
            {
                ReturnLoadBuffers([.. buffers]);
            }

            foreach (var header in headers)
            {
                if (header is { IsCompletedSuccessfully: true })
                {
                    ArrayPool<byte>.Shared.Return(header.Result.Prefix);
                }
            }

            foreach (var reader in readers)
            {
                if (reader is not null)
                {
                    try
                    {
                        await reader.ConfigureAwait(false);
                    }
                    catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException or InvalidDataException or UnauthorizedAccessException)
                    {
                        // The failure is reported by the read that waited for it.
                    }
                }
            }

            foreach (var file in files)
            {
                if (file is not null)
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    private static async Task<long> ReadSliceBlocksAsync(Task<CheckpointFileReader> reader, List<CopyBlock> blocks, Memory<byte> destination, SemaphoreSlim gate, CancellationToken cancellationToken) =>
        await TensorBlockReader.ReadAsync(await reader.ConfigureAwait(false), blocks, destination, gate, cancellationToken).ConfigureAwait(false);

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

                await DirectoryTree.DeleteAsync(_client, entry.Path, entry.IsDirectory, cancellationToken).ConfigureAwait(false);
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

        Codec?.Dispose();
        GC.SuppressFinalize(this);
    }

    internal static void ReturnLoadBuffers(byte[][] buffers) => Checkpoint.Return(buffers);

    /// <summary>What a load that found no manifest says about files this manager did not write.</summary>
    private const string NotOurs =
        "A CheckpointManager loads only the checkpoints it committed, each described by its manifest; to read a plain .safetensors file or a Hugging Face model directory (model.safetensors.index.json), open it with SafetensorsFile.OpenAsync.";

    /// <summary>A load buffer: pooled up to <see cref="MaxPooledLoadBuffer"/>, exact above (the pool would round it up to twice the size).</summary>
    private static byte[] RentLoadBuffer(long size)
    {
        if (size > Array.MaxLength)
        {
            throw new InvalidDataException($"{size} bytes is more than one tensor or file of a checkpoint may hold in memory.");
        }

        if (size <= MaxPooledLoadBuffer)
        {
            return ArrayPool<byte>.Shared.Rent((int)size);
        }

        // Fresh memory the load is the first to write: huge pages, where the host allows, cost far fewer faults.
        var buffer = GC.AllocateUninitializedArray<byte>((int)size);
        HugePages.Advise(buffer);
        return buffer;
    }

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
                await DirectoryTree.CreateAsync(_client, Root, cancellationToken).ConfigureAwait(false);
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
            await DirectoryTree.CreateAsync(_client, trash, cancellationToken).ConfigureAwait(false);
            var doomed = LustrePath.Combine(trash, StepName(steps[i]) + "." + Guid.NewGuid().ToString("N"));
            await _client.RenameAsync(StepPath(steps[i]), doomed, cancellationToken).ConfigureAwait(false);
            await DirectoryTree.DeleteAsync(_client, doomed, isDirectory: true, cancellationToken).ConfigureAwait(false);
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
        var file = await _client.OpenFileAsync(path, FileMode.Create, FileAccess.ReadWrite, _options.SmallFileLayout, cancellationToken).ConfigureAwait(false);
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

    private async Task<(long Step, string Directory, CheckpointManifest Manifest)> ReadManifestAsync(long? step, CancellationToken cancellationToken)
    {
        var chosen = step ?? await GetLatestStepAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new FileNotFoundException($"{Root}: there is no committed checkpoint (no step-NNNNNNNN directory with a {ManifestName}). {NotOurs}", Root);
        var directory = StepPath(chosen);
        var manifestPath = LustrePath.Combine(directory, ManifestName);
        byte[] manifestBytes;
        try
        {
            manifestBytes = await ReadSmallFileAsync(manifestPath, CheckpointManifest.MaxBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new FileNotFoundException($"{Root}: there is no committed checkpoint of step {chosen} (no {manifestPath}). {NotOurs}", directory, ex);
        }

        var manifest = CheckpointManifest.Parse(manifestBytes, manifestPath);
        if (manifest.Step != chosen)
        {
            throw new InvalidDataException($"{manifestPath}: the manifest is for step {manifest.Step}, not {chosen}.");
        }

        return (chosen, directory, manifest);
    }

    private static void CheckListed(string path, ManifestFile entry, int count, IEnumerable<string> names)
    {
        if (count != entry.Tensors.Length)
        {
            throw new InvalidDataException($"{path}: the file holds {count} tensors but the manifest lists {entry.Tensors.Length}.");
        }

        var listed = new HashSet<string>(entry.Tensors, StringComparer.Ordinal);
        foreach (var name in names)
        {
            if (!listed.Contains(name))
            {
                throw new InvalidDataException($"{path}: tensor '{name}' is not in the manifest.");
            }
        }
    }

    private async Task<NamedTensor[]> LoadFileAsync(string directory, ManifestFile entry, byte[][] buffers, int index, CancellationToken cancellationToken)
    {
        var path = LustrePath.Combine(directory, entry.Name);
        var file = await _client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using var closer = file.ConfigureAwait(false);
        var reader = new CheckpointFileReader(this, file, path, entry);
        reader.CheckStoredSize();
        if (entry.Size > Array.MaxLength)
        {
            throw new InvalidDataException($"{path}: {entry.Size} bytes is more than one file of a checkpoint may hold.");
        }

        var size = (int)entry.Size;
        var buffer = RentLoadBuffer(size);
        buffers[index] = buffer;
        var reads = new Task[entry.Chunks.Length];
        for (var chunk = 0; chunk < reads.Length; chunk++)
        {
            reads[chunk] = reader.ReadChunkAsync(chunk, buffer.AsMemory(chunk * entry.ChunkSize, entry.ChunkLength(chunk)), cancellationToken);
        }

        await Task.WhenAll(reads).ConfigureAwait(false);
        var contents = SafetensorsCodec.Parse(buffer.AsMemory(0, size), path);
        var names = new string[contents.Tensors.Length];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = contents.Tensors[i].Name;
        }

        CheckListed(path, entry, names.Length, names);
        CheckShards(path, entry, contents.Entries, contents.DataStart);
        return contents.Tensors;
    }

    /// <summary>Checks that the file's header agrees with the manifest about each shard: dtype, shape and where its bytes are.</summary>
    private static void CheckShards(string path, ManifestFile entry, List<SafetensorsEntry> entries, int dataStart)
    {
        if (entry.Shards is not { Length: > 0 } shards)
        {
            return;
        }

        var byName = new Dictionary<string, SafetensorsEntry>(entries.Count, StringComparer.Ordinal);
        foreach (var stored in entries)
        {
            byName[stored.Name] = stored;
        }

        foreach (var shard in shards)
        {
            if (!byName.TryGetValue(shard.Name, out var stored) || stored.DType != shard.DType || !stored.Shape.AsSpan().SequenceEqual(shard.Shape) || dataStart + stored.Begin != shard.Begin)
            {
                throw new InvalidDataException($"{path}: the header and the manifest disagree about the shard of '{shard.Name}' (dtype, shape or place in the file).");
            }
        }
    }

    /// <summary>The tensors saved as shards, by name, with where each shard is.</summary>
    private static Dictionary<string, ShardedTensor> ShardedTensors(CheckpointManifest manifest)
    {
        var sharded = new Dictionary<string, ShardedTensor>(StringComparer.Ordinal);
        for (var i = 0; i < manifest.Files.Count; i++)
        {
            foreach (var shard in manifest.Files[i].Shards ?? [])
            {
                if (!sharded.TryGetValue(shard.Name, out var tensor))
                {
                    sharded[shard.Name] = tensor = new ShardedTensor(shard.Name, shard.DType, shard.GlobalShape, []);
                }

                tensor.Pieces.Add(new StoredPiece(i, shard.Shape, shard.Offsets, shard.Begin));
            }
        }

        return sharded;
    }

    /// <summary>
    /// Adds, per file, the byte runs that copy <paramref name="slice"/> of a tensor stored as <paramref name="pieces"/>
    /// into a row-major buffer of the slice's shape.
    /// </summary>
    private static void AddSliceCopies(List<CopyBlock>?[] perFile, IReadOnlyList<StoredPiece> pieces, TensorSlice slice, int elementSize)
    {
        var rank = slice.ShapeSpan.Length;
        var start = new long[rank];
        var extent = new long[rank];
        var sourceStart = new long[rank];
        var destinationStart = new long[rank];
        foreach (var piece in pieces)
        {
            if (!TensorBlocks.TryIntersect(slice.OffsetsSpan, slice.ShapeSpan, piece.Offsets, piece.Shape, start, extent))
            {
                continue;
            }

            for (var d = 0; d < rank; d++)
            {
                sourceStart[d] = start[d] - piece.Offsets[d];
                destinationStart[d] = start[d] - slice.OffsetsSpan[d];
            }

            TensorBlocks.AddCopies(perFile[piece.File] ??= [], piece.Begin, piece.Shape, sourceStart, 0, slice.ShapeSpan, destinationStart, extent, elementSize);
        }
    }

    private async Task<Checkpoint> LoadIntoAsync(
        long? step, Func<TensorDescription, Memory<byte>?> resolve, IEnumerable<string>? required, string parameter, CancellationToken cancellationToken)
    {
        var (chosen, directory, manifest) = await ReadManifestAsync(step, cancellationToken).ConfigureAwait(false);
        var sharded = ShardedTensors(manifest);
        var files = new IO.LustreFile?[manifest.Files.Count];
        var headers = new Task<StoredHeader>[files.Length];
        try
        {
            // 1. Every file's header, in parallel: the bytes each tensor occupies.
            for (var i = 0; i < files.Length; i++)
            {
                headers[i] = ReadHeaderAsync(directory, manifest.Files[i], files, i, cancellationToken);
            }

            await Task.WhenAll(headers).ConfigureAwait(false);

            // 2. The caller's destinations, all checked before anything is written into them.
            var loaded = new List<NamedTensor>();
            var found = new HashSet<string>(StringComparer.Ordinal);
            var placements = new List<Placement>[files.Length];
            for (var i = 0; i < files.Length; i++)
            {
                var header = headers[i].Result;
                placements[i] = [];
                CheckShards(header.Reader.Path, manifest.Files[i], header.Entries, header.DataStart);
                foreach (var entry in header.Entries)
                {
                    if (sharded.ContainsKey(entry.Name))
                    {
                        continue;
                    }

                    var bytes = entry.End - entry.Begin;
                    var description = new TensorDescription(entry.Name, entry.DType, entry.Shape, bytes);
                    if (resolve(description) is not { } destination)
                    {
                        continue;
                    }

                    if (destination.Length != bytes)
                    {
                        throw new ArgumentException(
                            $"Tensor '{entry.Name}' of checkpoint step {chosen} is {entry.DType.ToSafetensorsName()}[{string.Join(",", entry.Shape)}] = {bytes} bytes, but its destination holds {destination.Length}." +
                            (destination.Length == 0 ? " To skip a tensor, return null as a Memory<byte>?, not a null array (which converts to empty memory)." : string.Empty),
                            parameter);
                    }

                    found.Add(entry.Name);
                    loaded.Add(new NamedTensor(entry.Name, entry.DType, entry.Shape, destination));
                    placements[i].Add(new Placement(header.DataStart + entry.Begin, destination));
                }
            }

            // A tensor saved as shards is shown whole (its global shape) and put together from every rank's shard.
            var assemblies = new List<(Memory<byte> Destination, List<CopyBlock>?[] PerFile)>();
            foreach (var tensor in sharded.Values)
            {
                var whole = TensorSlice.Whole(tensor.GlobalShape);
                var bytes = whole.ElementCount * tensor.DType.GetElementSize();
                if (resolve(new TensorDescription(tensor.Name, tensor.DType, tensor.GlobalShape, bytes)) is not { } destination)
                {
                    continue;
                }

                if (destination.Length != bytes)
                {
                    throw new ArgumentException(
                        $"Tensor '{tensor.Name}' of checkpoint step {chosen} is {tensor.DType.ToSafetensorsName()}[{string.Join(",", tensor.GlobalShape)}] = {bytes} bytes (saved as {tensor.Pieces.Count} shards), but its destination holds {destination.Length}.",
                        parameter);
                }

                found.Add(tensor.Name);
                loaded.Add(new NamedTensor(tensor.Name, tensor.DType, tensor.GlobalShape, destination));
                var perFile = new List<CopyBlock>?[files.Length];
                AddSliceCopies(perFile, tensor.Pieces, whole, tensor.DType.GetElementSize());
                assemblies.Add((destination, perFile));
            }

            if (required is not null)
            {
                var missing = new List<string>();
                foreach (var name in required)
                {
                    if (!found.Contains(name))
                    {
                        missing.Add(name);
                    }
                }

                if (missing.Count > 0)
                {
                    throw new ArgumentException($"Checkpoint step {chosen} has no tensor named {string.Join(", ", missing.Select(n => "'" + n + "'"))}.", parameter);
                }
            }

            // 3. The data, every file and chunk in parallel, straight into the destinations where a chunk allows.
            var bounceGate = new SemaphoreSlim(_options.MaxConcurrency, _options.MaxConcurrency);
            var fills = new List<Task>(files.Length + assemblies.Count);
            for (var i = 0; i < files.Length; i++)
            {
                fills.Add(FillAsync(headers[i].Result, placements[i], bounceGate, cancellationToken));
            }

            foreach (var (destination, perFile) in assemblies)
            {
                for (var i = 0; i < perFile.Length; i++)
                {
                    if (perFile[i] is { } blocks)
                    {
                        fills.Add(TensorBlockReader.ReadAsync(headers[i].Result.Reader, blocks, destination, bounceGate, cancellationToken));
                    }
                }
            }

            await Task.WhenAll(fills).ConfigureAwait(false);
            return new Checkpoint(chosen, manifest.Metadata, loaded, []);
        }
        finally
        {
            foreach (var header in headers)
            {
                if (header is { IsCompletedSuccessfully: true })
                {
                    ArrayPool<byte>.Shared.Return(header.Result.Prefix);
                }
            }

            foreach (var file in files)
            {
                if (file is not null)
                {
                    await file.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }

    /// <summary>Opens a file and reads, verified, the chunks that hold its safetensors header (usually just the first).</summary>
    private async Task<StoredHeader> ReadHeaderAsync(string directory, ManifestFile entry, IO.LustreFile?[] files, int index, CancellationToken cancellationToken)
    {
        var reader = await OpenReaderAsync(directory, entry, files, index, cancellationToken).ConfigureAwait(false);
        var path = reader.Path;
        var first = entry.ChunkLength(0);
        var prefix = ArrayPool<byte>.Shared.Rent(first);
        try
        {
            await reader.ReadChunkAsync(0, prefix.AsMemory(0, first), cancellationToken).ConfigureAwait(false);
            var headerLength = SafetensorsCodec.ReadHeaderLength(prefix.AsSpan(0, first), entry.Size, path);
            var dataStart = 8 + headerLength;
            var chunks = (dataStart + entry.ChunkSize - 1) / entry.ChunkSize;
            var covered = (int)Math.Min((long)chunks * entry.ChunkSize, entry.Size);
            if (chunks > 1)
            {
                // A header longer than a chunk (thousands of tensors): read the chunks it spans too.
                var larger = ArrayPool<byte>.Shared.Rent(covered);
                prefix.AsSpan(0, first).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(prefix);
                prefix = larger;
                var reads = new Task[chunks - 1];
                for (var chunk = 1; chunk < chunks; chunk++)
                {
                    reads[chunk - 1] = reader.ReadChunkAsync(chunk, prefix.AsMemory(chunk * entry.ChunkSize, entry.ChunkLength(chunk)), cancellationToken);
                }

                await Task.WhenAll(reads).ConfigureAwait(false);
            }

            var entries = SafetensorsCodec.ParseHeader(prefix.AsSpan(8, headerLength), entry.Size - dataStart, path, out _);
            var names = new string[entries.Count];
            for (var i = 0; i < names.Length; i++)
            {
                names[i] = entries[i].Name;
            }

            CheckListed(path, entry, names.Length, names);
            return new StoredHeader(reader, prefix, covered, chunks, dataStart, entries);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(prefix);
            throw;
        }
    }

    /// <summary>Opens a data file for reading (kept in <paramref name="files"/> for the caller to close) and checks its stored size.</summary>
    private async Task<CheckpointFileReader> OpenReaderAsync(string directory, ManifestFile entry, IO.LustreFile?[] files, int index, CancellationToken cancellationToken)
    {
        var path = LustrePath.Combine(directory, entry.Name);
        var file = files[index] = await _client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        var reader = new CheckpointFileReader(this, file, path, entry);
        reader.CheckStoredSize();
        return reader;
    }

    /// <summary>Puts the placed tensors' bytes of one file into their destinations; chunks holding none of them are not read.</summary>
    private static async Task FillAsync(StoredHeader header, List<Placement> placements, SemaphoreSlim bounceGate, CancellationToken cancellationToken)
    {
        var entry = header.Reader.Entry;
        foreach (var placement in placements)
        {
            CopyOverlap(header.Prefix.AsSpan(0, header.Covered), 0, placement);
        }

        var reads = new List<Task>();
        var first = 0;
        for (var chunk = header.PrefixChunks; chunk < entry.Chunks.Length; chunk++)
        {
            var start = (long)chunk * entry.ChunkSize;
            var end = start + entry.ChunkLength(chunk);
            while (first < placements.Count && placements[first].End <= start)
            {
                first++;
            }

            var pieces = new List<Memory<byte>>();
            long covered = 0;
            var smallest = int.MaxValue;
            for (var p = first; p < placements.Count && placements[p].Offset < end; p++)
            {
                var from = Math.Max(start, placements[p].Offset);
                var to = Math.Min(end, placements[p].End);
                if (to > from)
                {
                    pieces.Add(placements[p].Destination.Slice((int)(from - placements[p].Offset), (int)(to - from)));
                    covered += to - from;
                    smallest = Math.Min(smallest, (int)(to - from));
                }
            }

            if (pieces.Count == 0)
            {
                continue;
            }

            var whole = covered == end - start;
            if (whole && pieces.Count == 1)
            {
                reads.Add(header.Reader.ReadChunkAsync(chunk, pieces[0], cancellationToken));
            }
            else if (whole && !entry.IsCompressed && smallest >= DirectPieceMinimum)
            {
                reads.Add(header.Reader.ReadChunkIntoPiecesAsync(chunk, [.. pieces], cancellationToken));
            }
            else
            {
                reads.Add(BounceAsync(header.Reader, chunk, start, placements, first, bounceGate, cancellationToken));
            }
        }

        await Task.WhenAll(reads).ConfigureAwait(false);
    }

    /// <summary>A chunk shared with skipped tensors, split into tiny pieces, or compressed across tensors: read whole into scratch, then copied out.</summary>
    private static async Task BounceAsync(CheckpointFileReader reader, int chunk, long start, List<Placement> placements, int first, SemaphoreSlim bounceGate, CancellationToken cancellationToken)
    {
        var length = reader.Entry.ChunkLength(chunk);
        await bounceGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var scratch = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            await reader.ReadChunkAsync(chunk, scratch.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
            for (var p = first; p < placements.Count && placements[p].Offset < start + length; p++)
            {
                CopyOverlap(scratch.AsSpan(0, length), start, placements[p]);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
            bounceGate.Release();
        }
    }

    /// <summary>Copies the part of <paramref name="placement"/> that lies in <paramref name="source"/> (file bytes from <paramref name="sourceOffset"/>).</summary>
    private static void CopyOverlap(ReadOnlySpan<byte> source, long sourceOffset, Placement placement)
    {
        var from = Math.Max(sourceOffset, placement.Offset);
        var to = Math.Min(sourceOffset + source.Length, placement.End);
        if (to > from)
        {
            source.Slice((int)(from - sourceOffset), (int)(to - from)).CopyTo(placement.Destination.Span.Slice((int)(from - placement.Offset)));
        }
    }

    /// <summary>Below this, a piece of a chunk is not worth its own read: the chunk is read into scratch and copied.</summary>
    private const int DirectPieceMinimum = 64 << 10;

    /// <summary>Where one tensor's bytes lie in its file and where they go.</summary>
    private readonly record struct Placement(long Offset, Memory<byte> Destination)
    {
        public long End => Offset + Destination.Length;
    }

    /// <summary>A tensor saved as shards: its dtype, global shape and every shard.</summary>
    private sealed record ShardedTensor(string Name, TensorDType DType, long[] GlobalShape, List<StoredPiece> Pieces);

    /// <summary>A block of a tensor stored in file <see cref="File"/> (an index into the manifest's files) from byte <see cref="Begin"/>, row-major.</summary>
    private sealed record StoredPiece(int File, long[] Shape, long[] Offsets, long Begin);

    /// <summary>A file's parsed header and the verified chunks read to get it (<see cref="Prefix"/>, <see cref="Covered"/> bytes).</summary>
    private sealed record StoredHeader(CheckpointFileReader Reader, byte[] Prefix, int Covered, int PrefixChunks, int DataStart, List<SafetensorsEntry> Entries);
}
