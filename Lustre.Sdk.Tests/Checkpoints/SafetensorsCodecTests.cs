using System.Buffers.Binary;
using System.Text;
using Lustre.Checkpoints;

namespace Lustre.Tests.Checkpoints;

/// <summary>The safetensors header: golden bytes written by hand from the spec, round trips, and every way a header can lie.</summary>
public sealed class SafetensorsCodecTests
{
    /// <summary>A file assembled by hand: 8-byte little-endian N, N bytes of JSON (space padded), then the data.</summary>
    private static byte[] HandMade(string json, byte[] data, int padding)
    {
        var header = Encoding.UTF8.GetBytes(json + new string(' ', padding));
        var file = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)header.Length);
        header.CopyTo(file, 8);
        data.CopyTo(file, 8 + header.Length);
        return file;
    }

    [Fact]
    public void Header_with_metadata_matches_the_spec_byte_for_byte()
    {
        // 136 bytes of JSON: a multiple of 8 already, so no padding. serde_json's compact form, tensors in offset order.
        const string json = """{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[],"data_offsets":[8,9]}}""";
        var expected = HandMade(json, [], 0);
        Assert.Equal(136UL, BinaryPrimitives.ReadUInt64LittleEndian(expected));

        var header = SafetensorsCodec.CreateHeader(
            [NamedTensor.FromValues("a", TensorDType.F32, [2], [1f, 2f]), new NamedTensor("b", TensorDType.I8, [], new byte[] { 0x7F })],
            new Dictionary<string, string> { ["format"] = "pt" });

        Assert.Equal(expected, header);
    }

    [Fact]
    public void Header_is_padded_with_spaces_so_the_data_starts_8_byte_aligned()
    {
        // 57 bytes of JSON + 7 spaces = 64: N = 64, data at 72.
        const string json = """{"w":{"dtype":"BF16","shape":[1,3],"data_offsets":[0,6]}}""";
        var expected = HandMade(json, [], 7);

        var header = SafetensorsCodec.CreateHeader([new NamedTensor("w", TensorDType.BF16, [1, 3], new byte[6])], metadata: null);

        Assert.Equal(expected, header);
        Assert.Equal(64UL, BinaryPrimitives.ReadUInt64LittleEndian(header));
        Assert.Equal(0, header.Length % 8);
    }

    [Fact]
    public void A_file_made_by_hand_from_the_spec_loads()
    {
        var data = new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40, 0xFE };
        var file = HandMade(
            """{"__metadata__":{"format":"pt","note":"ünïcode"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I8","shape":[],"data_offsets":[8,9]}}""",
            data,
            padding: 3);

        var contents = SafetensorsCodec.Parse(file, "hand.safetensors");

        Assert.Equal("pt", contents.Metadata["format"]);
        Assert.Equal("ünïcode", contents.Metadata["note"]);
        Assert.Equal(2, contents.Tensors.Length);
        var a = contents.Tensors[0];
        Assert.Equal(("a", TensorDType.F32), (a.Name, a.DType));
        Assert.Equal([2L], a.Shape);
        Assert.Equal(new[] { 1f, 2f }, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(a.Data.Span).ToArray());
        var b = contents.Tensors[1];
        Assert.Equal(("b", TensorDType.I8, 0, 1L), (b.Name, b.DType, b.Shape.Count, b.ElementCount));
        Assert.Equal(unchecked((sbyte)0xFE), (sbyte)b.Data.Span[0]);
    }

    [Fact]
    public void Every_dtype_and_scalar_and_empty_tensors_round_trip_through_the_codec()
    {
        var random = new Random(7);
        var tensors = new List<NamedTensor>();
        foreach (var dtype in Enum.GetValues<TensorDType>())
        {
            var data = new byte[2 * 3 * dtype.GetElementSize()];
            random.NextBytes(data);
            tensors.Add(new NamedTensor("t." + dtype.ToSafetensorsName(), dtype, [2, 3], data));
        }

        tensors.Add(new NamedTensor("scalar", TensorDType.F64, [], BitConverter.GetBytes(Math.PI)));
        tensors.Add(new NamedTensor("empty", TensorDType.F32, [0, 4], ReadOnlyMemory<byte>.Empty));
        tensors.Add(new NamedTensor("after-empty", TensorDType.U8, [1], new byte[] { 42 }));

        var header = SafetensorsCodec.CreateHeader(tensors, new Dictionary<string, string> { ["k"] = "v" });
        var file = header.Concat(tensors.SelectMany(t => t.Data.ToArray())).ToArray();
        var back = SafetensorsCodec.Parse(file, "round-trip");

        Assert.Equal(tensors.Count, back.Tensors.Length);
        foreach (var (expected, actual) in tensors.Zip(back.Tensors))
        {
            Assert.Equal(expected.Name, actual.Name);
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data.ToArray(), actual.Data.ToArray());
        }
    }

    public static TheoryData<string, string, int, string> CorruptHeaders() => new()
    {
        { "offsets out of bounds", """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", 2, "beyond the 2 data bytes" },
        { "overlap", """{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", 4, "overlaps" },
        { "gap", """{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}""", 4, "gap of 2 bytes" },
        { "trailing data", """{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", 4, "cover 2 data bytes but the file holds 4" },
        { "bad JSON", """{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}""", 2, "not valid JSON" },
        { "not an object", """[1,2]""", 0, "not a JSON object" },
        { "unknown dtype", """{"a":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}""", 16, "unknown dtype 'F128'" },
        { "shape/size mismatch", """{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}""", 12, "needs 16 bytes" },
        { "negative dimension", """{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}""", 4, "non-negative integer" },
        { "duplicate name", """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}""", 2, "appears twice" },
        { "missing field", """{"a":{"dtype":"U8","data_offsets":[0,1]}}""", 1, "lacks one of" },
        { "unexpected field", """{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}""", 1, "unexpected or repeated field 'x'" },
        { "reversed offsets", """{"a":{"dtype":"U8","shape":[0],"data_offsets":[1,0]}}""", 1, "begin <= end" },
        { "metadata not strings", """{"__metadata__":{"k":1}}""", 0, "metadata 'k' is not a string" },
        { "huge shape", """{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}""", 8, "too large" },
    };

    [Theory]
    [MemberData(nameof(CorruptHeaders))]
    public void Corrupt_headers_give_clear_errors(string name, string json, int dataLength, string expected)
    {
        var file = HandMade(json, new byte[dataLength], 0);
        var error = Assert.Throws<InvalidDataException>(() => SafetensorsCodec.Parse(file, "bad.safetensors"));
        Assert.Contains("bad.safetensors", error.Message, StringComparison.Ordinal);
        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), $"{name}: {error.Message}");
    }

    [Fact]
    public void A_header_length_beyond_the_file_or_above_the_limit_is_refused_before_reading_it()
    {
        var file = new byte[100];
        BinaryPrimitives.WriteUInt64LittleEndian(file, 93);
        Assert.Contains("goes beyond the end of the 100-byte file", Assert.Throws<InvalidDataException>(() => SafetensorsCodec.Parse(file, "f")).Message, StringComparison.Ordinal);

        BinaryPrimitives.WriteUInt64LittleEndian(file, ulong.MaxValue);
        Assert.Contains("above the limit", Assert.Throws<InvalidDataException>(() => SafetensorsCodec.Parse(file, "f")).Message, StringComparison.Ordinal);

        Assert.Contains("fewer than the 8-byte", Assert.Throws<InvalidDataException>(() => SafetensorsCodec.Parse(new byte[5], "f")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_tensor_whose_bytes_do_not_match_its_shape_is_refused_at_construction()
    {
        var error = Assert.Throws<ArgumentException>(() => new NamedTensor("w", TensorDType.F32, [2, 3], new byte[20]));
        Assert.Equal("data", error.ParamName);
        Assert.Contains("needs 6 × 4 = 24 bytes, but 20 were given", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new NamedTensor("w", TensorDType.F32, [-1], ReadOnlyMemory<byte>.Empty));
        Assert.Throws<ArgumentException>(() => new NamedTensor("__metadata__", TensorDType.U8, [0], ReadOnlyMemory<byte>.Empty));
        Assert.Throws<ArgumentException>(() => new NamedTensor("", TensorDType.U8, [0], ReadOnlyMemory<byte>.Empty));
    }
}
