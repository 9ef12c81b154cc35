using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lustre.Checkpoints;

/// <summary>
/// One data file as the manifest records it: the size of its safetensors content, the XXH3-64 of each
/// <see cref="ChunkSize"/> bytes of that content, the tensors it holds and, for a zstd file, where each chunk's frame is stored.
/// </summary>
internal sealed record ManifestFile(string Name, int Rank, long Size, int ChunkSize, ulong[] Chunks, string[] Tensors, ManifestFrame[]? Frames = null, ManifestShard[]? Shards = null)
{
    /// <summary>True when the file is a sequence of zstd frames, one per chunk, rather than plain safetensors.</summary>
    public bool IsCompressed => Frames is not null;

    /// <summary>The bytes the file holds on the filesystem: <see cref="Size"/>, or the frames' total when compressed.</summary>
    public long StoredSize => Frames is { Length: > 0 } frames ? frames[^1].Offset + frames[^1].Length : Frames is null ? Size : 0;

    /// <summary>The uncompressed length of chunk <paramref name="chunk"/>.</summary>
    public int ChunkLength(int chunk) => (int)Math.Min(ChunkSize, Size - ((long)chunk * ChunkSize));
}

/// <summary>
/// A shard a file holds (DCP-style chunk metadata): the tensor it is part of, its dtype, its own shape, the whole
/// tensor's shape, where it starts there, and where its bytes are in the file's plain content (<see cref="Begin"/> to
/// <see cref="End"/>, absolute), so a slice can be read without the file's header.
/// </summary>
internal sealed record ManifestShard(string Name, TensorDType DType, long[] Shape, long[] GlobalShape, long[] Offsets, long Begin, long End);

/// <summary>Where one chunk's zstd frame is stored in a compressed file, its length, the chunk's uncompressed size and the frame's XXH3-64.</summary>
internal readonly record struct ManifestFrame(long Offset, int Length, int Size, ulong Checksum);

/// <summary>
/// <c>manifest.json</c> of a committed checkpoint (and, with only <c>rank</c> and <c>files</c>, the <c>rankNNNNN.done</c>
/// marker a rank writes once its files are durable). Small, written once, so <see cref="JsonDocument"/> is fine here.
/// </summary>
internal sealed class CheckpointManifest
{
    public const string Format = "lustre-checkpoint";
    /// <summary>
    /// Version 1: plain safetensors files only. Version 2 adds zstd files (<c>compression</c>, <c>stored_size</c>, <c>frames</c>).
    /// Version 3 adds shards (<c>shards</c>); a manifest says the lowest version that describes it.
    /// </summary>
    public const int Version = 1;
    public const int CompressedVersion = 2;
    public const int ShardedVersion = 3;

    /// <summary>The most dimensions a shard may have in a manifest (a sanity bound, far above any real tensor's).</summary>
    private const int MaxDimensions = 64;
    public const string Zstd = "zstd";
    private const int MaxSize = 64 << 20;

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = true };

    public required long Step { get; init; }

    public required int WorldSize { get; init; }

    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    public required IReadOnlyList<ManifestFile> Files { get; init; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    public static int MaxBytes => MaxSize;

    public byte[] Serialize()
    {
        var buffer = new ArrayBufferWriter<byte>(4096);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteString("format", Format);
            var compressed = false;
            var sharded = false;
            foreach (var file in Files)
            {
                compressed |= file.IsCompressed;
                sharded |= file.Shards is { Length: > 0 };
            }

            // Only manifests with compressed files say version 2 and only those with shards 3, so a reader that knows
            // less refuses them clearly and every other manifest reads as before.
            writer.WriteNumber("version", sharded ? ShardedVersion : compressed ? CompressedVersion : Version);
            writer.WriteNumber("step", Step);
            writer.WriteNumber("world_size", WorldSize);
            writer.WriteString("created", Created.ToString("O", CultureInfo.InvariantCulture));
            long total = 0;
            foreach (var file in Files)
            {
                total += file.Size;
            }

            writer.WriteNumber("total_size", total);
            writer.WriteStartObject("metadata");
            foreach (var (key, value) in Metadata)
            {
                writer.WriteString(key, value);
            }

            writer.WriteEndObject();
            WriteFiles(writer, Files);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static byte[] SerializeMarker(int rank, IReadOnlyList<ManifestFile> files)
    {
        var buffer = new ArrayBufferWriter<byte>(1024);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteNumber("rank", rank);
            WriteFiles(writer, files);
            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    public static CheckpointManifest Parse(ReadOnlyMemory<byte> json, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.GetProperty("format").GetString() != Format || root.GetProperty("version").GetInt32() is not (Version or CompressedVersion or ShardedVersion))
            {
                throw new InvalidDataException($"{source}: not a {Format} manifest of version {Version} to {ShardedVersion}.");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in root.GetProperty("metadata").EnumerateObject())
            {
                metadata[property.Name] = property.Value.GetString() ?? string.Empty;
            }

            var files = ReadFiles(root, source);
            CheckTensors(files, source);
            return new CheckpointManifest
            {
                Step = root.GetProperty("step").GetInt64(),
                WorldSize = root.GetProperty("world_size").GetInt32(),
                Created = DateTimeOffset.Parse(root.GetProperty("created").GetString()!, CultureInfo.InvariantCulture),
                Metadata = metadata,
                Files = files,
            };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{source}: the manifest is malformed: {ex.Message}", ex);
        }
    }

    public static List<ManifestFile> ParseMarker(ReadOnlyMemory<byte> json, int expectedRank, string source)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var rank = document.RootElement.GetProperty("rank").GetInt32();
            return rank == expectedRank ? ReadFiles(document.RootElement, source)
                : throw new InvalidDataException($"{source}: the marker is for rank {rank}, not {expectedRank}.");
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new InvalidDataException($"{source}: the marker is malformed: {ex.Message}", ex);
        }
    }

    private static void WriteFiles(Utf8JsonWriter writer, IReadOnlyList<ManifestFile> files)
    {
        writer.WriteStartArray("files");
        foreach (var file in files)
        {
            writer.WriteStartObject();
            writer.WriteString("name", file.Name);
            writer.WriteNumber("rank", file.Rank);
            writer.WriteNumber("size", file.Size);
            writer.WriteString("checksum", "xxh3-64");
            writer.WriteNumber("chunk_size", file.ChunkSize);
            writer.WriteStartArray("chunks");
            foreach (var hash in file.Chunks)
            {
                writer.WriteStringValue(hash.ToString("x16", CultureInfo.InvariantCulture));
            }

            writer.WriteEndArray();
            if (file.Frames is { } frames)
            {
                writer.WriteString("compression", Zstd);
                writer.WriteNumber("stored_size", file.StoredSize);
                writer.WriteStartArray("frames");
                foreach (var frame in frames)
                {
                    writer.WriteStartObject();
                    writer.WriteNumber("offset", frame.Offset);
                    writer.WriteNumber("length", frame.Length);
                    writer.WriteNumber("size", frame.Size);
                    writer.WriteString("checksum", frame.Checksum.ToString("x16", CultureInfo.InvariantCulture));
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteStartArray("tensors");
            foreach (var name in file.Tensors)
            {
                writer.WriteStringValue(name);
            }

            writer.WriteEndArray();
            if (file.Shards is { Length: > 0 } shards)
            {
                writer.WriteStartArray("shards");
                foreach (var shard in shards)
                {
                    writer.WriteStartObject();
                    writer.WriteString("name", shard.Name);
                    writer.WriteString("dtype", shard.DType.ToSafetensorsName());
                    WriteIntegers(writer, "shape", shard.Shape);
                    WriteIntegers(writer, "global_shape", shard.GlobalShape);
                    WriteIntegers(writer, "offsets", shard.Offsets);
                    WriteIntegers(writer, "file_range", [shard.Begin, shard.End]);
                    writer.WriteEndObject();
                }

                writer.WriteEndArray();
            }

            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteIntegers(Utf8JsonWriter writer, string name, long[] values)
    {
        writer.WriteStartArray(name);
        foreach (var value in values)
        {
            writer.WriteNumberValue(value);
        }

        writer.WriteEndArray();
    }

    private static List<ManifestFile> ReadFiles(JsonElement root, string source)
    {
        var files = new List<ManifestFile>();
        foreach (var element in root.GetProperty("files").EnumerateArray())
        {
            var name = element.GetProperty("name").GetString()!;
            if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal) || name.StartsWith('.'))
            {
                throw new InvalidDataException($"{source}: file name '{name}' is not a plain name.");
            }

            if (element.GetProperty("checksum").GetString() != "xxh3-64")
            {
                throw new InvalidDataException($"{source}: {name} uses an unknown checksum.");
            }

            var size = element.GetProperty("size").GetInt64();
            var chunkSize = element.GetProperty("chunk_size").GetInt32();
            var chunks = new List<ulong>();
            foreach (var hash in element.GetProperty("chunks").EnumerateArray())
            {
                chunks.Add(ulong.Parse(hash.GetString()!, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
            }

            if (chunkSize <= 0 || size < 0 || chunks.Count != (int)((size + chunkSize - 1) / chunkSize))
            {
                throw new InvalidDataException($"{source}: {name} has {chunks.Count} chunk checksums for {size} bytes in chunks of {chunkSize}.");
            }

            var tensors = new List<string>();
            foreach (var tensor in element.GetProperty("tensors").EnumerateArray())
            {
                tensors.Add(tensor.GetString()!);
            }

            var frames = element.TryGetProperty("compression", out var compression) ? ReadFrames(element, compression, name, size, chunkSize, chunks.Count, source) : null;
            var shards = element.TryGetProperty("shards", out var shardList) ? ReadShards(shardList, name, size, new HashSet<string>(tensors, StringComparer.Ordinal), source) : null;
            files.Add(new ManifestFile(name, element.GetProperty("rank").GetInt32(), size, chunkSize, [.. chunks], [.. tensors], frames, shards));
        }

        return files;
    }

    /// <summary>Reads a file's shards, each checked on its own: a known dtype, shapes of one rank, inside the whole tensor, bytes inside the file that match the shape.</summary>
    private static ManifestShard[] ReadShards(JsonElement list, string file, long size, HashSet<string> tensors, string source)
    {
        var shards = new List<ManifestShard>();
        foreach (var element in list.EnumerateArray())
        {
            var name = element.GetProperty("name").GetString()!;
            var where = $"{source}: {file} shard of '{name}'";
            if (!tensors.Contains(name))
            {
                throw new InvalidDataException($"{where} is not among the file's tensors.");
            }

            if (!TensorDTypeExtensions.TryParseSafetensorsName(element.GetProperty("dtype").GetString()!, out var dtype))
            {
                throw new InvalidDataException($"{where} has an unknown dtype.");
            }

            var shape = ReadIntegers(element, "shape", where);
            var globalShape = ReadIntegers(element, "global_shape", where);
            var offsets = ReadIntegers(element, "offsets", where);
            var range = ReadIntegers(element, "file_range", where);
            if (globalShape.Length != shape.Length || offsets.Length != shape.Length || shape.Length > MaxDimensions || range.Length != 2)
            {
                throw new InvalidDataException($"{where}: shape, global_shape and offsets must have one entry per dimension (at most {MaxDimensions}) and file_range two.");
            }

            for (var i = 0; i < shape.Length; i++)
            {
                if (offsets[i] > globalShape[i] - shape[i])
                {
                    throw new InvalidDataException($"{where}: dimension {i} covers {offsets[i]} to {offsets[i] + shape[i]}, beyond the global shape [{string.Join(",", globalShape)}].");
                }
            }

            var bytes = checked(TensorBlocks.Volume(shape) * dtype.GetElementSize());
            TensorBlocks.Volume(globalShape);
            if (range[1] - range[0] != bytes || range[1] > size)
            {
                throw new InvalidDataException($"{where}: file_range [{range[0]}, {range[1]}] does not hold its {bytes} bytes within the file's {size}.");
            }

            shards.Add(new ManifestShard(name, dtype, shape, globalShape, offsets, range[0], range[1]));
        }

        return [.. shards];
    }

    private static long[] ReadIntegers(JsonElement element, string property, string where)
    {
        var values = new List<long>();
        foreach (var value in element.GetProperty(property).EnumerateArray())
        {
            var number = value.GetInt64();
            if (number < 0)
            {
                throw new InvalidDataException($"{where}: {property} holds a negative number.");
            }

            values.Add(number);
        }

        return [.. values];
    }

    /// <summary>
    /// Checks the tensors of all files together: a tensor saved whole appears once; the shards of a tensor agree on its
    /// dtype and shape, do not overlap, and cover it, so every element was saved by exactly one rank.
    /// </summary>
    /// <exception cref="InvalidDataException">Naming the tensor and what is wrong.</exception>
    public static void CheckTensors(IReadOnlyList<ManifestFile> files, string source)
    {
        var whole = new HashSet<string>(StringComparer.Ordinal);
        var sharded = new Dictionary<string, List<(ManifestFile File, ManifestShard Shard)>>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            var shardNames = new HashSet<string>(StringComparer.Ordinal);
            foreach (var shard in file.Shards ?? [])
            {
                if (!shardNames.Add(shard.Name))
                {
                    throw new InvalidDataException($"{source}: {file.Name} holds two shards of tensor '{shard.Name}'.");
                }

                ref var list = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(sharded, shard.Name, out _);
                (list ??= []).Add((file, shard));
            }

            foreach (var name in file.Tensors)
            {
                if (!shardNames.Contains(name) && !whole.Add(name))
                {
                    throw new InvalidDataException(
                        $"{source}: tensor '{name}' is saved by more than one rank; a tensor split across ranks must be saved as shards (NamedTensor.Shard) with its global shape and offsets.");
                }
            }
        }

        foreach (var (name, shards) in sharded)
        {
            if (whole.Contains(name))
            {
                throw new InvalidDataException($"{source}: tensor '{name}' is saved both whole and as shards.");
            }

            CheckShards(name, shards, source);
        }
    }

    private static void CheckShards(string name, List<(ManifestFile File, ManifestShard Shard)> shards, string source)
    {
        var (firstFile, first) = shards[0];
        long covered = 0;
        var nonEmpty = new List<(ManifestFile File, ManifestShard Shard)>();
        foreach (var (file, shard) in shards)
        {
            if (shard.DType != first.DType || !shard.GlobalShape.AsSpan().SequenceEqual(first.GlobalShape))
            {
                throw new InvalidDataException(
                    $"{source}: the shards of tensor '{name}' disagree: {Describe(firstFile, first)} is {first.DType.ToSafetensorsName()} of [{string.Join(",", first.GlobalShape)}], {Describe(file, shard)} {shard.DType.ToSafetensorsName()} of [{string.Join(",", shard.GlobalShape)}].");
            }

            var volume = TensorBlocks.Volume(shard.Shape);
            covered = checked(covered + volume);
            if (volume > 0)
            {
                nonEmpty.Add((file, shard));
            }
        }

        // Overlaps, by a sweep along the dimension whose shards start at the most distinct offsets (rows for row
        // sharding, columns for column sharding): only shards that overlap there are compared in every dimension.
        var dimensions = first.GlobalShape.Length;
        var sweep = 0;
        var most = 0;
        for (var d = 0; d < dimensions; d++)
        {
            var distinct = new HashSet<long>();
            foreach (var (_, shard) in nonEmpty)
            {
                distinct.Add(shard.Offsets[d]);
            }

            if (distinct.Count > most)
            {
                (sweep, most) = (d, distinct.Count);
            }
        }

        if (dimensions > 0)
        {
            nonEmpty.Sort((a, b) => a.Shard.Offsets[sweep].CompareTo(b.Shard.Offsets[sweep]));
        }

        var active = new List<(ManifestFile File, ManifestShard Shard)>();
        var start = new long[dimensions];
        var extent = new long[dimensions];
        foreach (var candidate in nonEmpty)
        {
            if (dimensions > 0)
            {
                active.RemoveAll(a => a.Shard.Offsets[sweep] + a.Shard.Shape[sweep] <= candidate.Shard.Offsets[sweep]);
            }

            foreach (var other in active)
            {
                if (TensorBlocks.TryIntersect(candidate.Shard.Offsets, candidate.Shard.Shape, other.Shard.Offsets, other.Shard.Shape, start, extent))
                {
                    throw new InvalidDataException($"{source}: the shards of tensor '{name}' overlap: {Describe(other.File, other.Shard)} and {Describe(candidate.File, candidate.Shard)}.");
                }
            }

            active.Add(candidate);
        }

        var total = TensorBlocks.Volume(first.GlobalShape);
        if (covered != total)
        {
            throw new InvalidDataException(
                $"{source}: the shards of tensor '{name}' [{string.Join(",", first.GlobalShape)}] hold {covered} of its {total} elements; every element must be saved by exactly one rank.");
        }
    }

    private static string Describe(ManifestFile file, ManifestShard shard)
    {
        var parts = new string[shard.Shape.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            parts[i] = string.Create(CultureInfo.InvariantCulture, $"{shard.Offsets[i]}:{shard.Offsets[i] + shard.Shape[i]}");
        }

        return $"[{string.Join(", ", parts)}] of rank {file.Rank} ({file.Name})";
    }

    /// <summary>Reads a compressed file's frame index; frames must be back to back from offset 0, one per chunk, each no larger than zstd's bound for its chunk.</summary>
    private static ManifestFrame[] ReadFrames(JsonElement element, JsonElement compression, string name, long size, int chunkSize, int chunkCount, string source)
    {
        if (compression.GetString() != Zstd)
        {
            throw new InvalidDataException($"{source}: {name} uses an unknown compression '{compression}'.");
        }

        var frames = new List<ManifestFrame>(chunkCount);
        long expectedOffset = 0;
        foreach (var frame in element.GetProperty("frames").EnumerateArray())
        {
            var offset = frame.GetProperty("offset").GetInt64();
            var length = frame.GetProperty("length").GetInt32();
            var uncompressed = frame.GetProperty("size").GetInt32();
            var expectedSize = (int)Math.Min(chunkSize, size - ((long)frames.Count * chunkSize));
            if (offset != expectedOffset || length <= 0 || length > ZstdChunkCodec.MaxFrameLength(uncompressed) || uncompressed != expectedSize)
            {
                throw new InvalidDataException(
                    $"{source}: {name} frame {frames.Count} (offset {offset}, length {length}, size {uncompressed}) does not follow the previous frame at {expectedOffset} or does not match its {expectedSize}-byte chunk.");
            }

            var checksum = ulong.Parse(frame.GetProperty("checksum").GetString()!, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            frames.Add(new ManifestFrame(offset, length, uncompressed, checksum));
            expectedOffset = offset + length;
        }

        if (frames.Count != chunkCount || element.GetProperty("stored_size").GetInt64() != expectedOffset)
        {
            throw new InvalidDataException($"{source}: {name} has {frames.Count} frames for {chunkCount} chunks, or a stored_size other than their total {expectedOffset}.");
        }

        return [.. frames];
    }
}
