using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using Lustre.Checkpoints;
using Lustre.Client;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Checkpoints.CheckpointTestData;

namespace Lustre.Tests.Checkpoints;

/// <summary>
/// Safetensors files that no CheckpointManager wrote, opened without a manifest: a file made byte by byte from the
/// spec as Python's writer makes it, a Hugging Face sharded directory, slices; and the alignment of our own files.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class SafetensorsFileTests
{
    private readonly ClusterFixture _fixture;

    public SafetensorsFileTests(ClusterFixture fixture) => _fixture = fixture;

    internal static async Task WriteFileAsync(LustreClient client, string path, byte[] bytes)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.Create);
        await file.WriteAtAsync(0, bytes);
    }

    private static byte[] Spec(string json, params byte[][] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var padded = (header.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + data.Sum(d => d.Length)];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, padded - header.Length).Fill((byte)' ');
        var at = 8 + padded;
        foreach (var d in data)
        {
            d.CopyTo(file, at);
            at += d.Length;
        }

        return file;
    }

    [Fact]
    public async Task A_file_written_from_the_spec_opens_without_a_manifest_lists_its_tensors_and_reads_them()
    {
        var directory = await _fixture.NewDirectoryAsync();
        var path = directory + "/weights.safetensors";
        await WriteFileAsync(_fixture.Client, path, SafetensorsReferenceLayoutTests.SpecFile());

        await using var file = await SafetensorsFile.OpenAsync(_fixture.Client, path);

        Assert.Equal(path, file.Path);
        Assert.Equal("np", file.Metadata["format"]);
        Assert.Equal(["ids", "layer.weight", "scale", "half", "layer.bias", "mask"], file.Tensors.Select(t => t.Name));
        var weight = file.GetTensor("layer.weight");
        Assert.Equal((TensorDType.F64, 48L), (weight.DType, weight.ByteCount));
        Assert.Equal([2L, 3L], weight.Shape);
        foreach (var expected in SafetensorsReferenceLayoutTests.SpecTensors())
        {
            var tensor = await file.ReadAsync(expected.Name);
            Assert.False(tensor.IsShard);
            Assert.Equal(expected.DType, tensor.DType);
            Assert.Equal(expected.Shape, tensor.Shape);
            Assert.Equal(expected.Data.ToArray(), tensor.Data.ToArray());
        }

        Assert.Throws<KeyNotFoundException>(() => file.GetTensor("nope"));
    }

    [Fact]
    public async Task A_slice_reads_only_the_elements_asked_for_and_knows_where_it_came_from()
    {
        var directory = await _fixture.NewDirectoryAsync();
        var path = directory + "/m.safetensors";
        var values = Enumerable.Range(0, 6 * 7).Select(i => (float)i).ToArray();
        await WriteFileAsync(_fixture.Client, path, Spec("""{"m":{"dtype":"F32","shape":[6,7],"data_offsets":[0,168]}}""", MemoryMarshal.AsBytes(values.AsSpan()).ToArray()));
        await using var file = await SafetensorsFile.OpenAsync(_fixture.Client, path);

        var slice = await file.ReadAsync("m", new TensorSlice([1, 2], [3, 4]));

        Assert.True(slice.IsShard);
        Assert.Equal([3L, 4L], slice.Shape);
        Assert.Equal([6L, 7L], slice.GlobalShape);
        Assert.Equal([1L, 2L], slice.ShardOffsets);
        Assert.Equal([9f, 10, 11, 12, 16, 17, 18, 19, 23, 24, 25, 26], MemoryMarshal.Cast<byte, float>(slice.Data.Span).ToArray());

        var column = new byte[6 * 4 + 8];
        await file.ReadIntoAsync("m", column.AsMemory(4, 24), new TensorSlice([0, 6], [6, 1]));
        Assert.Equal([6f, 13, 20, 27, 34, 41], MemoryMarshal.Cast<byte, float>(column.AsSpan(4, 24)).ToArray());
        Assert.True(column.AsSpan(0, 4).IndexOfAnyExcept((byte)0) < 0 && column.AsSpan(28).IndexOfAnyExcept((byte)0) < 0);

        Assert.Contains("does not lie within", (await Assert.ThrowsAsync<ArgumentException>(() => file.ReadAsync("m", new TensorSlice([5, 0], [2, 7])))).Message, StringComparison.Ordinal);
        Assert.Equal("destination", (await Assert.ThrowsAsync<ArgumentException>(() => file.ReadIntoAsync("m", new byte[10]))).ParamName);
    }

    [Fact]
    public async Task A_hugging_face_sharded_directory_opens_through_its_index()
    {
        var directory = await _fixture.NewDirectoryAsync() + "/model";
        await _fixture.Client.CreateDirectoryAsync(directory);
        var a = NamedTensor.FromValues("embed.weight", TensorDType.F32, [2, 2], [1f, 2, 3, 4]);
        var b = NamedTensor.FromValues("head.bias", TensorDType.I32, [3], [7, 8, 9]);
        var c = new NamedTensor("head.mask", TensorDType.U8, [2], new byte[] { 0xAA, 0x55 });
        await WriteFileAsync(_fixture.Client, directory + "/model-00001-of-00002.safetensors",
            Spec("""{"__metadata__":{"format":"pt"},"embed.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""", a.Data.ToArray()));
        await WriteFileAsync(_fixture.Client, directory + "/model-00002-of-00002.safetensors",
            Spec("""{"__metadata__":{"format":"pt"},"head.bias":{"dtype":"I32","shape":[3],"data_offsets":[0,12]},"head.mask":{"dtype":"U8","shape":[2],"data_offsets":[12,14]}}""", b.Data.ToArray(), c.Data.ToArray()));
        await WriteFileAsync(_fixture.Client, directory + "/" + SafetensorsFile.IndexName, Encoding.UTF8.GetBytes(
            """{"metadata":{"total_size":30},"weight_map":{"embed.weight":"model-00001-of-00002.safetensors","head.bias":"model-00002-of-00002.safetensors","head.mask":"model-00002-of-00002.safetensors"}}"""));

        await using var model = await SafetensorsFile.OpenAsync(_fixture.Client, directory);

        Assert.Equal(directory + "/" + SafetensorsFile.IndexName, model.Path);
        Assert.Equal("30", model.Metadata["total_size"]);
        Assert.Equal(["embed.weight", "head.bias", "head.mask"], model.Tensors.Select(t => t.Name));
        foreach (var expected in new[] { a, b, c })
        {
            Assert.Equal(expected.Data.ToArray(), (await model.ReadAsync(expected.Name)).Data.ToArray());
        }

        var column = await model.ReadAsync("embed.weight", new TensorSlice([0, 1], [2, 1]));
        Assert.Equal([2f, 4f], MemoryMarshal.Cast<byte, float>(column.Data.Span).ToArray());
    }

    [Fact]
    public async Task Broken_indexes_and_directories_without_a_model_give_errors_that_say_what_is_wrong()
    {
        var directory = await _fixture.NewDirectoryAsync();
        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() => SafetensorsFile.OpenAsync(_fixture.Client, directory));
        Assert.Contains("neither", missing.Message, StringComparison.Ordinal);

        await WriteFileAsync(_fixture.Client, directory + "/one.safetensors", Spec("""{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}""", [1]));
        await WriteFileAsync(_fixture.Client, directory + "/" + SafetensorsFile.IndexName, Encoding.UTF8.GetBytes("""{"weight_map":{"x":"one.safetensors","y":"one.safetensors"}}"""));
        var unlisted = await Assert.ThrowsAsync<InvalidDataException>(() => SafetensorsFile.OpenAsync(_fixture.Client, directory));
        Assert.Contains("puts tensor 'y' in one.safetensors, whose header does not list it", unlisted.Message, StringComparison.Ordinal);

        await WriteFileAsync(_fixture.Client, directory + "/" + SafetensorsFile.IndexName, Encoding.UTF8.GetBytes("""{"weight_map":{"x":"../etc/one.safetensors"}}"""));
        var outside = await Assert.ThrowsAsync<InvalidDataException>(() => SafetensorsFile.OpenAsync(_fixture.Client, directory));
        Assert.Contains("not a file name beside the index", outside.Message, StringComparison.Ordinal);

        await WriteFileAsync(_fixture.Client, directory + "/bad.safetensors", Spec("""{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}""", [1]));
        var truncated = await Assert.ThrowsAsync<InvalidDataException>(() => SafetensorsFile.OpenAsync(_fixture.Client, directory + "/bad.safetensors"));
        Assert.Contains("bad.safetensors", truncated.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_checkpoint_manager_pointed_at_a_plain_safetensors_directory_says_it_needs_its_manifest_and_what_to_use_instead()
    {
        var directory = await _fixture.NewDirectoryAsync();
        await WriteFileAsync(_fixture.Client, directory + "/" + SafetensorsFile.ModelName, SafetensorsReferenceLayoutTests.SpecFile());
        await using var manager = new CheckpointManager(_fixture.Client, directory, SmallOptions());

        var latest = await Assert.ThrowsAsync<FileNotFoundException>(() => manager.LoadAsync());
        var step = await Assert.ThrowsAsync<FileNotFoundException>(() => manager.LoadAsync(7));

        foreach (var error in new[] { latest, step })
        {
            Assert.Contains("manifest", error.Message, StringComparison.Ordinal);
            Assert.Contains("SafetensorsFile.OpenAsync", error.Message, StringComparison.Ordinal);
        }

        Assert.Contains("no committed checkpoint of step 7", step.Message, StringComparison.Ordinal);
        await using var opened = await SafetensorsFile.OpenAsync(_fixture.Client, directory);
        Assert.Equal(6, opened.Tensors.Count);
    }

    [Theory]
    [InlineData(CheckpointCompression.None)]
    [InlineData(CheckpointCompression.Zstd)]
    public async Task Every_tensor_we_save_is_aligned_to_its_element_size_in_reference_order(CheckpointCompression compression)
    {
        var root = await _fixture.NewDirectoryAsync() + "/ckpt";
        // Every dtype with 15 elements (odd sizes), a scalar, an empty tensor, tensors over several files, in the caller's order.
        var tensors = Mixed(seed: 11);
        await using var manager = new CheckpointManager(_fixture.Client, root, SmallOptions(compression));
        await (await manager.SaveAsync(1, tensors)).Completion.WaitAsync(TestTimeout);

        // The plain content of each file, decompressed where needed, by loading it: then its header is checked here.
        var names = new List<string>();
        await foreach (var entry in _fixture.Client.EnumerateDirectoryAsync(root + "/step-00000001"))
        {
            if (entry.Name.EndsWith(".safetensors", StringComparison.Ordinal) || entry.Name.EndsWith(".safetensors.zst", StringComparison.Ordinal))
            {
                names.Add(entry.Name);
            }
        }

        Assert.True(names.Count >= 2, "the state spans several files");
        var seen = 0;
        foreach (var name in names)
        {
            var content = await ReadPlainAsync(root + "/step-00000001/" + name);
            var contents = SafetensorsCodec.Parse(content, name);
            Assert.Equal(0, contents.DataStart % 8);
            foreach (var entry in contents.Entries)
            {
                Assert.True((contents.DataStart + entry.Begin) % entry.DType.GetElementSize() == 0, $"{name}: {entry.Name} ({entry.DType}) starts at byte {contents.DataStart + entry.Begin}");
                seen++;
            }

            var order = contents.Tensors.ToList();
            order.Sort(SafetensorsCodec.CompareInReferenceOrder);
            Assert.Equal(order.Select(t => t.Name), contents.Tensors.Select(t => t.Name));
        }

        Assert.Equal(tensors.Count, seen);
        using var loaded = await manager.LoadAsync(1);
        AssertSame(tensors, loaded);
    }

    /// <summary>A data file's plain content: a compressing manager stores a file that would not shrink plain, so the name tells.</summary>
    private async Task<byte[]> ReadPlainAsync(string path)
    {
        await using var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var stored = new byte[file.Length];
        Assert.Equal(stored.Length, await file.ReadAtAsync(0, stored));
        if (!path.EndsWith(".zst", StringComparison.Ordinal))
        {
            return stored;
        }

        // Concatenated zstd frames: one stream decoder reads them all, as `zstd -d` does.
        using var decoder = new ZstdSharp.DecompressionStream(new MemoryStream(stored));
        using var plain = new MemoryStream();
        await decoder.CopyToAsync(plain);
        return plain.ToArray();
    }
}
