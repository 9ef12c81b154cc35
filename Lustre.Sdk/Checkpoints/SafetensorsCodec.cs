using System.Buffers;
using System.Buffers.Binary;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Lustre.Checkpoints;

/// <summary>
/// The <c>safetensors</c> file format: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
/// (<c>{"__metadata__":{...},"name":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},...}</c>, padded with spaces
/// so the data starts 8-byte aligned, as the reference implementation does), then the tensors' bytes back to back.
/// Offsets are relative to the first data byte. Parsing is strict: every way a header can lie is an error.
/// </summary>
internal static class SafetensorsCodec
{
    public const string MetadataKey = "__metadata__";

    /// <summary>The reference implementation's limit on the JSON header (100 MB).</summary>
    public const long MaxHeaderSize = 100_000_000;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Like serde_json: non-ASCII names stay UTF-8 rather than \u escapes.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
        SkipValidation = false,
    };

    /// <summary>
    /// The reference writer's order: by dtype, widest alignment first (<see cref="TensorDTypeExtensions.ReferenceOrder"/>,
    /// descending), then by name as UTF-8 bytes. Laid out in this order after a header padded to 8 bytes, every tensor's
    /// data starts at a multiple of its element size, and a file is byte for byte what the reference writer makes.
    /// </summary>
    public static int CompareInReferenceOrder(NamedTensor a, NamedTensor b)
    {
        var byType = b.DType.ReferenceOrder().CompareTo(a.DType.ReferenceOrder());
        return byType != 0 ? byType : CompareUtf8(a.Name, b.Name);
    }

    /// <summary>Orders strings as their UTF-8 bytes (code point order), as Rust's <c>String</c> does; UTF-16 ordinal order differs above U+D7FF.</summary>
    internal static int CompareUtf8(string a, string b)
    {
        var length = Math.Min(a.Length, b.Length);
        for (var i = 0; i < length; i++)
        {
            var (x, y) = (a[i], b[i]);
            if (x != y)
            {
                // A surrogate (a code point above U+FFFF) sorts after every BMP character, including U+E000 to U+FFFF.
                var (xs, ys) = (char.IsSurrogate(x), char.IsSurrogate(y));
                return xs == ys ? x.CompareTo(y) : xs ? 1 : -1;
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    /// <summary>
    /// Builds the file prefix for <paramref name="tensors"/> laid out back to back in list order (sort them with
    /// <see cref="CompareInReferenceOrder"/> first to get aligned data): the 8-byte length,
    /// the JSON and its padding. The data of tensor i then starts at <c>prefix.Length + sum of earlier sizes</c>.
    /// </summary>
    public static byte[] CreateHeader(IReadOnlyList<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var json = new ArrayBufferWriter<byte>(256 + 96 * tensors.Count);
        using (var writer = new Utf8JsonWriter(json, WriterOptions))
        {
            writer.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                writer.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata)
                {
                    writer.WriteString(key, value);
                }

                writer.WriteEndObject();
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            long offset = 0;
            foreach (var tensor in tensors)
            {
                if (!names.Add(tensor.Name))
                {
                    throw new ArgumentException($"Tensor name '{tensor.Name}' appears twice; names must be unique within a file.", nameof(tensors));
                }

                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", tensor.DType.ToSafetensorsName());
                writer.WriteStartArray("shape");
                foreach (var dimension in tensor.ShapeSpan)
                {
                    writer.WriteNumberValue(dimension);
                }

                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                offset += tensor.Data.Length;
                writer.WriteNumberValue(offset);
                writer.WriteEndArray();
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
        }

        var length = json.WrittenCount;
        var padded = length + ((8 - (length % 8)) % 8);
        var header = new byte[8 + padded];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)padded);
        json.WrittenSpan.CopyTo(header.AsSpan(8));
        header.AsSpan(8 + length).Fill((byte)' ');
        return header;
    }

    /// <summary>Reads the header length from the first 8 bytes and checks it against the file size and the limit.</summary>
    /// <returns>N: the JSON starts at 8 and the data at 8 + N.</returns>
    public static int ReadHeaderLength(ReadOnlySpan<byte> file, long fileLength, string source)
    {
        if (fileLength < 8 || file.Length < 8)
        {
            throw Invalid(source, $"the file has {fileLength} bytes, fewer than the 8-byte header length");
        }

        var length = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (length > MaxHeaderSize)
        {
            throw Invalid(source, $"the header length {length} is above the limit of {MaxHeaderSize} bytes");
        }

        if (length > (ulong)(fileLength - 8))
        {
            throw Invalid(source, $"the header length {length} goes beyond the end of the {fileLength}-byte file");
        }

        return (int)length;
    }

    /// <summary>
    /// Parses and validates a whole file held in memory; the tensors returned are slices of <paramref name="file"/>.
    /// </summary>
    public static SafetensorsContents Parse(ReadOnlyMemory<byte> file, string source)
    {
        var headerLength = ReadHeaderLength(file.Span, file.Length, source);
        var dataStart = 8 + headerLength;
        var entries = ParseHeader(file.Span.Slice(8, headerLength), file.Length - dataStart, source, out var metadata);
        var tensors = new NamedTensor[entries.Count];
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            var data = file.Slice(dataStart + (int)entry.Begin, (int)(entry.End - entry.Begin));
            tensors[i] = new NamedTensor(entry.Name, entry.DType, entry.Shape, data);
        }

        return new SafetensorsContents(metadata, tensors, entries, dataStart);
    }

    /// <summary>Parses the JSON header and checks every entry against the <paramref name="dataLength"/> bytes that follow it.</summary>
    /// <returns>The entries in data-offset order.</returns>
    public static List<SafetensorsEntry> ParseHeader(ReadOnlySpan<byte> json, long dataLength, string source, out Dictionary<string, string> metadata)
    {
        metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var entries = new List<SafetensorsEntry>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            Expect(ref reader, JsonTokenType.StartObject, source, "the header is not a JSON object");
            while (Next(ref reader, source) != JsonTokenType.EndObject)
            {
                var name = reader.GetString()!;
                if (!names.Add(name))
                {
                    throw Invalid(source, $"'{name}' appears twice in the header");
                }

                if (name == MetadataKey)
                {
                    ReadMetadata(ref reader, metadata, source);
                }
                else
                {
                    entries.Add(ReadEntry(ref reader, name, source));
                }
            }

            if (reader.Read())
            {
                throw Invalid(source, "the header has content after its JSON object");
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{source}: the safetensors header is not valid JSON: {ex.Message}", ex);
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidDataException($"{source}: the safetensors header is not valid: {ex.Message}", ex);
        }

        entries.Sort(static (a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expected = 0;
        foreach (var entry in entries)
        {
            if (entry.End > dataLength)
            {
                throw Invalid(source, $"tensor '{entry.Name}' has data_offsets [{entry.Begin}, {entry.End}] beyond the {dataLength} data bytes");
            }

            if (entry.Begin < expected)
            {
                throw Invalid(source, $"tensor '{entry.Name}' at [{entry.Begin}, {entry.End}] overlaps the tensor before it, which ends at {expected}");
            }

            if (entry.Begin > expected)
            {
                throw Invalid(source, $"there is a gap of {entry.Begin - expected} bytes before tensor '{entry.Name}' at {entry.Begin}");
            }

            expected = entry.End;
        }

        if (expected != dataLength)
        {
            throw Invalid(source, $"the tensors cover {expected} data bytes but the file holds {dataLength}");
        }

        return entries;
    }

    private static void ReadMetadata(ref Utf8JsonReader reader, Dictionary<string, string> metadata, string source)
    {
        Expect(ref reader, JsonTokenType.StartObject, source, $"'{MetadataKey}' is not an object");
        while (Next(ref reader, source) != JsonTokenType.EndObject)
        {
            var key = reader.GetString()!;
            Expect(ref reader, JsonTokenType.String, source, $"metadata '{key}' is not a string");
            if (!metadata.TryAdd(key, reader.GetString()!))
            {
                throw Invalid(source, $"metadata '{key}' appears twice");
            }
        }
    }

    private static SafetensorsEntry ReadEntry(ref Utf8JsonReader reader, string name, string source)
    {
        Expect(ref reader, JsonTokenType.StartObject, source, $"tensor '{name}' is not an object");
        string? dtypeName = null;
        List<long>? shape = null;
        List<long>? offsets = null;
        while (Next(ref reader, source) != JsonTokenType.EndObject)
        {
            var field = reader.GetString();
            switch (field)
            {
                case "dtype" when dtypeName is null:
                    Expect(ref reader, JsonTokenType.String, source, $"tensor '{name}': dtype is not a string");
                    dtypeName = reader.GetString()!;
                    break;
                case "shape" when shape is null:
                    shape = ReadIntegers(ref reader, name, "shape", source);
                    break;
                case "data_offsets" when offsets is null:
                    offsets = ReadIntegers(ref reader, name, "data_offsets", source);
                    break;
                default:
                    throw Invalid(source, $"tensor '{name}' has an unexpected or repeated field '{field}'");
            }
        }

        if (dtypeName is null || shape is null || offsets is null)
        {
            throw Invalid(source, $"tensor '{name}' lacks one of dtype, shape and data_offsets");
        }

        if (!TensorDTypeExtensions.TryParseSafetensorsName(dtypeName, out var dtype))
        {
            throw Invalid(source, $"tensor '{name}' has an unknown dtype '{dtypeName}'");
        }

        if (offsets.Count != 2 || offsets[0] > offsets[1])
        {
            throw Invalid(source, $"tensor '{name}': data_offsets must be [begin, end] with begin <= end");
        }

        long count = 1;
        foreach (var dimension in shape)
        {
            // Any real tensor is far below 2^62 bytes; this also keeps the product from overflowing.
            if (dimension != 0 && count > (long.MaxValue >> 2) / dimension)
            {
                throw Invalid(source, $"tensor '{name}' has a shape too large to exist");
            }

            count *= dimension;
        }

        var bytes = count * dtype.GetElementSize();
        if (bytes != offsets[1] - offsets[0])
        {
            throw Invalid(source, $"tensor '{name}': shape [{string.Join(",", shape)}] of {dtypeName} needs {bytes} bytes but data_offsets [{offsets[0]}, {offsets[1]}] hold {offsets[1] - offsets[0]}");
        }

        return new SafetensorsEntry(name, dtype, [.. shape], offsets[0], offsets[1]);
    }

    private static List<long> ReadIntegers(ref Utf8JsonReader reader, string name, string field, string source)
    {
        Expect(ref reader, JsonTokenType.StartArray, source, $"tensor '{name}': {field} is not an array");
        var values = new List<long>();
        while (Next(ref reader, source) != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out var value) || value < 0)
            {
                throw Invalid(source, $"tensor '{name}': {field} holds something other than a non-negative integer");
            }

            values.Add(value);
        }

        return values;
    }

    private static JsonTokenType Next(ref Utf8JsonReader reader, string source) =>
        reader.Read() ? reader.TokenType : throw Invalid(source, "the header JSON ends early");

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string source, string problem)
    {
        if (Next(ref reader, source) != type)
        {
            throw Invalid(source, problem);
        }
    }

    private static InvalidDataException Invalid(string source, string problem) => new($"{source}: invalid safetensors header: {problem}.");
}

/// <summary>One tensor of a parsed header: offsets relative to the first data byte.</summary>
internal sealed record SafetensorsEntry(string Name, TensorDType DType, long[] Shape, long Begin, long End);

/// <summary>A parsed file: metadata, tensors (slices of the file's memory), their header entries (same order) and where the data starts.</summary>
internal sealed record SafetensorsContents(Dictionary<string, string> Metadata, NamedTensor[] Tensors, List<SafetensorsEntry> Entries, int DataStart);
