using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lustre.Checkpoints;

/// <summary>One data file as the manifest records it: size, per-chunk XXH3-64 checksums and the tensors it holds.</summary>
internal sealed record ManifestFile(string Name, int Rank, long Size, int ChunkSize, ulong[] Chunks, string[] Tensors);

/// <summary>
/// <c>manifest.json</c> of a committed checkpoint (and, with only <c>rank</c> and <c>files</c>, the <c>rankNNNNN.done</c>
/// marker a rank writes once its files are durable). Small, written once, so <see cref="JsonDocument"/> is fine here.
/// </summary>
internal sealed class CheckpointManifest
{
    public const string Format = "lustre-checkpoint";
    public const int Version = 1;
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
            writer.WriteNumber("version", Version);
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
            if (root.GetProperty("format").GetString() != Format || root.GetProperty("version").GetInt32() != Version)
            {
                throw new InvalidDataException($"{source}: not a {Format} manifest of version {Version}.");
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

            files.Add(new ManifestFile(name, element.GetProperty("rank").GetInt32(), size, chunkSize, [.. chunks], [.. tensors]));
        }

        return files;
    }
}
