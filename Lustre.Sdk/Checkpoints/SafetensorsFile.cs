using System.Buffers;
using System.Text.Json;
using Lustre.Client;
using Lustre.IO;
using Lustre.Namespace;

namespace Lustre.Checkpoints;

/// <summary>
/// Any <c>.safetensors</c> file on the filesystem, or a Hugging Face-style sharded model (a
/// <c>model.safetensors.index.json</c> whose <c>weight_map</c> names the file of each tensor), opened without a
/// checkpoint manifest, like Python's <c>safe_open</c>: <see cref="OpenAsync"/> reads and checks only the headers;
/// a tensor, or a slice of one, is read when asked for, and only its bytes. Nothing is checked against a manifest
/// here (there is none): the reads use the transfers' bulk checksums. Thread-safe; dispose it to close the files.
/// </summary>
public class SafetensorsFile : IAsyncDisposable
{
    /// <summary>The name of a Hugging Face sharded model's index.</summary>
    public const string IndexName = "model.safetensors.index.json";

    /// <summary>The name of a Hugging Face single-file model.</summary>
    public const string ModelName = "model.safetensors";

    /// <summary>Reads are cut at multiples of this, so one read never needs more scratch memory than this.</summary>
    private const int MaxRead = 8 << 20;

    /// <summary>Reads in flight per open file set.</summary>
    private const int MaxConcurrency = 16;

    /// <summary>The largest index file read (a model with millions of tensor names stays far below).</summary>
    private const int MaxIndexSize = 64 << 20;

    private readonly Dictionary<string, Located> _byName = new(StringComparer.Ordinal);
    private readonly List<LustreFile> _files = [];
    private readonly Lock _filesLock = new();
    private readonly SemaphoreSlim _gate = new(MaxConcurrency, MaxConcurrency);
    private readonly List<TensorDescription> _tensors = [];

    /// <summary>For test doubles only.</summary>
    protected SafetensorsFile()
    {
    }

    /// <summary>The path opened: a safetensors file or an index.</summary>
    public virtual string Path { get; private set; } = "/";

    /// <summary>
    /// A single file's <c>__metadata__</c>; for a sharded model, the index's <c>metadata</c> (numbers, such as
    /// <c>total_size</c>, as their JSON text).
    /// </summary>
    public virtual IReadOnlyDictionary<string, string> Metadata { get; private set; } = new Dictionary<string, string>();

    /// <summary>Every tensor: in data order for a single file, in <c>weight_map</c> order for a sharded model.</summary>
    public virtual IReadOnlyList<TensorDescription> Tensors => _tensors;

    /// <summary>
    /// Opens <paramref name="path"/>: a <c>.safetensors</c> file, a <c>*.index.json</c> of a sharded model, or a
    /// directory holding <see cref="IndexName"/> or else <see cref="ModelName"/>. Reads and checks every header (strictly,
    /// as a checkpoint load does), and for an index that each tensor it lists is in the file it names.
    /// </summary>
    /// <param name="client">The filesystem client; not disposed with this.</param>
    /// <param name="path">The file, index or directory.</param>
    /// <param name="cancellationToken">Cancels the opening.</param>
    /// <returns>The open tensor set.</returns>
    /// <exception cref="FileNotFoundException">The path does not exist, or a directory holds neither an index nor a model file.</exception>
    /// <exception cref="InvalidDataException">A header or the index is malformed, names a file outside its directory, or lists a tensor its file lacks.</exception>
    public static async Task<SafetensorsFile> OpenAsync(LustreClient client, string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        if (LustrePath.Check(path) is { } error)
        {
            throw new ArgumentException(error, nameof(path));
        }

        path = LustrePath.Normalize(path);
        var info = await client.GetInfoAsync(path, cancellationToken).ConfigureAwait(false);
        if (info.IsDirectory)
        {
            var index = LustrePath.Combine(path, IndexName);
            var model = LustrePath.Combine(path, ModelName);
            path = await client.ExistsAsync(index, cancellationToken).ConfigureAwait(false) ? index
                : await client.ExistsAsync(model, cancellationToken).ConfigureAwait(false) ? model
                : throw new FileNotFoundException($"{path}: a directory to open as safetensors must hold {IndexName} or {ModelName}; it holds neither.", path);
        }

        var opened = new SafetensorsFile { Path = path };
        try
        {
            if (path.EndsWith(".json", StringComparison.Ordinal))
            {
                await opened.OpenIndexAsync(client, path, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var file = await opened.OpenFileAsync(client, path, cancellationToken).ConfigureAwait(false);
                opened.Metadata = file.Metadata;
                foreach (var entry in file.Entries)
                {
                    opened.Add(entry, file);
                }
            }

            return opened;
        }
        catch
        {
            await opened.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The description of the tensor <paramref name="name"/>.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <returns>Its dtype, shape and byte count.</returns>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    public virtual TensorDescription GetTensor(string name) => Find(name).Description;

    /// <summary>
    /// Reads a tensor, or the <paramref name="slice"/> of it, into a new array. Only the bytes of the slice are read
    /// (runs closer than 64 KiB as one read).
    /// </summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="slice">The block to read; null for the whole tensor.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The tensor; with a slice, a <see cref="NamedTensor.Shard">shard</see> with the slice's shape and offsets.</returns>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="ArgumentException">The slice does not lie within the tensor.</exception>
    public virtual async Task<NamedTensor> ReadAsync(string name, TensorSlice? slice = null, CancellationToken cancellationToken = default)
    {
        var located = Find(name);
        var description = located.Description;
        var wanted = slice ?? TensorSlice.Whole(located.Shape);
        wanted.CheckWithin(name, located.Shape, nameof(slice));
        var data = GC.AllocateUninitializedArray<byte>(checked((int)(wanted.ElementCount * description.DType.GetElementSize())));
        HugePages.Advise(data);
        await ReadCoreAsync(located, wanted, data, cancellationToken).ConfigureAwait(false);
        return slice is null
            ? new NamedTensor(name, description.DType, located.Shape, data)
            : NamedTensor.Shard(name, description.DType, located.Shape, wanted.OffsetsSpan, wanted.ShapeSpan, data);
    }

    /// <summary>Reads a tensor, or the <paramref name="slice"/> of it, into memory the caller owns.</summary>
    /// <param name="name">The tensor's name.</param>
    /// <param name="destination">Exactly the bytes of the tensor or slice: its element count times the element size.</param>
    /// <param name="slice">The block to read; null for the whole tensor.</param>
    /// <param name="cancellationToken">Cancels the read; the destination may then hold part of the data.</param>
    /// <returns>A task that completes when the bytes are in place.</returns>
    /// <exception cref="KeyNotFoundException">No tensor has that name.</exception>
    /// <exception cref="ArgumentException">The slice does not lie within the tensor, or the destination's length is not its byte count.</exception>
    public virtual async Task ReadIntoAsync(string name, Memory<byte> destination, TensorSlice? slice = null, CancellationToken cancellationToken = default)
    {
        var located = Find(name);
        var wanted = slice ?? TensorSlice.Whole(located.Shape);
        wanted.CheckWithin(name, located.Shape, nameof(slice));
        var bytes = wanted.ElementCount * located.Description.DType.GetElementSize();
        if (destination.Length != bytes)
        {
            throw new ArgumentException($"Tensor '{name}' {wanted} is {bytes} bytes, but the destination holds {destination.Length}.", nameof(destination));
        }

        await ReadCoreAsync(located, wanted, destination, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the files.</summary>
    /// <returns>A task that completes when they are closed.</returns>
    public async ValueTask DisposeAsync()
    {
        foreach (var file in _files)
        {
            await file.DisposeAsync().ConfigureAwait(false);
        }

        _files.Clear();
        _gate.Dispose();
        GC.SuppressFinalize(this);
    }

    private Located Find(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return _byName.TryGetValue(name, out var located) ? located : throw new KeyNotFoundException($"{Path} has no tensor '{name}'.");
    }

    private async Task ReadCoreAsync(Located located, TensorSlice slice, Memory<byte> destination, CancellationToken cancellationToken)
    {
        var rank = located.Shape.Length;
        var blocks = new List<CopyBlock>();
        TensorBlocks.AddCopies(blocks, located.Begin, located.Shape, slice.OffsetsSpan, 0, slice.ShapeSpan, new long[rank], slice.ShapeSpan, located.Description.DType.GetElementSize());
        await TensorBlockReader.ReadAsync(located.File.Source, blocks, destination, _gate, cancellationToken).ConfigureAwait(false);
    }

    private void Add(SafetensorsEntry entry, OpenedFile file)
    {
        var description = new TensorDescription(entry.Name, entry.DType, entry.Shape, entry.End - entry.Begin);
        _byName.Add(entry.Name, new Located(description, entry.Shape, file, file.DataStart + entry.Begin));
        _tensors.Add(description);
    }

    /// <summary>Opens one safetensors file and reads its header: the first 64 KiB, then the rest of the header if it is longer.</summary>
    private async Task<OpenedFile> OpenFileAsync(LustreClient client, string path, CancellationToken cancellationToken)
    {
        var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        lock (_filesLock)
        {
            _files.Add(file);
        }

        var source = new FileSource(file, path);
        var first = (int)Math.Min(file.Length, 64 << 10);
        var prefix = ArrayPool<byte>.Shared.Rent(Math.Max(first, 8));
        try
        {
            await source.ReadAsync(0, prefix.AsMemory(0, first), cancellationToken).ConfigureAwait(false);
            var headerLength = SafetensorsCodec.ReadHeaderLength(prefix.AsSpan(0, first), file.Length, path);
            var json = prefix.AsMemory(8, Math.Min(headerLength, first - 8));
            byte[]? whole = null;
            if (8 + headerLength > first)
            {
                whole = GC.AllocateUninitializedArray<byte>(headerLength);
                json.CopyTo(whole);
                await ReadExactlyAsync(source, first, whole.AsMemory(first - 8), cancellationToken).ConfigureAwait(false);
                json = whole;
            }

            var dataStart = 8 + headerLength;
            var entries = SafetensorsCodec.ParseHeader(json.Span, file.Length - dataStart, path, out var metadata);
            return new OpenedFile(source, dataStart, entries, metadata);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(prefix);
        }
    }

    private static async Task ReadExactlyAsync(FileSource source, long offset, Memory<byte> destination, CancellationToken cancellationToken)
    {
        for (var done = 0; done < destination.Length; done += MaxRead)
        {
            var length = Math.Min(MaxRead, destination.Length - done);
            await source.ReadAsync(offset + done, destination.Slice(done, length), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Reads a Hugging Face index, then every file it names (in parallel), and maps each listed tensor to its file.</summary>
    private async Task OpenIndexAsync(LustreClient client, string path, CancellationToken cancellationToken)
    {
        var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read, cancellationToken: cancellationToken).ConfigureAwait(false);
        byte[] bytes;
        await using (file.ConfigureAwait(false))
        {
            if (file.Length > MaxIndexSize)
            {
                throw new InvalidDataException($"{path}: {file.Length} bytes is more than the {MaxIndexSize} an index may have.");
            }

            bytes = new byte[file.Length];
            await ReadExactlyAsync(new FileSource(file, path), 0, bytes, cancellationToken).ConfigureAwait(false);
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var weightMap = new List<(string Tensor, string File)>();
        try
        {
            using var document = JsonDocument.Parse(bytes);
            if (document.RootElement.TryGetProperty("metadata", out var meta) && meta.ValueKind == JsonValueKind.Object)
            {
                foreach (var property in meta.EnumerateObject())
                {
                    metadata[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString()! : property.Value.GetRawText();
                }
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in document.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                var name = property.Value.GetString()!;
                if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name is "." or "..")
                {
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' is mapped to '{name}', which is not a file name beside the index.");
                }

                if (!names.Add(property.Name))
                {
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' appears twice in weight_map.");
                }

                weightMap.Add((property.Name, name));
            }
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: not a safetensors index (an object with a weight_map of tensor name → file name): {ex.Message}", ex);
        }

        var directory = LustrePath.Parent(path);
        var opening = new Dictionary<string, Task<OpenedFile>>(StringComparer.Ordinal);
        foreach (var (_, name) in weightMap)
        {
            if (!opening.ContainsKey(name))
            {
                opening[name] = OpenFileAsync(client, LustrePath.Combine(directory, name), cancellationToken);
            }
        }

        // WhenAll waits for every open, failed or not, so every file opened is in _files when the caller closes them.
        await Task.WhenAll(opening.Values).ConfigureAwait(false);

        var lookup = new Dictionary<string, Dictionary<string, SafetensorsEntry>>(StringComparer.Ordinal);
        foreach (var (name, task) in opening)
        {
            var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
            foreach (var entry in task.Result.Entries)
            {
                entries[entry.Name] = entry;
            }

            lookup[name] = entries;
        }

        foreach (var (tensor, name) in weightMap)
        {
            if (!lookup[name].TryGetValue(tensor, out var entry))
            {
                throw new InvalidDataException($"{path}: weight_map puts tensor '{tensor}' in {name}, whose header does not list it.");
            }

            Add(entry, opening[name].Result);
        }

        Metadata = metadata;
    }

    /// <summary>A file of the set: where its data starts, its header entries and metadata.</summary>
    private sealed record OpenedFile(FileSource Source, long DataStart, List<SafetensorsEntry> Entries, Dictionary<string, string> Metadata);

    /// <summary>A tensor: its description, shape, file and the offset of its first byte there.</summary>
    private sealed record Located(TensorDescription Description, long[] Shape, OpenedFile File, long Begin);

    /// <summary>Byte ranges of a plain file, with bulk checksums on the transfers.</summary>
    private sealed class FileSource(LustreFile file, string path) : IRangeSource
    {
        public long Granule => MaxRead;

        public async Task<long> ReadAsync(long offset, Memory<byte> destination, CancellationToken cancellationToken)
        {
            var read = await file.ReadAtAsync(offset, destination, cancellationToken).ConfigureAwait(false);
            return read == destination.Length ? read : throw new InvalidDataException($"{path}: read {read} bytes at {offset}, expected {destination.Length}; the file is shorter than its header says.");
        }
    }
}
