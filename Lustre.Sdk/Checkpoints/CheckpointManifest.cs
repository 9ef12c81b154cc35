using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lustre.Checkpoints;

/// <summary>
/// One data file as the manifest records it: the size of its safetensors content, the XXH3-64 of each
/// <see cref="ChunkSize"/> bytes of that content, the tensors it holds and, for a zstd file, where each chunk's frame is stored.
/// </summary>
internal sealed record ManifestFile(string Name, int Rank, long Size, int ChunkSize, ulong[] Chunks, string[] Tensors, ManifestFrame[]? Frames = null)
{
    /// <summary>True when the file is a sequence of zstd frames, one per chunk, rather than plain safetensors.</summary>
    public bool IsCompressed => Frames is not null;

    /// <summary>The bytes the file holds on the filesystem: <see cref="Size"/>, or the frames' total when compressed.</summary>
    public long StoredSize => Frames is { Length: > 0 } frames ? frames[^1].Offset + frames[^1].Length : Frames is null ? Size : 0;

    /// <summary>The uncompressed length of chunk <paramref name="chunk"/>.</summary>
    public int ChunkLength(int chunk) => (int)Math.Min(ChunkSize, Size - ((long)chunk * ChunkSize));
}

/// <summary>Where one chunk's zstd frame is stored in a compressed file, its length, the chunk's uncompressed size and the frame's XXH3-64.</summary>
internal readonly record struct ManifestFrame(long Offset, int Length, int Size, ulong Checksum);

/// <summary>
/// <c>manifest.json</c> of a committed checkpoint (and, with only <c>rank</c> and <c>files</c>, the <c>rankNNNNN.done</c>
/// marker a rank writes once its files are durable). Small, written once, so <see cref="JsonDocument"/> is fine here.
/// </summary>
internal sealed class CheckpointManifest
{
    public const string Format = "lustre-checkpoint";
    /// <summary>Version 1: plain safetensors files only. Version 2 adds zstd files (<c>compression</c>, <c>stored_size</c>, <c>frames</c>).</summary>
    public const int Version = 1;
    public const int CompressedVersion = 2;
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
            foreach (var file in Files)
            {
                compressed |= file.IsCompressed;
            }

            // Only manifests with compressed files say version 2, so a reader that knows only plain files refuses them clearly.
            writer.WriteNumber("version", compressed ? CompressedVersion : Version);
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
            if (root.GetProperty("format").GetString() != Format || root.GetProperty("version").GetInt32() is not (Version or CompressedVersion))
            {
                throw new InvalidDataException($"{source}: not a {Format} manifest of version {Version} or {CompressedVersion}.");
            }

            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var property in root.GetProperty("metadata").EnumerateObject())
            {
                metadata[property.Name] = property.Value.GetString() ?? string.Empty;
            }

            return new CheckpointManifest
            {
                Step = root.GetProperty("step").GetInt64(),
                WorldSize = root.GetProperty("world_size").GetInt32(),
                Created = DateTimeOffset.Parse(root.GetProperty("created").GetString()!, CultureInfo.InvariantCulture),
                Metadata = metadata,
                Files = ReadFiles(root, source),
            };
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
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
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
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
            writer.WriteEndObject();
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
            files.Add(new ManifestFile(name, element.GetProperty("rank").GetInt32(), size, chunkSize, [.. chunks], [.. tensors], frames));
        }

        return files;
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
