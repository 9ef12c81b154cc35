using System.Buffers.Binary;
using System.Text;
using Lustre.Checkpoints;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// The reference writer's layout (huggingface/safetensors <c>prepare</c>): tensors sorted by dtype, widest alignment
/// first (its <c>Dtype</c> enum order, descending), then by name; the JSON header padded with spaces to a multiple of
/// 8. Checked here against a file assembled byte by byte from the spec, independently of our codec.
/// </summary>
public sealed class SafetensorsReferenceLayoutTests
{
    /// <summary>
    /// What <c>safetensors.numpy.save_file(tensors, metadata={"format": "np"})</c> writes for <see cref="SpecTensors"/>:
    /// I64 first, then F64, F32, F16, U8, BOOL, so every offset is a multiple of its element size.
    /// </summary>
    internal const string SpecJson =
        """{"__metadata__":{"format":"np"},"ids":{"dtype":"I64","shape":[4],"data_offsets":[0,32]},"layer.weight":{"dtype":"F64","shape":[2,3],"data_offsets":[32,80]},"scale":{"dtype":"F32","shape":[],"data_offsets":[80,84]},"half":{"dtype":"F16","shape":[3],"data_offsets":[84,90]},"layer.bias":{"dtype":"U8","shape":[3],"data_offsets":[90,93]},"mask":{"dtype":"BOOL","shape":[5],"data_offsets":[93,98]}}""";

    /// <summary>The tensors of <see cref="SpecJson"/>, in an order a caller might give them (odd-sized ones first).</summary>
    internal static List<NamedTensor> SpecTensors() =>
    [
        new NamedTensor("layer.bias", TensorDType.U8, [3], new byte[] { 1, 2, 3 }),
        NamedTensor.FromValues("layer.weight", TensorDType.F64, [2, 3], [1.5, -2.25, 3.0, 4.125, -5.5, 6.75]),
        new NamedTensor("mask", TensorDType.Bool, [5], new byte[] { 1, 0, 1, 1, 0 }),
        NamedTensor.FromValues("scale", TensorDType.F32, [], [0.5f]),
        NamedTensor.FromValues("ids", TensorDType.I64, [4], [10L, -20L, 30L, long.MaxValue]),
        NamedTensor.FromValues("half", TensorDType.F16, [3], [(Half)1, (Half)(-2), (Half)0.5]),
    ];

    /// <summary>The file <see cref="SpecJson"/> describes, assembled by hand: 8-byte LE length, JSON, spaces to 8, data in header order.</summary>
    internal static byte[] SpecFile()
    {
        var json = Encoding.UTF8.GetBytes(SpecJson);
        var padded = (json.Length + 7) / 8 * 8;
        var byName = SpecTensors().ToDictionary(t => t.Name);
        var data = new[] { "ids", "layer.weight", "scale", "half", "layer.bias", "mask" }.SelectMany(n => byName[n].Data.ToArray()).ToArray();
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        json.CopyTo(file, 8);
        file.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        data.CopyTo(file, 8 + padded);
        return file;
    }

    [Fact]
    public void Sorting_in_reference_order_gives_the_reference_writers_header_byte_for_byte()
    {
        var tensors = SpecTensors();
        tensors.Sort(SafetensorsCodec.CompareInReferenceOrder);

        var header = SafetensorsCodec.CreateHeader(tensors, new Dictionary<string, string> { ["format"] = "np" });

        var expected = SpecFile();
        Assert.Equal(expected.AsSpan(0, header.Length).ToArray(), header);
        Assert.Equal(["ids", "layer.weight", "scale", "half", "layer.bias", "mask"], tensors.Select(t => t.Name));
    }

    [Fact]
    public void Every_tensor_of_a_reference_ordered_file_starts_at_a_multiple_of_its_element_size()
    {
        var random = new Random(3);
        var tensors = new List<NamedTensor>();
        foreach (var dtype in Enum.GetValues<TensorDType>())
        {
            // Odd element counts, so a caller's order would misalign whatever follows.
            var data = new byte[7 * dtype.GetElementSize()];
            random.NextBytes(data);
            tensors.Add(new NamedTensor("t" + random.Next(100) + dtype, dtype, [7], data));
        }

        tensors.Sort(SafetensorsCodec.CompareInReferenceOrder);
        var header = SafetensorsCodec.CreateHeader(tensors, new Dictionary<string, string> { ["k"] = "v" });
        var contents = SafetensorsCodec.Parse(header.Concat(tensors.SelectMany(t => t.Data.ToArray())).ToArray(), "aligned");

        Assert.Equal(0, contents.DataStart % 8);
        Assert.All(contents.Entries, e => Assert.True((contents.DataStart + e.Begin) % e.DType.GetElementSize() == 0, $"{e.Name} ({e.DType}) at {contents.DataStart + e.Begin}"));
    }

    [Fact]
    public void Dtype_order_is_the_reference_enums_descending_and_names_compare_as_UTF8()
    {
        // Its Dtype enum, ascending: BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64.
        var expected = new[] { "U64", "I64", "F64", "F32", "U32", "I32", "BF16", "F16", "U16", "I16", "F8_E4M3", "F8_E5M2", "I8", "U8", "BOOL" };
        var tensors = Enum.GetValues<TensorDType>().Select(d => new NamedTensor("x", d, [0], ReadOnlyMemory<byte>.Empty)).ToList();
        tensors.Sort(SafetensorsCodec.CompareInReferenceOrder);
        Assert.Equal(expected, tensors.Select(t => t.DType.ToSafetensorsName()));

        // U+FF21 (one UTF-16 unit, EF BC A1 in UTF-8) sorts before U+1F600 (a surrogate pair, F0 9F 98 80), as Rust's
        // String does, although UTF-16 ordinal order puts the surrogate (D83D) first.
        Assert.True(SafetensorsCodec.CompareUtf8("\uFF21", "\U0001F600") < 0);
        Assert.True(string.CompareOrdinal("\uFF21", "\U0001F600") > 0);
        Assert.True(SafetensorsCodec.CompareUtf8("a", "ab") < 0);
        Assert.True(SafetensorsCodec.CompareUtf8("b", "ab") > 0);
    }
}
