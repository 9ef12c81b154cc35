using System.Text;
using System.Text.Json;
using Lustre.Dataset;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Dataset;

[Collection(ClusterCollection.Name)]
public sealed class ShardFormatTests(ClusterFixture fixture)
{
    private const string LongKey = "sample_with_a_very_long_key_that_goes_past_the_hundred_byte_ustar_name_field_limit_0000000000000002";

    [Theory]
    [InlineData("golden-gnu.tar")]
    [InlineData("golden-pax.tar")]
    public async Task Tar_written_by_gnu_tar_is_read_as_webdataset_samples(string name)
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, name);
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, path, new LustreDatasetOptions { Shuffle = DatasetShuffle.None, RequiredFields = ["cls"] });
        var samples = await ReadAllAsync(dataset);

        Assert.Equal(["000000", "000001", LongKey, "000003"], samples.Select(s => s.Key));
        Assert.Equal(["cls", "txt"], samples[1].Fields.Keys);
        Assert.Equal("seven, a longer text field than the others", samples[1].Fields["txt"]);
        Assert.Equal("one", samples[2].Fields["txt"]);
        Assert.Equal(["bin", "cls"], samples[3].Fields.Keys);
        Assert.Equal(Convert.ToHexString(DatasetTestData.Read("golden-000003.bin")), samples[3].Hex["bin"]);
    }

    [Fact]
    public async Task Tar_with_a_truncated_member_names_the_shard_and_the_member()
    {
        var dir = await fixture.NewDirectoryAsync();
        var tar = DatasetTestData.Read("golden-gnu.tar");
        var member = tar.AsSpan().IndexOf(DatasetTestData.Read("golden-000003.bin").AsSpan(0, 64));
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "truncated.tar", tar[..(member + 700)]);

        var error = await Assert.ThrowsAsync<DatasetFormatException>(() => LustreDataset.OpenAsync(fixture.Client, path));
        Assert.Equal(path, error.ShardPath);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("truncated tar: member '000003.bin' declares 1500 bytes but only 700 remain", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tar_sample_missing_a_required_field_names_the_shard_and_the_key()
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "missing-field.tar");

        var error = await Assert.ThrowsAsync<DatasetFormatException>(() => LustreDataset.OpenAsync(fixture.Client, path, new LustreDatasetOptions { RequiredFields = ["cls", "txt"] }));
        Assert.Equal(path, error.ShardPath);
        Assert.Contains("sample 'b' has no 'cls' field (it has: txt)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_file_that_is_not_a_tar_is_reported_as_such()
    {
        var dir = await fixture.NewDirectoryAsync();
        var text = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("This is a plain text file, not an archive.\n", 40)));
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "notes.tar", text);

        var error = await Assert.ThrowsAsync<DatasetFormatException>(() => LustreDataset.OpenAsync(fixture.Client, path));
        Assert.Equal(path, error.ShardPath);
        Assert.Equal(0, error.Offset);
        Assert.Contains("not a tar file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TFRecord_made_from_the_spec_is_read_record_by_record()
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "golden.tfrecord");
        var expected = Golden().GetProperty("records").EnumerateArray().Select(e => e.GetString()!.ToUpperInvariant()).ToArray();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, path, new LustreDatasetOptions { Shuffle = DatasetShuffle.None });
        var samples = await ReadAllAsync(dataset);

        Assert.Equal(expected, samples.Select(s => s.Hex["record"]));
        Assert.Equal(["0", "1", "2", "3"], samples.Select(s => s.Key));
    }

    [Fact]
    public async Task TFRecord_with_a_corrupt_data_CRC_is_reported_with_file_and_record_offset()
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "corrupt-data.tfrecord");
        var offset = Golden().GetProperty("corruptRecordOffset").GetInt64();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, path, new LustreDatasetOptions { Shuffle = DatasetShuffle.None });

        var error = await Assert.ThrowsAsync<DatasetFormatException>(() => ReadAllAsync(dataset));
        Assert.Equal(path, error.ShardPath);
        Assert.Equal(offset, error.Offset);
        Assert.Contains($"{path}: at offset {offset}: TFRecord data CRC mismatch", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TFRecord_with_a_corrupt_length_CRC_fails_at_open_with_file_and_offset()
    {
        var dir = await fixture.NewDirectoryAsync();
        var bytes = DatasetTestData.Read("golden.tfrecord");
        bytes[16 + 9] ^= 0x01; // The length CRC of the second record.
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, "bad-length.tfrecord", bytes);

        var error = await Assert.ThrowsAsync<DatasetFormatException>(() => LustreDataset.OpenAsync(fixture.Client, path));
        Assert.Equal(16, error.Offset);
        Assert.Contains("length CRC mismatch", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tokens-u16.bin", "u16", 2, 100)]
    [InlineData("tokens-u16.bin", "u16", 2, 300)]
    [InlineData("tokens-u32.bin", "u32", 4, 64)]
    public async Task Token_bin_sequences_match_the_source_tokens(string name, string field, int width, int sequenceLength)
    {
        var dir = await fixture.NewDirectoryAsync();
        var path = await DatasetTestData.UploadAsync(fixture.Client, dir, name);
        var tokens = JsonDocument.Parse(DatasetTestData.Read("tokens.json")).RootElement.GetProperty(field).EnumerateArray().Select(e => e.GetInt64()).ToArray();
        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, path, new LustreDatasetOptions { TokenWidth = width, SequenceLength = sequenceLength, Shuffle = DatasetShuffle.Global, Seed = 9 });

        var count = 0;
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                var data = sample["tokens"].Span;
                var actual = width == 2
                    ? System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ushort>(data).ToArray().Select(t => (long)t)
                    : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(data).ToArray().Select(t => (long)t);
                Assert.Equal(tokens.Skip((int)sample.Index * sequenceLength).Take(sequenceLength), actual);
                count++;
            }
        }

        Assert.Equal(tokens.Length / sequenceLength, count);
    }

    [Theory]
    [InlineData(DatasetFormat.Indexed)]
    [InlineData(DatasetFormat.WebDataset)]
    [InlineData(DatasetFormat.TfRecord)]
    public async Task Mnist_written_by_the_writer_reads_back_identically(DatasetFormat format)
    {
        var dir = await fixture.NewDirectoryAsync();
        var digits = DatasetTestData.Mnist();
        await using (var writer = await DatasetWriter.CreateAsync(fixture.Client, dir + "/mnist", new DatasetWriterOptions { Format = format, TargetShardSize = 64 << 10 }))
        {
            for (var i = 0; i < digits.Count; i++)
            {
                var (label, pixels) = digits[i];
                var key = i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
                if (format == DatasetFormat.TfRecord)
                {
                    await writer.WriteAsync(key, "record", (byte[])[label, .. pixels]);
                }
                else
                {
                    await writer.WriteAsync(key, [new DatasetField("cls", new[] { label }), new DatasetField("pixels", pixels)]);
                }
            }

            await writer.CompleteAsync();
            Assert.True(writer.Shards.Count >= 3, $"expected several shards, got {writer.Shards.Count}");
        }

        await using var dataset = await LustreDataset.OpenAsync(fixture.Client, dir + "/mnist", new LustreDatasetOptions { Seed = 1 });
        Assert.Equal(digits.Count, dataset.Count);
        var seen = new HashSet<long>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                Assert.True(seen.Add(sample.Index));
                var (label, pixels) = digits[(int)sample.Index];
                if (format == DatasetFormat.TfRecord)
                {
                    Assert.Equal([label, .. pixels], sample["record"].ToArray());
                }
                else
                {
                    Assert.Equal(sample.Index.ToString("D6", System.Globalization.CultureInfo.InvariantCulture), sample.Key);
                    Assert.Equal(label, sample["cls"].Span[0]);
                    Assert.Equal(pixels, sample["pixels"].ToArray());
                }
            }
        }

        Assert.Equal(digits.Count, seen.Count);
    }

    private static JsonElement Golden() => JsonDocument.Parse(DatasetTestData.Read("golden.tfrecord.json")).RootElement;

    private static async Task<List<Copied>> ReadAllAsync(LustreDataset dataset)
    {
        var list = new List<Copied>();
        await foreach (var sample in dataset.ReadAsync())
        {
            using (sample)
            {
                list.Add(new Copied(
                    sample.Key,
                    sample.Fields.ToDictionary(f => f.Name, f => Encoding.UTF8.GetString(f.Data.Span)),
                    sample.Fields.ToDictionary(f => f.Name, f => Convert.ToHexString(f.Data.Span))));
            }
        }

        return list;
    }

    private sealed record Copied(string Key, Dictionary<string, string> Fields, Dictionary<string, string> Hex);
}
