using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Lustre.Client;
using Lustre.Dataset.Formats;
using Lustre.Diagnostics;
using Lustre.IO;
using Lustre.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Dataset;

/// <summary>
/// Reads the samples of one or more shard files (our indexed format, WebDataset tar, TFRecord, token <c>.bin</c>), or of
/// directories of one file per sample (<see cref="DatasetFormat.Folder"/>), for a training loop: in a deterministic
/// shuffled order from (seed, epoch), partitioned between ranks, prefetched under a byte budget with neighbouring samples
/// coalesced into large reads and small ones batched per OST, and resumable mid-epoch from <see cref="GetState"/>.
/// One enumeration at a time; each yielded <see cref="DatasetSample"/> must be disposed.
/// </summary>
public sealed class LustreDataset : IAsyncDisposable
{
    private readonly LustreFile[] _files;
    private readonly SampleIndex _index;

    // A folder data set's files are opened in a batch per window (their shards' FIDs), not held open.
    private readonly FilesystemSession? _session;
    private readonly DatasetShuffle _shuffle;
    private readonly int _shuffleWindow;
    private readonly int _partitions;
    private readonly int _shuffleBlock;
    private readonly DatasetRemainder _remainder;
    private readonly int _coalesceGap;
    private readonly int _maxReadSize;
    private readonly int _prefetchWindow;
    private readonly long _windowBytes;
    private readonly ByteBudget _budget;
    private readonly PrefetchPool _pool;
    private readonly SemaphoreSlim _reads;
    private int _epoch;
    private long _position;
    private int _reading;
    private long _samplesRead;
    private long _bytesRead;
    private long _bytesFetched;
    private long _readCount;
    private long _stallTicks;
    private bool _disposed;

    private LustreDataset(LustreFile[] files, SampleIndex index, LustreDatasetOptions options, FilesystemSession? session = null, IReadOnlyList<string>? classes = null)
    {
        _files = files;
        _index = index;
        _session = session;
        Classes = classes ?? [];
        _shuffle = options.Shuffle;
        _shuffleWindow = options.ShuffleWindow;
        _partitions = options.Partitions;
        _shuffleBlock = options.ShuffleBlock;
        _remainder = options.Remainder;
        _coalesceGap = options.CoalesceGap;
        _maxReadSize = options.MaxReadSize;
        // Shard-aware order is a permutation of each window of consecutive samples: plan a whole shuffle window (this
        // rank's share of it) at once, or each prefetch window is a sparse pick from the window's span and coalescing
        // reads the same span again for every pick (16× the bytes for 4 KiB samples with the defaults).
        _prefetchWindow = IsWindowed(options.Shuffle)
            ? Math.Max(options.PrefetchWindow, (int)Math.Min(1 << 20, ((long)options.ShuffleWindow + options.ResolvedWorldSize - 1) / options.ResolvedWorldSize))
            : options.PrefetchWindow;
        _budget = new ByteBudget(options.PrefetchBudget);
        _pool = new PrefetchPool(options.PrefetchBudget);
        // A prefetch window's bytes, and the bound of a shard-aware shuffle window's bytes.
        _windowBytes = WindowBytes(options);
        _reads = new SemaphoreSlim(options.MaxConcurrentReads, options.MaxConcurrentReads);
        Rank = options.ResolvedRank;
        WorldSize = options.ResolvedWorldSize;
        Seed = options.ResumeFrom?.Seed ?? options.Seed;
        _epoch = options.ResumeFrom?.Epoch ?? options.Epoch;
        _position = options.ResumeFrom?.Position ?? 0;
    }

    /// <summary>The number of samples in all shards together.</summary>
    public long Count => _index.Count;

    /// <summary>The shard files, in the order their samples are numbered (for a <see cref="DatasetFormat.Folder"/> data set, every file).</summary>
    public IReadOnlyList<string> Shards => _index.ShardPaths;

    /// <summary>
    /// The class names of a <see cref="DatasetFormat.Folder"/> data set read by ImageFolder's rule: the directories
    /// directly in its roots, in ordinal order; <see cref="DatasetSample.Label"/> is an index into it. Empty otherwise.
    /// </summary>
    public IReadOnlyList<string> Classes { get; }

    /// <summary>This reader's rank.</summary>
    public int Rank { get; }

    /// <summary>The number of ranks the epochs are divided between.</summary>
    public int WorldSize { get; }

    /// <summary>The shuffle seed.</summary>
    public ulong Seed { get; }

    /// <summary>The epoch that <see cref="ReadAsync"/> reads next; it advances when the last sample of an epoch is handed out.</summary>
    public int Epoch => Volatile.Read(ref _epoch);

    /// <summary>The samples this rank has still to read in the current epoch.</summary>
    public long RemainingInEpoch => EpochOrder.PerRank(_index.Count, Interlocked.Read(ref _position), WorldSize, _remainder);

    /// <summary>What the reader has done so far.</summary>
    public DatasetStatistics Statistics => new(
        Interlocked.Read(ref _samplesRead),
        Interlocked.Read(ref _bytesRead),
        Interlocked.Read(ref _bytesFetched),
        Interlocked.Read(ref _readCount),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _stallTicks)),
        _budget.InUse);

    /// <summary>Where the reader logs: the client's logger factory, category <c>Lustre.Sdk.Dataset</c>.</summary>
    internal ILogger Logger { get; private init; } = NullLogger.Instance;

    /// <summary>Bytes of prefetch buffers allocated so far: after the first windows, buffers are reused.</summary>
    internal long BufferBytesAllocated => _pool.AllocatedBytes;

    /// <summary>Opens the shards under <paramref name="path"/> (a shard file, or a directory of them).</summary>
    public static Task<LustreDataset> OpenAsync(LustreClient client, string path, LustreDatasetOptions? options = null, CancellationToken cancellationToken = default) =>
        OpenAsync(client, [path], options, cancellationToken);

    /// <summary>
    /// Opens shard files and directories of them (a directory contributes its files in name order: with
    /// <see cref="DatasetFormat.Auto"/> those with a known extension, else all). Formats without an index are scanned
    /// once here: tar headers and TFRecord lengths (with their CRCs) are read, not the samples. With
    /// <see cref="DatasetFormat.Folder"/> each path is a directory whose files are the samples, one per file (listed,
    /// and opened a thousand per request for their sizes, here; read in batches per OST in each epoch).
    /// </summary>
    public static async Task<LustreDataset> OpenAsync(LustreClient client, IEnumerable<string> paths, LustreDatasetOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(paths);
        options ??= new LustreDatasetOptions();
        options.Validate();
        if (options.Format == DatasetFormat.Folder)
        {
            return await OpenFolderAsync(client, paths, options, cancellationToken).ConfigureAwait(false);
        }

        var shards = new List<(string Path, DatasetFormat Format)>();
        foreach (var path in paths)
        {
            var info = await client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
            if (!info.IsDirectory)
            {
                shards.Add((info.Path, FormatOf(info.Path, options.Format) ?? throw new ArgumentException($"{info.Path}: cannot tell the format from the extension; set {nameof(LustreDatasetOptions)}.{nameof(LustreDatasetOptions.Format)}.", nameof(paths))));
                continue;
            }

            var found = new List<(string, DatasetFormat)>();
            await foreach (var entry in client.EnumerateDirectoryAsync(path, cancellationToken).ConfigureAwait(false))
            {
                if (!entry.IsDirectory && FormatOf(entry.Path, options.Format) is { } format)
                {
                    found.Add((entry.Path, format));
                }
            }

            found.Sort((a, b) => string.CompareOrdinal(a.Item1, b.Item1));
            shards.AddRange(found);
        }

        if (shards.Count == 0)
        {
            throw new ArgumentException($"No shard files found in the given paths (for one file per sample, set {nameof(LustreDatasetOptions)}.{nameof(LustreDatasetOptions.Format)} to {nameof(DatasetFormat.Folder)}).", nameof(paths));
        }

        var files = new List<LustreFile>(shards.Count);
        try
        {
            var builder = new SampleIndexBuilder();
            foreach (var (path, format) in shards)
            {
                var file = await client.OpenFileAsync(path, FileMode.Open, access: FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
                files.Add(file);
                builder.BeginShard(path, format);
                var first = builder.Count;
                switch (format)
                {
                    case DatasetFormat.Indexed:
                        await IndexedShard.ScanAsync(file, builder, cancellationToken).ConfigureAwait(false);
                        builder.CheckRequired(first, options.RequiredFields);
                        break;
                    case DatasetFormat.WebDataset:
                        await TarShard.ScanAsync(file, builder, options.RequiredFields, cancellationToken).ConfigureAwait(false);
                        break;
                    case DatasetFormat.TfRecord:
                        await TfRecordShard.ScanAsync(file, builder, cancellationToken).ConfigureAwait(false);
                        builder.CheckRequired(first, options.RequiredFields);
                        break;
                    default:
                        TokenShard.Scan(file, builder, options.TokenWidth, options.SequenceLength);
                        builder.CheckRequired(first, options.RequiredFields);
                        break;
                }
            }

            var index = builder.Build();
            CheckResume(options, index);
            var dataset = new LustreDataset([.. files], index, options) { Logger = client.CreateLogger("Lustre.Sdk.Dataset") };
            DatasetLog.Opened(dataset.Logger, shards.Count, index.Count, dataset.Rank, dataset.WorldSize);
            return dataset;
        }
        catch
        {
            foreach (var file in files)
            {
                await file.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>The <see cref="DatasetFormat.Folder"/> reader: the trees listed and every file opened once for its size; no file is held open.</summary>
    private static async Task<LustreDataset> OpenFolderAsync(LustreClient client, IEnumerable<string> paths, LustreDatasetOptions options, CancellationToken cancellationToken)
    {
        var builder = new SampleIndexBuilder();
        var classes = await FolderTree.ScanAsync(client, paths, builder, options.LabelSelector, options.RequiredFields, cancellationToken).ConfigureAwait(false);
        if (builder.Count == 0)
        {
            throw new ArgumentException(
                options.LabelSelector is null
                    ? "No samples found: with Format = Folder and no LabelSelector, samples are the files inside the class folders of each path (ImageFolder), and there are none."
                    : "No samples found: the given directories hold no files.",
                nameof(paths));
        }

        var index = builder.Build();
        CheckResume(options, index);
        var dataset = new LustreDataset([], index, options, client.Session, classes) { Logger = client.CreateLogger("Lustre.Sdk.Dataset") };
        DatasetLog.Opened(dataset.Logger, index.ShardPaths.Length, index.Count, dataset.Rank, dataset.WorldSize);
        return dataset;
    }

    /// <summary>Refuses a state saved for other data or with settings that give another order.</summary>
    private static void CheckResume(LustreDatasetOptions options, SampleIndex index)
    {
        if (options.ResumeFrom is not { } state)
        {
            return;
        }

        if (state.SampleCount != index.Count)
        {
            throw new ArgumentException($"The state was saved for {state.SampleCount} samples; these shards hold {index.Count}.", nameof(options));
        }

        if (state.Position < 0 || state.Epoch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), state, "The state's epoch and position must not be negative.");
        }

        var order = DescribeOrder(options.Shuffle, options.ShuffleWindow, WindowBytes(options), options.Partitions, options.ShuffleBlock);
        if (state.Order is not null && state.Order != order)
        {
            throw new ArgumentException(
                $"The state was saved by a reader whose order was '{state.Order}'; these options give '{order}' (Shuffle, ShuffleWindow, PrefetchBudget, Partitions and ShuffleBlock decide it), so the rest of the epoch would not be the samples left. Open with the settings it was saved with.",
                nameof(options));
        }
    }

    /// <summary>
    /// The state to resume from: seed, epoch, and the position in the epoch's global order up to which the ranks have
    /// read, assuming every rank has read as many samples as this one (as equal per-rank counts and lockstep training give).
    /// </summary>
    public LustreDatasetState GetState() =>
        new(Seed, Epoch, Interlocked.Read(ref _position), _index.Count, DescribeOrder(_shuffle, _shuffleWindow, _windowBytes, _partitions, _shuffleBlock));

    /// <summary>The settings besides seed and epoch that decide the order (<see cref="LustreDatasetState.Order"/>).</summary>
    private static string DescribeOrder(DatasetShuffle shuffle, int shuffleWindow, long windowBytes, int partitions, int block) => shuffle switch
    {
        DatasetShuffle.ShardWindow => string.Create(CultureInfo.InvariantCulture, $"shard-aware, {partitions} partitions, windows of {shuffleWindow} samples or {windowBytes} bytes"),
        DatasetShuffle.Blocks => string.Create(CultureInfo.InvariantCulture, $"blocks of {block} samples, {partitions} partitions, windows of {shuffleWindow} samples or {windowBytes} bytes"),
        _ => shuffle.ToString(),
    };

    /// <summary>Whether the order is made of shuffle windows (<see cref="EpochOrder.Permute"/>), each planned and read at once.</summary>
    private static bool IsWindowed(DatasetShuffle shuffle) => shuffle is DatasetShuffle.ShardWindow or DatasetShuffle.Blocks;

    /// <summary>A shard-aware window's byte bound: a quarter of the budget leaves room for the window being consumed while the next ones are read.</summary>
    private static long WindowBytes(LustreDatasetOptions options) => Math.Max(1, options.PrefetchBudget / 4);

    /// <summary>Starts <paramref name="epoch"/> from its beginning at the next <see cref="ReadAsync"/>.</summary>
    public void SetEpoch(int epoch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (Volatile.Read(ref _reading) != 0)
        {
            throw new InvalidOperationException("Cannot change the epoch while it is being read.");
        }

        Volatile.Write(ref _epoch, epoch);
        Interlocked.Exchange(ref _position, 0);
    }

    /// <summary>The <see cref="DatasetSample.Index"/> of each sample this rank will read in the rest of the current epoch, in order.</summary>
    public long[] GetSampleOrder()
    {
        var (mine, _) = PlanRank(Epoch, Interlocked.Read(ref _position));
        var result = new long[mine.Length];
        for (var i = 0; i < mine.Length; i++)
        {
            result[i] = mine[i];
        }

        return result;
    }

    /// <summary>The shuffle windows of the current epoch's order (0 for an order without windows), for the benchmarks' bounds.</summary>
    internal int ShuffleWindowCount()
    {
        var windows = new List<int>();
        EpochOrder.Permute(_shuffle, Seed, Epoch, _index.ShardStarts, _shuffleWindow, _index.Length, _windowBytes, _partitions, _shuffleBlock, windows);
        return windows.Count;
    }

    /// <summary>
    /// Yields this rank's samples for the rest of the current epoch, then advances to the next epoch. Stop early and the
    /// position stays after the last sample handed out. Dispose every sample; its fields are valid until then.
    /// </summary>
    /// <remarks>
    /// Cancelling <paramref name="cancellationToken"/> makes the next step of the enumeration throw
    /// <see cref="OperationCanceledException"/>, however many samples are prefetched; the reads in flight are abandoned,
    /// every prefetched sample is disposed and the budget is whole again before it throws. The position stays after the
    /// last sample handed out, so <see cref="GetState"/> and the next <see cref="ReadAsync"/> go on from there.
    /// </remarks>
    public async IAsyncEnumerable<DatasetSample> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref _reading, 1) != 0)
        {
            throw new InvalidOperationException("The dataset is already being read; one enumeration at a time.");
        }

        var epoch = Epoch;
        var start = Interlocked.Read(ref _position);
        var (mine, windowStarts) = PlanRank(epoch, start);
        var telemetry = DatasetEpochTelemetry.Start(this, Logger, epoch, start, mine.Length);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var channel = Channel.CreateBounded<Task<DatasetSample[]>>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
        var producer = ProduceAsync(mine, windowStarts, channel.Writer, cts.Token);
        Task<DatasetSample[]>? pending = null;
        DatasetSample[]? window = null;
        var next = 0;
        long consumed = 0;
        long windowBytes = 0;
        var completed = false;
        try
        {
            while (true)
            {
                long stallStart = 0;
                if (!channel.Reader.TryRead(out pending))
                {
                    stallStart = Stopwatch.GetTimestamp();
                    if (!await channel.Reader.WaitToReadAsync(cts.Token).ConfigureAwait(false) || !channel.Reader.TryRead(out pending))
                    {
                        pending = null;
                        break;
                    }
                }

                if (!pending.IsCompleted && stallStart == 0)
                {
                    stallStart = Stopwatch.GetTimestamp();
                }

                window = await pending.WaitAsync(cts.Token).ConfigureAwait(false);
                pending = null;
                next = 0;
                telemetry.WindowTaken(_budget);
                if (stallStart != 0)
                {
                    var ticks = Stopwatch.GetTimestamp() - stallStart;
                    Interlocked.Add(ref _stallTicks, ticks);
                    DatasetMetrics.Stall.Record(Stopwatch.GetElapsedTime(0, ticks).TotalSeconds);
                }

                // Counters and metrics are published once per window (the part delivered, if the reader stops inside
                // one: see finally); the position, which GetState saves, per sample.
                windowBytes = 0;
                foreach (var sample in window)
                {
                    windowBytes += sample.Length;
                }

                while (next < window.Length)
                {
                    // Once per sample, so a cancelled reader hands out nothing more from a window already read.
                    cancellationToken.ThrowIfCancellationRequested();
                    var sample = window[next];
                    window[next++] = null!;
                    consumed++;
                    if (consumed == mine.Length)
                    {
                        Volatile.Write(ref _epoch, epoch + 1);
                        Volatile.Write(ref _position, 0);
                    }
                    else
                    {
                        // Only this loop writes the position; a 64-bit store is atomic, readers use Interlocked.Read.
                        Volatile.Write(ref _position, start + (consumed * WorldSize));
                    }

                    yield return sample;
                }

                CountDelivered(window.Length, windowBytes);
                window = null;
            }

            if (consumed < mine.Length)
            {
                // The producer stops quietly when cancelled; the epoch is not over.
                cancellationToken.ThrowIfCancellationRequested();
            }

            completed = true;
            if (mine.Length == 0)
            {
                Volatile.Write(ref _epoch, epoch + 1);
                Interlocked.Exchange(ref _position, 0);
            }
        }
        finally
        {
            // Stopped inside a window: the consumer left, or its token was cancelled. Else, short of the end, a window or
            // the producer failed, or the token was cancelled.
            var failure = completed ? null
                : window is not null ? (cancellationToken.IsCancellationRequested ? new OperationCanceledException(cancellationToken) : null)
                : DatasetEpochTelemetry.FailureOf(pending, channel.Reader.Completion, cancellationToken);
            await cts.CancelAsync().ConfigureAwait(false);
            if (window is not null)
            {
                var delivered = next;
                for (; next < window.Length; next++)
                {
                    windowBytes -= window[next].Length;
                    window[next].Dispose();
                }

                CountDelivered(delivered, windowBytes);
            }

            if (pending is not null)
            {
                // Taken from the channel but not received: a cancelled wait.
                await DisposeWhenDoneAsync(pending).ConfigureAwait(false);
            }

            await producer.ConfigureAwait(false);
            while (channel.Reader.TryRead(out var left))
            {
                await DisposeWhenDoneAsync(left).ConfigureAwait(false);
            }

            telemetry.End(completed || consumed == mine.Length, failure);
            Volatile.Write(ref _reading, 0);
        }
    }

    /// <summary>
    /// Yields this rank's samples for the rest of the current epoch in batches of <paramref name="batchSize"/> (the last one
    /// smaller unless <paramref name="dropLast"/>). Disposing a batch disposes its samples.
    /// </summary>
    public async IAsyncEnumerable<DatasetBatch> ReadBatchesAsync(int batchSize, bool dropLast = false, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var samples = new List<DatasetSample>(batchSize);
        try
        {
            await foreach (var sample in ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                samples.Add(sample);
                if (samples.Count == batchSize)
                {
                    var batch = new DatasetBatch([.. samples]);
                    samples.Clear();
                    yield return batch;
                }
            }

            if (samples.Count > 0 && !dropLast)
            {
                var batch = new DatasetBatch([.. samples]);
                samples.Clear();
                yield return batch;
            }
        }
        finally
        {
            foreach (var sample in samples)
            {
                sample.Dispose();
            }
        }
    }

    /// <summary>Closes the shard files. Samples already handed out stay valid until disposed.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var file in _files)
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }

        _reads.Dispose();
        _pool.Close();
    }

    private static DatasetFormat? FormatOf(string path, DatasetFormat format)
    {
        if (format != DatasetFormat.Auto)
        {
            return format;
        }

        var extension = Path.GetExtension(path);
        return extension.ToUpperInvariant() switch
        {
            ".LDS" => DatasetFormat.Indexed,
            ".TAR" => DatasetFormat.WebDataset,
            ".TFRECORD" or ".TFRECORDS" => DatasetFormat.TfRecord,
            ".BIN" => DatasetFormat.Tokens,
            _ => null,
        };
    }

    /// <summary>
    /// This rank's samples from <paramref name="position"/> on, and where its share of each shuffle window starts. A shuffle
    /// window holds at most a prefetch window's bytes (a quarter of the budget), so one window is planned and read at once.
    /// </summary>
    private (int[] Mine, int[] WindowStarts) PlanRank(int epoch, long position)
    {
        var windows = IsWindowed(_shuffle) ? new List<int>() : null;
        var order = EpochOrder.Permute(_shuffle, Seed, epoch, _index.ShardStarts, _shuffleWindow, _index.Length, _windowBytes, _partitions, _shuffleBlock, windows);
        var mine = EpochOrder.ForRank(order, position, Rank, WorldSize, _remainder);
        return (mine, windows is null ? [] : EpochOrder.RankWindowStarts(windows, position, Rank, WorldSize, mine.Length));
    }

    /// <summary>
    /// Cuts this rank's order into windows, sorts each window by shard and offset, merges neighbours into reads of at most
    /// <c>MaxReadSize</c>, and starts each read as soon as the budget has room, in order; the consumer gets the windows in order.
    /// A prefetch window cut short by its limits ends at the last shuffle window start it holds, so the next one begins
    /// with a whole shuffle window and each shuffle window's span is read once.
    /// </summary>
    private async Task ProduceAsync(int[] mine, int[] windowStarts, ChannelWriter<Task<DatasetSample[]>> writer, CancellationToken cancellationToken)
    {
        Exception? failure = null;
        try
        {
            var at = 0;
            var nextStart = 0;
            var lastOpened = Task.CompletedTask;
            while (at < mine.Length)
            {
                var end = at;
                long bytes = 0;
                while (end < mine.Length && end - at < _prefetchWindow && (end == at || bytes + _index.Length[mine[end]] <= _windowBytes))
                {
                    bytes += _index.Length[mine[end]];
                    end++;
                }

                while (nextStart < windowStarts.Length && windowStarts[nextStart] <= at)
                {
                    nextStart++;
                }

                if (end < mine.Length)
                {
                    var cut = end;
                    for (var k = nextStart; k < windowStarts.Length && windowStarts[k] <= end; k++)
                    {
                        cut = windowStarts[k];
                    }

                    end = cut;
                }

                // Gaps read by coalescing count too: halve the window until its reads fit in half the budget, so the
                // producer never waits for bytes that only the window it is still building could give back.
                var (groups, groupOf, total) = PlanReads(mine, at, end);
                while (end - at > 1 && total > _windowBytes * 2)
                {
                    end = at + ((end - at) / 2);
                    (groups, groupOf, total) = PlanReads(mine, at, end);
                }

                await _budget.AcquireAsync(total, cancellationToken).ConfigureAwait(false);
                var buffers = new SharedBuffer[groups.Count];
                for (var g = 0; g < groups.Count; g++)
                {
                    buffers[g] = new SharedBuffer(groups[g].Length, _budget, _pool);
                }

                // A folder's windows open their files one after another, in order (see ReadWindowAsync).
                var opened = _session is null ? null : new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var window = AssembleAsync(mine, at, end, groups, groupOf, buffers, ReadWindowAsync(groups, buffers, lastOpened, opened, cancellationToken));
                lastOpened = opened?.Task ?? lastOpened;
                if (!writer.TryWrite(window))
                {
                    try
                    {
                        await writer.WriteAsync(window, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        await DisposeWhenDoneAsync(window).ConfigureAwait(false);
                        throw;
                    }
                }

                at = end;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            writer.TryComplete(failure);
        }
    }

    private (List<ReadGroup> Groups, int[] GroupOf, long Total) PlanReads(int[] mine, int start, int end)
    {
        var count = end - start;
        var keys = new (int Shard, long Offset)[count];
        var positions = new int[count];
        for (var k = 0; k < count; k++)
        {
            var id = mine[start + k];
            keys[k] = (_index.Shard[id], _index.Offset[id]);
            positions[k] = k;
        }

        Array.Sort(keys, positions);
        var groups = new List<ReadGroup>();
        var groupOf = new int[count];
        var current = default(ReadGroup);
        for (var k = 0; k < count; k++)
        {
            var id = mine[start + positions[k]];
            var (shard, offset) = keys[k];
            var sampleEnd = offset + _index.Length[id];
            if (groups.Count > 0 && shard == current.Shard && _coalesceGap >= 0 && offset - current.End <= _coalesceGap
                && Math.Max(sampleEnd, current.End) - current.Offset <= _maxReadSize)
            {
                current = current with { End = Math.Max(current.End, sampleEnd) };
                groups[^1] = current;
            }
            else
            {
                current = new ReadGroup(shard, offset, sampleEnd);
                groups.Add(current);
            }

            groupOf[positions[k]] = groups.Count - 1;
        }

        long total = 0;
        foreach (var group in groups)
        {
            total += group.Length;
        }

        return (groups, groupOf, total);
    }

    /// <summary>
    /// Reads a window's coalesced groups in one batch (<see cref="BatchedIo"/>: the small ones of each OST travel
    /// together, at most <c>MaxConcurrentReads</c> requests in flight). A folder data set's files are opened for it
    /// first, a thousand per request, each checked against the size it had when the data set opened: only once the
    /// window before has opened its own (<paramref name="previousOpened"/>), and <paramref name="opened"/> tells the next.
    /// Every window's reads queue for the <c>MaxConcurrentReads</c> slots as soon as its files are open, so windows
    /// opening together would read interleaved and finish together, and the consumer, waiting for the first, would wait
    /// for them all; in order, the first window's reads hold the first places in the queue.
    /// </summary>
    private async Task ReadWindowAsync(List<ReadGroup> groups, SharedBuffer[] buffers, Task previousOpened, TaskCompletionSource? opened, CancellationToken cancellationToken)
    {
        using var activity = LustreDiagnostics.StartOperation("lustre.read_batch", _index.ShardPaths[groups[0].Shard]);
        activity?.SetTag("lustre.requests", groups.Count);
        try
        {
            var requests = new LustreReadRequest[groups.Count];
            var counts = new int[groups.Count];
            Task reading;
            try
            {
                LustreFile[]? files = null;
                if (opened is not null)
                {
                    // Completed however the window before fared: that window reports its own failure.
                    await previousOpened.ConfigureAwait(false);
                    files = await OpenFilesAsync(groups, cancellationToken).ConfigureAwait(false);
                }

                for (var g = 0; g < groups.Count; g++)
                {
                    requests[g] = new LustreReadRequest(files?[g] ?? _files[groups[g].Shard], groups[g].Offset, buffers[g].Memory);
                }

                // Runs up to the queue for the read slots before it returns: only then may the next window open.
                reading = BatchedIo.ReadAsync(requests, counts, _reads, cancellationToken);
            }
            finally
            {
                opened?.TrySetResult();
            }

            await reading.ConfigureAwait(false);
            long fetched = 0;
            for (var g = 0; g < groups.Count; g++)
            {
                if (counts[g] != groups[g].Length)
                {
                    var path = requests[g].File.Path;
                    throw new DatasetFormatException(path, groups[g].Offset + counts[g], $"the shard ends before the samples its index lists (read {counts[g]} of {groups[g].Length} bytes at {groups[g].Offset}); was it truncated after opening?");
                }

                fetched += groups[g].Length;
            }

            Interlocked.Add(ref _readCount, groups.Count);
            Interlocked.Add(ref _bytesFetched, fetched);
            DatasetMetrics.Reads.Add(groups.Count);
        }
        catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))
        {
            throw;
        }
    }

    /// <summary>Opens the files of a folder data set's window, one per group (a file is a shard of one sample, so no group spans two).</summary>
    private async Task<LustreFile[]> OpenFilesAsync(List<ReadGroup> groups, CancellationToken cancellationToken)
    {
        var session = _session!;
        var fids = new LustreFid[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            fids[g] = _index.ShardFids![groups[g].Shard];
        }

        var opened = await session.OpenBatchAsync(fids, cancellationToken).ConfigureAwait(false);
        var files = new LustreFile[groups.Count];
        for (var g = 0; g < groups.Count; g++)
        {
            var shard = groups[g].Shard;
            var path = _index.ShardPaths[shard];
            var attributes = session.OpenedOrThrow(opened[g], path, fids[g]);
            var indexed = _index.Length[_index.ShardStarts[shard]];
            if (attributes.Size != indexed)
            {
                throw new DatasetFormatException(path, 0, $"the file holds {attributes.Size} bytes now and held {indexed} when the data set was opened; open the data set again");
            }

            files[g] = new LustreFile(session, path, attributes, writable: false);
            await session.EnsureOstsKnownAsync(files[g].Layout, cancellationToken).ConfigureAwait(false);
        }

        return files;
    }

    /// <summary>Waits for a window's reads, then cuts the samples (with their fields) out of the shared buffers, checking TFRecord CRCs.</summary>
    private async Task<DatasetSample[]> AssembleAsync(int[] mine, int start, int end, List<ReadGroup> groups, int[] groupOf, SharedBuffer[] buffers, Task read)
    {
        var samples = new DatasetSample[end - start];
        var made = 0;
        try
        {
            await read.ConfigureAwait(false);
            for (; made < samples.Length; made++)
            {
                var id = mine[start + made];
                var g = groupOf[made];
                var relative = (int)(_index.Offset[id] - groups[g].Offset);
                var memory = buffers[g].Memory;
                var shard = _index.Shard[id];
                if (_index.ShardFormats[shard] == DatasetFormat.TfRecord)
                {
                    TfRecordShard.Verify(memory.Span.Slice(relative, _index.Length[id]), _index.ShardPaths[shard], _index.Offset[id]);
                }

                var first = _index.FieldStart[id];
                var fields = new DatasetField[_index.FieldStart[id + 1] - first];
                for (var f = 0; f < fields.Length; f++)
                {
                    var e = first + f;
                    fields[f] = new DatasetField(_index.FieldNames[_index.FieldName[e]], memory.Slice(relative + _index.FieldOffset[e], _index.FieldLength[e]));
                }

                var key = _index.Keys[id] ?? id.ToString(CultureInfo.InvariantCulture);
                samples[made] = new DatasetSample(id, key, _index.ShardPaths[shard], fields, buffers[g].AddReference(), _index.Labels?[id]);
            }

            return samples;
        }
        catch
        {
            for (var i = 0; i < made; i++)
            {
                samples[i].Dispose();
            }

            throw;
        }
        finally
        {
            foreach (var buffer in buffers)
            {
                buffer.Release();
            }
        }
    }

    private void CountDelivered(int samples, long bytes)
    {
        Interlocked.Add(ref _samplesRead, samples);
        Interlocked.Add(ref _bytesRead, bytes);
        DatasetMetrics.Samples.Add(samples);
        DatasetMetrics.Bytes.Add(bytes);
    }

    private static async Task DisposeWhenDoneAsync(Task<DatasetSample[]> window)
    {
        try
        {
            foreach (var sample in await window.ConfigureAwait(false))
            {
                sample?.Dispose();
            }
        }
        catch (Exception)
        {
            // The window failed or was cancelled; its buffers are already released.
        }
    }

    private readonly record struct ReadGroup(int Shard, long Offset, long End)
    {
        public int Length => (int)(End - Offset);
    }
}
