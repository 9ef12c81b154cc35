using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Hashing;
using Lustre.Client;
using Lustre.IO;
using Lustre.Namespace;
using Lustre.Protocol;

namespace Lustre.Checkpoints;

/// <summary>
/// One rank's save of one step: plans the files, stages the tensors chunk by chunk into pooled memory (the part
/// the caller waits for), then writes, flushes and commits in the background. See <c>docs/checkpoints.md</c>.
/// </summary>
internal sealed class CheckpointSaveJob : IDisposable
{
    private readonly CheckpointManager _manager;
    private readonly CheckpointManagerOptions _options;
    private readonly IReadOnlyDictionary<string, string> _metadata;
    private readonly PlannedFile[] _files;
    private readonly CancellationTokenSource _cancel;
    private readonly List<Task> _writes = [];
    private Task<LustreFile[]>? _prepare;
    private Activity? _activity;

    /// <summary>A rank other than 0 has (tried to) put its marker in place: rank 0 may commit its files from then on.</summary>
    private bool _reported;

    public CheckpointSaveJob(CheckpointManager manager, long step, IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string> metadata, CancellationToken cancellationToken)
    {
        _manager = manager;
        _options = manager.Options;
        _metadata = metadata;
        Step = step;
        _files = Plan(tensors, step, manager.Rank, metadata, _options.MaxFileSize, _options.ChunkSize, _options.Compression == CheckpointCompression.Zstd ? manager.Codec : null);
        long bytes = 0;
        foreach (var tensor in tensors)
        {
            bytes += tensor.Data.Length;
        }

        Operation = new CheckpointSaveOperation(step, manager.Rank, bytes);
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    public long Step { get; }

    public CheckpointSaveOperation Operation { get; }

    private CancellationToken Token => _cancel.Token;

    private string StagingDirectory => _manager.StagingPath(Step);

    /// <summary>Copies every chunk into staging memory, starting each chunk's write as soon as its batch is copied.</summary>
    public async Task StageAsync()
    {
        // Current from here on, so the file creations and writes below (background ones too) are the span's children.
        _activity = CheckpointTelemetry.StartSave(_manager.Root, Operation);
        _prepare = PrepareAsync();
        var batch = new List<StagedChunk>();
        try
        {
            foreach (var file in _files)
            {
                for (long offset = 0; offset < file.Size; offset += _options.ChunkSize)
                {
                    Token.ThrowIfCancellationRequested();
                    var length = (int)Math.Min(_options.ChunkSize, file.Size - offset);
                    if (!_manager.Staging.TryAcquire(length))
                    {
                        // Out of budget: send what is copied so far, then wait for written chunks to free memory.
                        Publish(batch);
                        await _manager.Staging.AcquireAsync(length, Token).ConfigureAwait(false);
                    }

                    batch.Add(new StagedChunk(file, offset, length, _manager.StagingPool.Rent(length)));
                }
            }

            Publish(batch);
        }
        catch (Exception ex)
        {
            foreach (var chunk in batch)
            {
                Release(chunk);
            }

            await _cancel.CancelAsync().ConfigureAwait(false);
            await AbandonAsync(ex).ConfigureAwait(false);
            CheckpointTelemetry.SaveFailed(_activity, _manager.Logger, Operation, ex);
            throw;
        }

        Operation.StagingTime = Stopwatch.GetElapsedTime(Operation.StartTimestamp);
        CheckpointTelemetry.Staged(_activity, _manager.Logger, Operation);
        Operation.Run(WriteAndCommitAsync);
    }

    public void Dispose() => _cancel.Dispose();

    private void Publish(List<StagedChunk> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        // The copies are the only thing the training loop waits for: spread them over the cores, stopping between
        // chunks when cancelled (the batch is then released by the caller).
        Parallel.For(0, batch.Count, new ParallelOptions { CancellationToken = Token }, i => batch[i].File.Fill(batch[i].Offset, batch[i].Buffer.AsSpan(0, batch[i].Length)));
        // Each write starts on the thread pool: run inline, a chunk's XXH3 (and the first RPCs) would run on the
        // caller's thread whenever the files are already open, adding ~0.3 s per 4 GiB to the time SaveAsync blocks.
        foreach (var chunk in batch)
        {
            _writes.Add(Task.Run(() => WriteChunkAsync(chunk), CancellationToken.None));
        }

        batch.Clear();
    }

    private async Task WriteChunkAsync(StagedChunk chunk)
    {
        var gate = _manager.WriteGate;
        EncodedChunk? encoded = null;
        var plainReturned = false;
        try
        {
            var files = await _prepare!.ConfigureAwait(false);
            var index = (int)(chunk.Offset / _options.ChunkSize);
            var data = chunk.Buffer.AsMemory(0, chunk.Length);
            ReadOnlyMemory<byte> tail = default;
            var position = chunk.Offset;
            if (chunk.File.Frames is { } frames)
            {
                // Compressed on the thread pool, never on the caller's thread, into another staging buffer; the plain
                // one goes back at once, so compression holds no more memory than staging does. The frame's place in
                // the file is known once every earlier frame is compressed: writes stay parallel and the file in order.
                var frame = await CompressAsync(chunk).ConfigureAwait(false);
                encoded = frame;
                _manager.StagingPool.Return(chunk.Buffer);
                plainReturned = true;
                position = await chunk.File.FrameStarts[index].Task.WaitAsync(Token).ConfigureAwait(false);
                if (frame.Tail is { } room)
                {
                    // A raw frame ends on a page boundary, so the raw frames after it are written page-aligned.
                    var padding = ZstdChunkCodec.Pad(room.AsSpan(frame.TailLength), position, frame.Length + frame.TailLength, chunk.Length);
                    frame = frame with { TailLength = frame.TailLength + padding };
                }

                var stored = frame.Length + frame.TailLength;
                chunk.File.FrameStarts[index + 1].SetResult(position + stored);
                frames[index] = new ManifestFrame(position, stored, chunk.Length, frame.Checksum());
                data = frame.Frame.AsMemory(0, frame.Length);
                tail = frame.Tail.AsMemory(0, frame.TailLength);
            }
            else
            {
                chunk.File.Checksums[index] = XxHash3.HashToUInt64(data.Span);
            }

            await gate.WaitAsync(Token).ConfigureAwait(false);
            try
            {
                Operation.Advance(CheckpointSaveStatus.Writing);
                await files[chunk.File.Index].WriteAtAsync(position, data, Token).ConfigureAwait(false);
                if (!tail.IsEmpty)
                {
                    await files[chunk.File.Index].WriteAtAsync(position + data.Length, tail, Token).ConfigureAwait(false);
                }
            }
            finally
            {
                gate.Release();
            }
        }
        catch
        {
            // One failed chunk dooms the save: stop the others instead of writing bytes nobody will commit.
            await _cancel.CancelAsync().ConfigureAwait(false);
            throw;
        }
        finally
        {
            if (encoded is { } frame)
            {
                _manager.StagingPool.Return(frame.Frame);
                if (frame.Tail is not null)
                {
                    ArrayPool<byte>.Shared.Return(frame.Tail);
                }
            }

            if (!plainReturned)
            {
                _manager.StagingPool.Return(chunk.Buffer);
            }

            _manager.Staging.Release(chunk.Length);
        }
    }

    /// <summary>
    /// Checksums the chunk's plain bytes and encodes them into one zstd frame, on a pool thread, one chunk per core at
    /// a time. The frame buffer is rented only then (not when the chunk is queued), so frames never outnumber the plain
    /// chunks they replace. A chunk not worth compressing (<see cref="ZstdChunkCodec.WorthCompressing"/>), or one
    /// that did not shrink after all, is stored as a frame of raw blocks: all but its last few bytes fit the
    /// chunk-sized buffer, and those go in a small tail with room for the padding that ends the frame on a page.
    /// </summary>
    private async Task<EncodedChunk> CompressAsync(StagedChunk chunk)
    {
        await _manager.CompressGate.WaitAsync(Token).ConfigureAwait(false);
        try
        {
            var codec = _manager.Codec;
            var frame = _manager.StagingPool.Rent(chunk.Length);
            return await Task.Run(() => Encode(codec, chunk, frame), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _manager.CompressGate.Release();
        }
    }

    private EncodedChunk Encode(ZstdChunkCodec codec, StagedChunk chunk, byte[] frame)
    {
        var plain = chunk.Buffer.AsSpan(0, chunk.Length);
        chunk.File.Checksums[chunk.Offset / _options.ChunkSize] = XxHash3.HashToUInt64(plain);
        if (codec.WorthCompressing(plain) && codec.TryCompress(plain, frame) is var length and >= 0)
        {
            return new EncodedChunk(frame, length, null, 0);
        }

        var stored = ZstdChunkCodec.RawFrameLength(plain.Length);
        var head = Math.Min(stored, frame.Length);
        var tail = head < stored ? ArrayPool<byte>.Shared.Rent(stored - head + ZstdChunkCodec.MaxPaddingLength) : null;
        ZstdChunkCodec.WriteRawFrame(plain, frame.AsSpan(0, head), tail.AsSpan(0, stored - head));
        return new EncodedChunk(frame, head, tail, stored - head);
    }

    private void Release(StagedChunk chunk)
    {
        _manager.StagingPool.Return(chunk.Buffer);
        _manager.Staging.Release(chunk.Length);
    }

    /// <summary>Creates the staging directory and the (empty) data files while the caller's tensors are being copied.</summary>
    private async Task<LustreFile[]> PrepareAsync()
    {
        if (_manager.Rank == 0)
        {
            await _manager.SetUpAsync(Token).ConfigureAwait(false);
        }

        // Not cancellable: a create already sent still lands on the MDS after its caller stops waiting, so an abandoned
        // save could delete its staging directory first and leave the late arrivals behind. Waiting for these few
        // metadata operations lets AbandonAsync delete everything the save created.
        await DirectoryTree.CreateAsync(_manager.Client, StagingDirectory, CancellationToken.None).ConfigureAwait(false);
        var opens = new Task<LustreFile>[_files.Length];
        for (var i = 0; i < _files.Length; i++)
        {
            opens[i] = _manager.Client.OpenFileAsync(LustrePath.Combine(StagingDirectory, _files[i].Name), FileMode.Create, FileAccess.ReadWrite, _options.EffectiveDataLayout, CancellationToken.None);
        }

        try
        {
            return await Task.WhenAll(opens).ConfigureAwait(false);
        }
        catch
        {
            foreach (var open in opens)
            {
                if (open.IsCompletedSuccessfully)
                {
                    await CloseQuietlyAsync(open.Result).ConfigureAwait(false);
                }
            }

            throw;
        }
    }

    private async Task WriteAndCommitAsync()
    {
        try
        {
            await Task.WhenAll(_writes).ConfigureAwait(false);
            var files = await _prepare!.ConfigureAwait(false);
            var flushes = new Task[files.Length];
            for (var i = 0; i < files.Length; i++)
            {
                flushes[i] = FlushAndCloseAsync(files[i]);
            }

            await Task.WhenAll(flushes).ConfigureAwait(false);
            Operation.Advance(CheckpointSaveStatus.Durable);
            CheckpointTelemetry.Durable(_activity);
            var entries = new ManifestFile[_files.Length];
            for (var i = 0; i < entries.Length; i++)
            {
                entries[i] = _files[i].ToManifest(_manager.Rank, _options.ChunkSize);
            }

            if (_manager.Rank == 0)
            {
                await CommitAsync(entries).ConfigureAwait(false);
            }
            else
            {
                await ReportAndWaitForCommitAsync(entries).ConfigureAwait(false);
            }

            Operation.Advance(CheckpointSaveStatus.Committed);
            CheckpointTelemetry.Committed(_activity, _manager.Logger, Operation, _manager.StepPath(Step));
        }
        catch (Exception ex)
        {
            await _cancel.CancelAsync().ConfigureAwait(false);
            await AbandonAsync(ex).ConfigureAwait(false);
            CheckpointTelemetry.SaveFailed(_activity, _manager.Logger, Operation, ex);
            throw;
        }
        finally
        {
            _cancel.Dispose();
        }
    }

    private async Task FlushAndCloseAsync(LustreFile file)
    {
        await file.FlushAsync(Token).ConfigureAwait(false);
        await file.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Rank 0: gathers the other ranks' parts, writes the manifest durably, renames the directory into place.</summary>
    private async Task CommitAsync(ManifestFile[] own)
    {
        var all = new List<ManifestFile>(own);
        for (var rank = 1; rank < _manager.WorldSize; rank++)
        {
            var marker = LustrePath.Combine(StagingDirectory, MarkerName(rank));
            await CheckpointManager.WaitUntilAsync(
                ct => _manager.Client.ExistsAsync(marker, ct), _options.BarrierTimeout, $"rank {rank} to finish step {Step} ({marker})", Token).ConfigureAwait(false);
            var bytes = await _manager.ReadSmallFileAsync(marker, CheckpointManifest.MaxBytes, Token).ConfigureAwait(false);
            all.AddRange(CheckpointManifest.ParseMarker(bytes, rank, marker));
        }

        // A tensor saved whole by two ranks, or shards that overlap or leave a gap, fail the save before it commits.
        CheckpointManifest.CheckTensors(all, $"Checkpoint step {Step}");
        var manifest = new CheckpointManifest { Step = Step, WorldSize = _manager.WorldSize, Metadata = _metadata, Files = all };
        await _manager.WriteSmallFileAsync(LustrePath.Combine(StagingDirectory, CheckpointManager.ManifestName), manifest.Serialize(), Token).ConfigureAwait(false);
        Token.ThrowIfCancellationRequested();
        try
        {
            // The commit point: one atomic, durable metadata operation makes the whole directory visible. Not cancellable:
            // a rename given up on after a lost reply might still have committed, and the save would then be reported
            // cancelled with its checkpoint in place.
            await _manager.Client.RenameAsync(StagingDirectory, _manager.StepPath(Step), CancellationToken.None).ConfigureAwait(false);
        }
        catch (LustreServerException ex) when (ex.Errno is LustreErrno.ENOTEMPTY or LustreErrno.EEXIST)
        {
            throw new IOException($"Checkpoint step {Step} is already committed at {_manager.StepPath(Step)}; delete it first to save that step again.", ex);
        }

        try
        {
            await _manager.ApplyRetentionAsync(Step, CancellationToken.None).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The checkpoint is committed; an old one that could not be deleted now is retried after the next commit.
        }
    }

    /// <summary>Other ranks: a marker (written under a temporary name, flushed, renamed) says this rank's files are durable.</summary>
    private async Task ReportAndWaitForCommitAsync(ManifestFile[] own)
    {
        var marker = LustrePath.Combine(StagingDirectory, MarkerName(_manager.Rank));
        await _manager.WriteSmallFileAsync(marker + ".tmp", CheckpointManifest.SerializeMarker(_manager.Rank, own), Token).ConfigureAwait(false);
        Token.ThrowIfCancellationRequested();

        // From here rank 0 may commit this rank's files, so an abandoned save must leave them (see AbandonAsync).
        _reported = true;
        await _manager.Client.RenameAsync(marker + ".tmp", marker, CancellationToken.None).ConfigureAwait(false);
        var committed = LustrePath.Combine(_manager.StepPath(Step), CheckpointManager.ManifestName);
        await CheckpointManager.WaitUntilAsync(IsCommittedAsync, _options.BarrierTimeout, $"rank 0 to commit step {Step}", Token).ConfigureAwait(false);

        async Task<bool> IsCommittedAsync(CancellationToken cancellationToken)
        {
            if (await _manager.Client.ExistsAsync(committed, cancellationToken).ConfigureAwait(false))
            {
                return true;
            }

            // Rank 0 deletes the staging directory when it gives up; look again in case it was renamed just now.
            if (!await _manager.Client.ExistsAsync(StagingDirectory, cancellationToken).ConfigureAwait(false) &&
                !await _manager.Client.ExistsAsync(committed, cancellationToken).ConfigureAwait(false))
            {
                throw new IOException($"Checkpoint step {Step}: rank 0 abandoned the save (its staging directory {StagingDirectory} is gone).");
            }

            return false;
        }
    }

    /// <summary>Best effort after a failure: stop, close, and delete what this rank (rank 0: the whole step) staged.</summary>
    private async Task AbandonAsync(Exception cause)
    {
        _ = cause;
        try
        {
            await Task.WhenAll(_writes).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException or InvalidDataException or UnauthorizedAccessException)
        {
            // The first failure is the one reported.
        }

        if (_prepare is null)
        {
            return;
        }

        try
        {
            foreach (var file in await _prepare.ConfigureAwait(false))
            {
                await CloseQuietlyAsync(file).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException or UnauthorizedAccessException)
        {
            // Nothing was opened.
        }

        try
        {
            if (_manager.Rank == 0)
            {
                await DirectoryTree.DeleteAsync(_manager.Client, StagingDirectory, isDirectory: true, CancellationToken.None).ConfigureAwait(false);
            }
            else if (!_reported)
            {
                // Once reported, the files are rank 0's to commit or delete: deleting them here could tear its commit.
                foreach (var name in _files.Select(f => f.Name).Append(MarkerName(_manager.Rank) + ".tmp"))
                {
                    await DirectoryTree.DeleteAsync(_manager.Client, LustrePath.Combine(StagingDirectory, name), isDirectory: false, CancellationToken.None).ConfigureAwait(false);
                }
            }
        }
        catch (IOException)
        {
            // Left for the next clean-up (CheckpointManager.CleanUpAsync).
        }
    }

    private static async Task CloseQuietlyAsync(LustreFile file)
    {
        try
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or TimeoutException)
        {
            // The file is abandoned anyway.
        }
    }

    private static string MarkerName(int rank) => "rank" + rank.ToString("D5", CultureInfo.InvariantCulture) + ".done";

    /// <summary>Packs the tensors into files; with a <paramref name="codec"/>, each file that is worth it (<see cref="PlannedFile.WorthCompressing"/>) is compressed.</summary>
    private static PlannedFile[] Plan(IReadOnlyList<NamedTensor> tensors, long step, int rank, IReadOnlyDictionary<string, string> metadata, long maxFileSize, int chunkSize, ZstdChunkCodec? codec)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        var fileMetadata = new Dictionary<string, string>(metadata, StringComparer.Ordinal)
        {
            ["step"] = step.ToString(CultureInfo.InvariantCulture),
        };
        foreach (var tensor in tensors)
        {
            ArgumentNullException.ThrowIfNull(tensor, nameof(tensors));
            if (!names.Add(tensor.Name))
            {
                throw new ArgumentException($"Tensor name '{tensor.Name}' appears twice.", nameof(tensors));
            }
        }

        // The reference writer's order (widest dtype first, then by name): every tensor's data lands aligned to its
        // element size, in whichever file it goes, since each file holds a run of this order after an 8-byte aligned header.
        var ordered = new List<NamedTensor>(tensors);
        ordered.Sort(SafetensorsCodec.CompareInReferenceOrder);
        var files = new List<PlannedFile>();
        var current = new List<NamedTensor>();
        long size = 0;
        foreach (var tensor in ordered)
        {
            if (current.Count > 0 && size + tensor.Data.Length > maxFileSize)
            {
                files.Add(new PlannedFile(files.Count, rank, [.. current], fileMetadata, chunkSize, codec));
                current.Clear();
                size = 0;
            }

            current.Add(tensor);
            size += tensor.Data.Length;
        }

        if (current.Count > 0)
        {
            files.Add(new PlannedFile(files.Count, rank, [.. current], fileMetadata, chunkSize, codec));
        }

        return [.. files];
    }

    private readonly record struct StagedChunk(PlannedFile File, long Offset, int Length, byte[] Buffer);

    /// <summary>A chunk's stored frame: <c>Frame[..Length]</c> (a staging-pool buffer), then <c>Tail[..TailLength]</c> (a shared-pool one) when a raw frame did not fit, with its padding.</summary>
    private readonly record struct EncodedChunk(byte[] Frame, int Length, byte[]? Tail, int TailLength)
    {
        public ulong Checksum()
        {
            if (Tail is null)
            {
                return XxHash3.HashToUInt64(Frame.AsSpan(0, Length));
            }

            var hash = new XxHash3();
            hash.Append(Frame.AsSpan(0, Length));
            hash.Append(Tail.AsSpan(0, TailLength));
            return hash.GetCurrentHashAsUInt64();
        }
    }

    /// <summary>One safetensors file: its header, where each tensor's bytes go, and its chunks' checksums once written.</summary>
    private sealed class PlannedFile
    {
        private readonly NamedTensor[] _tensors;
        private readonly long[] _starts;

        public PlannedFile(int index, int rank, NamedTensor[] tensors, IReadOnlyDictionary<string, string> metadata, int chunkSize, ZstdChunkCodec? codec)
        {
            Index = index;
            _tensors = tensors;
            Header = SafetensorsCodec.CreateHeader(tensors, metadata);
            _starts = new long[tensors.Length];
            long position = Header.Length;
            for (var i = 0; i < tensors.Length; i++)
            {
                _starts[i] = position;
                position += tensors[i].Data.Length;
            }

            Size = position;
            var compress = codec is not null && WorthCompressing(codec);
            Name = "rank" + rank.ToString("D5", CultureInfo.InvariantCulture) + "-" + index.ToString("D5", CultureInfo.InvariantCulture) +
                   (compress ? ".safetensors.zst" : ".safetensors");
            Checksums = new ulong[(position + chunkSize - 1) / chunkSize];
            if (compress)
            {
                Frames = new ManifestFrame[Checksums.Length];
                FrameStarts = new TaskCompletionSource<long>[Checksums.Length + 1];
                for (var i = 0; i < FrameStarts.Length; i++)
                {
                    FrameStarts[i] = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
                }

                FrameStarts[0].SetResult(0);
            }
        }

        public int Index { get; }

        public string Name { get; }

        public byte[] Header { get; }

        public long Size { get; }

        /// <summary>XXH3-64 of each chunk's plain bytes, filled in as the chunks are written.</summary>
        public ulong[] Checksums { get; }

        /// <summary>Compressed files: each chunk's frame, filled in as the chunks are compressed; null for plain files.</summary>
        public ManifestFrame[]? Frames { get; }

        /// <summary>Compressed files: where frame i starts, known once frame i − 1 is compressed (entry 0 is 0).</summary>
        public TaskCompletionSource<long>[] FrameStarts { get; } = [];

        public ManifestFile ToManifest(int rank, int chunkSize)
        {
            var names = new string[_tensors.Length];
            List<ManifestShard>? shards = null;
            for (var i = 0; i < names.Length; i++)
            {
                var tensor = _tensors[i];
                names[i] = tensor.Name;
                if (tensor.IsShard)
                {
                    (shards ??= []).Add(new ManifestShard(
                        tensor.Name, tensor.DType, tensor.ShapeSpan.ToArray(), tensor.GlobalShapeSpan.ToArray(), tensor.ShardOffsetsSpan.ToArray(), _starts[i], _starts[i] + tensor.Data.Length));
                }
            }

            return new ManifestFile(Name, rank, Size, chunkSize, Checksums, names, Frames, shards?.ToArray());
        }

        /// <summary>
        /// Whether the file is worth compressing at all: 16 slices of 16 KiB spread over it, compressed each on its own,
        /// shrink by an eighth (<see cref="ZstdChunkCodec.WorthCompressing"/>). A file that does not (trained F32
        /// weights, 0.93 at level 1) is stored plain, as btrfs stops compressing a file whose start did not compress;
        /// a few milliseconds per file, on the caller's thread. Within a compressed file each chunk is judged again.
        /// </summary>
        private bool WorthCompressing(ZstdChunkCodec codec)
        {
            var sliceLength = ZstdChunkCodec.SampleSliceLength;
            var slices = ZstdChunkCodec.FileSampleSlices;
            var sample = ArrayPool<byte>.Shared.Rent((int)Math.Min(Size, (long)slices * sliceLength));
            try
            {
                if (Size <= (long)slices * sliceLength)
                {
                    Fill(0, sample.AsSpan(0, (int)Size));
                    return codec.WorthCompressing(sample.AsSpan(0, (int)Size), slices);
                }

                for (var i = 0; i < slices; i++)
                {
                    Fill(Math.Min(Size * i / slices, Size - sliceLength), sample.AsSpan(i * sliceLength, sliceLength));
                }

                return codec.WorthCompressing(sample.AsSpan(0, slices * sliceLength), slices);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(sample);
            }
        }

        /// <summary>Copies the file's bytes [offset, offset + destination.Length) from the header and the caller's tensors.</summary>
        public void Fill(long offset, Span<byte> destination)
        {
            if (offset < Header.Length)
            {
                var take = (int)Math.Min(destination.Length, Header.Length - offset);
                Header.AsSpan((int)offset, take).CopyTo(destination);
                destination = destination[take..];
                offset += take;
            }

            var i = Array.BinarySearch(_starts, offset);
            if (i < 0)
            {
                i = Math.Max(0, ~i - 1);
            }

            for (; destination.Length > 0 && i < _tensors.Length; i++)
            {
                var data = _tensors[i].Data.Span;
                var within = (int)(offset - _starts[i]);
                if (within >= data.Length)
                {
                    continue;
                }

                var take = Math.Min(destination.Length, data.Length - within);
                data.Slice(within, take).CopyTo(destination);
                destination = destination[take..];
                offset += take;
            }
        }
    }
}
