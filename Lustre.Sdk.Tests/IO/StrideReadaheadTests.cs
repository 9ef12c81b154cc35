using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>
/// Stride readahead (issue 22, ior-hard-read) against a real 4-OST cluster: reads of one length at a fixed step are
/// answered from batched windows with exactly the bytes of the file, and anything that breaks the pattern or changes
/// the file through the stream is read again.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class StrideReadaheadTests(ClusterFixture fixture)
{
    private const int Record = 3_001;
    private const int Step = 7_013;

    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    private async Task<(string Path, byte[] Data)> WriteAsync(int size)
    {
        var dir = await fixture.NewDirectoryAsync();
        var data = Bytes(size, size);
        await using var stream = await fixture.Client.OpenStreamAsync($"{dir}/f", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(64 << 10, -1));
        await stream.WriteAsync(data);
        return ($"{dir}/f", data);
    }

    private static async Task<byte[]> ReadAtAsync(LustreStream stream, long offset, int length)
    {
        stream.Position = offset;
        var buffer = new byte[length];
        var total = 0;
        while (total < length)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total));
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return buffer[..total];
    }

    [Fact]
    public async Task Reads_at_a_fixed_step_are_answered_from_batched_windows_with_the_files_bytes()
    {
        var (path, data) = await WriteAsync(2 << 20);
        await using var stream = await fixture.Client.OpenStreamAsync(path, FileMode.Open, FileAccess.Read);
        var records = 0;
        for (long offset = 123; offset + Record <= data.Length; offset += Step)
        {
            Assert.Equal(data.AsSpan((int)offset, Record).ToArray(), await ReadAtAsync(stream, offset, Record));
            records++;
        }

        // The first three are read alone; the third starts the windows, which then answer every record after it.
        Assert.True(records > 2 * StrideReadahead.MaxRecords);
        Assert.Equal(records - 3, stream.Strides.Hits);
        Assert.InRange(stream.Strides.Windows, 2, records / StrideReadahead.MinRecords);

        // Another step breaks the pattern: read alone again, the same bytes.
        foreach (var offset in new long[] { 50, 5_050, 10_050 })
        {
            Assert.Equal(data.AsSpan((int)offset, Record).ToArray(), await ReadAtAsync(stream, offset, Record));
        }

        Assert.Equal(records - 3, stream.Strides.Hits);
    }

    [Fact]
    public async Task A_write_through_the_stream_drops_the_windows_and_the_next_read_sees_it()
    {
        var (path, data) = await WriteAsync(1 << 20);
        await using var stream = await fixture.Client.OpenStreamAsync(path, FileMode.Open, FileAccess.ReadWrite);
        for (var i = 0; i < 6; i++)
        {
            await ReadAtAsync(stream, i * Step, Record);
        }

        Assert.True(stream.Strides.Hits > 0);
        var written = Bytes(Record, 7);
        stream.Position = 6 * Step;
        await stream.WriteAsync(written);

        Assert.Equal(written, await ReadAtAsync(stream, 6 * Step, Record));
        Assert.Equal(data.AsSpan(7 * Step, Record).ToArray(), await ReadAtAsync(stream, 7 * Step, Record));
    }

    [Fact]
    public async Task A_record_a_window_read_past_the_end_is_read_again_once_the_file_has_grown()
    {
        var (path, data) = await WriteAsync(10 * Step);
        await using var stream = await fixture.Client.OpenStreamAsync(path, FileMode.Open, FileAccess.ReadWrite);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(data.AsSpan(i * Step, Record).ToArray(), await ReadAtAsync(stream, i * Step, Record));
        }

        // The window was read when the file ended at record 10; a positional write grows it.
        var grown = Bytes(5 * Step, 11);
        await stream.WriteAtAsync(10 * Step, grown);
        for (var i = 6; i < 15; i++)
        {
            var expected = i < 10 ? data.AsSpan(i * Step, Record) : grown.AsSpan((i - 10) * Step, Record);
            Assert.Equal(expected.ToArray(), await ReadAtAsync(stream, i * Step, Record));
        }

        // The read at 0 is the stream's sequential start, so the pattern is seen at records 1 to 3 and the window starts at
        // record 4: records 4 to 9 come from it, the grown ones are read again.
        Assert.Equal(6, stream.Strides.Hits);
        Assert.Equal(1, stream.Strides.Windows);
    }

    [Theory]
    [InlineData("0", Record, Step)]
    [InlineData("1", 200_000, 300_000)] // half of 1 MiB holds fewer than MinRecords of these
    public async Task With_readahead_off_or_too_small_for_a_window_strided_reads_are_each_read_alone(string budgetMb, int record, int step)
    {
        var (path, data) = await WriteAsync(8 << 20);
        await using var client = new LustreClient(fixture.Address);
        await client.SetParametersAsync("llite.*.max_read_ahead_per_file_mb", budgetMb);
        await using var stream = await client.OpenStreamAsync(path, FileMode.Open, FileAccess.Read);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(data.AsSpan(i * step, record).ToArray(), await ReadAtAsync(stream, i * step, record));
        }

        Assert.Equal(0, stream.Strides.Windows);
        Assert.Equal(0, stream.Strides.Hits);
    }
}
