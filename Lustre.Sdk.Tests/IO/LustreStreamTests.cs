using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>LustreStream against a real 4-OST cluster: round trips, a random-operation model, sparse files, truncation, sharing.</summary>
[Collection(ClusterCollection.Name)]
public sealed class LustreStreamTests
{
    private const long Stripe = 64 * 1024;
    private readonly ClusterFixture _fixture;

    public LustreStreamTests(ClusterFixture fixture) => _fixture = fixture;

    private LustreClient Client => _fixture.Client;

    private static byte[] Bytes(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static TheoryData<long, int> SizesAndCounts()
    {
        var data = new TheoryData<long, int>();
        foreach (var count in new[] { 1, 2, 4, -1 })
        {
            foreach (var size in new[] { 0, 1, Stripe - 1, Stripe, Stripe + 1, (10 * Stripe) + 3 })
            {
                data.Add(size, count);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(SizesAndCounts))]
    public async Task Files_round_trip_through_the_stream(long size, int stripeCount)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = Bytes((int)size, (int)size + stripeCount);
        await using (var stream = await Client.OpenStreamAsync($"{dir}/f", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(Stripe, stripeCount)))
        {
            // Odd-sized writes so chunk and stripe boundaries fall inside writes.
            for (var offset = 0; offset < data.Length; offset += 100_003)
            {
                await stream.WriteAsync(data.AsMemory(offset, Math.Min(100_003, data.Length - offset)));
            }
        }

        var info = await Client.GetInfoAsync($"{dir}/f");
        Assert.Equal(size, info.Length);
        Assert.Equal(stripeCount == -1 ? ClusterFixture.OstCount : stripeCount, info.Layout!.Components[0].Objects.Count);
        await using var read = await Client.OpenStreamAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
        var back = new MemoryStream();
        await read.CopyToAsync(back);
        Assert.Equal(data, back.ToArray());
    }

    [Fact]
    public async Task A_three_component_PFL_file_round_trips_and_uses_each_components_objects()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var layout = FileLayout.Composite([
            new LayoutComponent(0, 256 * 1024, Stripe, 1),
            new LayoutComponent(256 * 1024, 1 << 20, Stripe, 2),
            new LayoutComponent(1 << 20, LayoutComponent.Eof, Stripe, -1),
        ]);
        var data = Bytes((3 << 20) + 12345, 7);
        await using (var stream = await Client.OpenStreamAsync($"{dir}/pfl", FileMode.CreateNew, FileAccess.Write, layout))
        {
            await stream.WriteAsync(data);
        }

        var info = await Client.GetInfoAsync($"{dir}/pfl");
        Assert.Equal([1, 2, 4], info.Layout!.Components.Select(c => c.Objects.Count));
        foreach (var obj in info.Layout.Components.SelectMany(c => c.Objects))
        {
            Assert.True(File.Exists(_fixture.ObjectPath(obj)), $"object {obj} holds no data");
        }

        await using var read = await Client.OpenStreamAsync($"{dir}/pfl", FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        await read.ReadExactlyAsync(back);
        Assert.Equal(data, back);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Random_reads_writes_and_truncates_match_an_in_memory_model(bool async)
    {
        const int seed = 4711;
        var random = new Random(seed);
        var dir = await _fixture.NewDirectoryAsync();
        var model = new MemoryStream();
        await using var stream = await Client.OpenStreamAsync($"{dir}/model", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(Stripe, -1));
        for (var step = 0; step < 1500; step++)
        {
            var op = random.Next(10);
            var offset = random.NextInt64(0, 2 << 20);
            var length = random.Next(1, 300_000);
            var context = $"seed {seed}, step {step}, op {op}, offset {offset}, length {length}";
            if (op < 5)
            {
                var data = Bytes(length, step);
                stream.Position = offset;
                model.Position = offset;
                if (async)
                {
                    await stream.WriteAsync(data);
                }
                else
                {
                    stream.Write(data, 0, data.Length);
                }

                model.Write(data);
            }
            else if (op < 9)
            {
                stream.Position = offset;
                model.Position = Math.Min(offset, model.Length);
                var expected = new byte[length];
                var expectedCount = offset >= model.Length ? 0 : model.Read(expected, 0, length);
                var actual = new byte[length];
                var total = 0;
                while (total < length)
                {
                    var n = async ? await stream.ReadAsync(actual.AsMemory(total)) : stream.Read(actual, total, length - total);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                Assert.True(expectedCount == total, $"{context}: read {total} bytes, model has {expectedCount}");
                Assert.True(expected.AsSpan(0, total).SequenceEqual(actual.AsSpan(0, total)), $"{context}: bytes differ");
            }
            else
            {
                var newLength = random.NextInt64(0, 2 << 20);
                if (async)
                {
                    await stream.SetLengthAsync(newLength);
                }
                else
                {
                    stream.SetLength(newLength);
                }

                model.SetLength(newLength);
            }

            Assert.True(model.Length == stream.Length, $"{context}: length {stream.Length}, model {model.Length}");
        }

        await stream.FlushAsync();
        var info = await Client.GetInfoAsync($"{dir}/model");
        Assert.Equal(model.Length, info.Length);
    }

    [Fact]
    public async Task A_sparse_file_reads_zeros_in_its_hole()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using (var stream = await Client.OpenStreamAsync($"{dir}/sparse", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(Stripe, -1)))
        {
            stream.Position = 5 << 20;
            await stream.WriteAsync(new byte[] { 42 });
        }

        await using var read = await Client.OpenStreamAsync($"{dir}/sparse", FileMode.Open, FileAccess.Read);
        Assert.Equal((5 << 20) + 1, read.Length);
        var back = new byte[(5 << 20) + 1];
        await read.ReadExactlyAsync(back);
        Assert.True(back.AsSpan(0, 5 << 20).IndexOfAnyExcept((byte)0) < 0, "the hole is not all zeros");
        Assert.Equal(42, back[^1]);
    }

    [Fact]
    public async Task Truncate_down_then_up_reads_zeros_where_data_was_cut()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = Bytes(1 << 20, 3);
        await using var stream = await Client.OpenStreamAsync($"{dir}/t", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(Stripe, 4));
        await stream.WriteAsync(data);
        await stream.SetLengthAsync(100_000);
        Assert.Equal(100_000, stream.Length);
        await stream.SetLengthAsync(600_000);
        var back = new byte[600_000];
        stream.Position = 0;
        await stream.ReadExactlyAsync(back);
        Assert.Equal(data.AsSpan(0, 100_000).ToArray(), back.AsSpan(0, 100_000).ToArray());
        Assert.True(back.AsSpan(100_000).IndexOfAnyExcept((byte)0) < 0, "bytes past the truncation point came back");
        Assert.Equal(600_000, (await Client.GetInfoAsync($"{dir}/t")).Length);
    }

    [Fact]
    public async Task Two_clients_writing_disjoint_ranges_of_one_file_produce_the_union()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/shared";
        await (await Client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(Stripe, -1))).DisposeAsync();
        var data = Bytes(64 * (int)Stripe, 11);
        await using var second = new LustreClient(_fixture.Address);

        async Task WriteHalfAsync(LustreClient client, int parity)
        {
            await using var file = await client.OpenFileAsync(path, FileMode.Open);
            var tasks = new List<Task>();
            for (var block = parity; block < 64; block += 2)
            {
                tasks.Add(file.WriteAtAsync(block * Stripe, data.AsMemory((int)(block * Stripe), (int)Stripe)).AsTask());
            }

            await Task.WhenAll(tasks);
        }

        await Task.WhenAll(WriteHalfAsync(Client, 0), WriteHalfAsync(second, 1));
        await using var read = await Client.OpenStreamAsync(path, FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        await read.ReadExactlyAsync(back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_second_client_sees_the_data_once_the_first_closes()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = Bytes(300_000, 5);
        await using var second = new LustreClient(_fixture.Address);
        await using (var writer = await Client.OpenStreamAsync($"{dir}/c2o", FileMode.CreateNew, FileAccess.Write))
        {
            await writer.WriteAsync(data);
        }

        await using var reader = await second.OpenStreamAsync($"{dir}/c2o", FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        await reader.ReadExactlyAsync(back);
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_stat_while_a_file_is_open_for_write_glimpses_the_size_from_the_OSTs()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var other = new LustreClient(_fixture.Address);
        var file = await Client.OpenFileAsync($"{dir}/g", FileMode.CreateNew, layout: FileLayout.Raid0(Stripe, -1));
        await file.WriteAtAsync(0, Bytes((3 << 20) + 17, 1));

        // Not flushed: the MDS still records 0 bytes; the OST objects hold the data.
        var during = await other.GetInfoAsync($"{dir}/g");
        Assert.True(during.IsOpenForWrite);
        Assert.Equal((3 << 20) + 17, during.Length);

        await file.DisposeAsync();
        var after = await other.GetInfoAsync($"{dir}/g");
        Assert.False(after.IsOpenForWrite);
        Assert.Equal((3 << 20) + 17, after.Length);
    }

    [Fact]
    public async Task Append_mode_starts_at_the_end()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using (var first = await Client.OpenStreamAsync($"{dir}/log", FileMode.Append, FileAccess.Write))
        {
            await first.WriteAsync("hello "u8.ToArray());
        }

        await using (var second = await Client.OpenStreamAsync($"{dir}/log", FileMode.Append, FileAccess.Write))
        {
            Assert.Equal(6, second.Position);
            await second.WriteAsync("world"u8.ToArray());
        }

        await using var read = await Client.OpenStreamAsync($"{dir}/log", FileMode.Open, FileAccess.Read);
        using var text = new StreamReader(read);
        Assert.Equal("hello world", await text.ReadToEndAsync());
    }

    [Fact]
    public async Task Cancelling_a_read_throws_OperationCanceledException()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var stream = await Client.OpenStreamAsync($"{dir}/cancel", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(Stripe, -1));
        await stream.WriteAsync(Bytes(8 << 20, 2));
        await stream.FlushAsync();
        stream.Position = 0;
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await stream.ReadExactlyAsync(new byte[8 << 20], cts.Token));
    }

    [Fact]
    public async Task The_stream_honours_the_Stream_contract()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var stream = await Client.OpenStreamAsync($"{dir}/contract", FileMode.CreateNew, FileAccess.ReadWrite);
        Assert.True(stream.CanSeek);
        Assert.True(stream.CanRead);
        Assert.True(stream.CanWrite);
        await stream.WriteAsync(Bytes(1000, 9));
        Assert.Equal(1000, stream.Seek(0, SeekOrigin.End));
        Assert.Equal(990, stream.Seek(-10, SeekOrigin.Current));
        Assert.Throws<IOException>(() => stream.Seek(-1, SeekOrigin.Begin));
        Assert.Equal(0, await stream.ReadAsync(new byte[10].AsMemory(0, 0)));
        stream.Position = 5000;
        Assert.Equal(0, await stream.ReadAsync(new byte[10]));

        await using var readOnly = await Client.OpenStreamAsync($"{dir}/contract", FileMode.Open, FileAccess.Read);
        Assert.False(readOnly.CanWrite);
        await Assert.ThrowsAsync<NotSupportedException>(async () => await readOnly.WriteAsync(new byte[1]));
    }

    /// <summary>
    /// A stream alone reads ahead a whole chunk (a stripe row) for a 1 MiB read. While four other streams of the process
    /// have reads in flight (here held at an <see cref="RpcGate"/>, two of them reading in order and two out of order),
    /// its 1 MiB sequential reads go straight into the caller's buffer, one RPC each, and it reads nothing ahead.
    /// </summary>
    [Fact]
    public async Task Large_sequential_reads_skip_readahead_while_four_other_streams_have_reads_in_flight()
    {
        const int Mib = 1 << 20;
        var dir = await _fixture.NewDirectoryAsync();
        var data = Bytes(24 * Mib, 61);
        await using (var writer = await Client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(Mib, stripeCount: 4)))
        {
            await writer.WriteAtAsync(0, data);
        }

        var buffer = new byte[Mib];
        for (var wait = 0; LustreStream.BusyStreams >= 4; wait++)
        {
            // Other tests' streams crowd the process too: this part needs it quiet.
            Assert.True(wait < 1000, $"{LustreStream.BusyStreams} streams with reads in flight for 10 s");
            await Task.Delay(10);
        }

        await using (var alone = RecordingClient.Create(_fixture.Address))
        {
            await using var stream = await alone.Client.OpenStreamAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
            await stream.ReadExactlyAsync(buffer);
            Assert.Equal(data[..Mib], buffer);
            Assert.True(alone.Sent(Opcode.OstRead) >= 4, $"a stream alone sent {alone.Sent(Opcode.OstRead)} OST reads for its first 1 MiB: no readahead");
        }

        var gate = new RpcGate { Opcode = Opcode.OstRead };
        await using var held = new LustreClient(_fixture.Address);
        gate.Attach(held);
        var others = new List<LustreStream>();
        var pending = new List<Task>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var other = await held.OpenStreamAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
                others.Add(other);
                if (i % 2 == 1)
                {
                    // Half of them read out of order, which goes straight to the OSTs too and counts the same.
                    other.Position = (8 + i) * Mib;
                }

                pending.Add(other.ReadExactlyAsync(new byte[Mib]).AsTask());
            }

            for (var wait = 0; LustreStream.BusyStreams < 4; wait++)
            {
                Assert.True(wait < 1000, $"only {LustreStream.BusyStreams} streams with reads in flight after 10 s");
                await Task.Delay(10);
            }

            await using var crowded = RecordingClient.Create(_fixture.Address);
            await using var stream = await crowded.Client.OpenStreamAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
            for (var i = 0; i < 8; i++)
            {
                await stream.ReadExactlyAsync(buffer);
                Assert.Equal(data[(i * Mib)..((i + 1) * Mib)], buffer);
            }

            Assert.Equal(8, crowded.Sent(Opcode.OstRead));
            Assert.Equal(8L * Mib, crowded.BulkBytes(Opcode.OstRead));
        }
        finally
        {
            gate.Open();
            await Task.WhenAll(pending);
            foreach (var other in others)
            {
                await other.DisposeAsync();
            }
        }
    }
}
