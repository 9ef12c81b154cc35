using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Mirrors;

namespace Lustre.Tests.IO;

/// <summary>
/// Data-on-MDT end to end: a layout whose first component keeps its bytes on the MDT (lfs setstripe -E 64K -L mdt -E -1
/// -c -1). Small files are written, read and truncated without an OST; bytes past the component go to the OST
/// components; a layout of the component alone stops there (EFBIG); a read-only open brings a small file's bytes with it.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DataOnMdtTests
{
    private const int Dom = 64 << 10;

    private readonly ClusterFixture _fixture;

    public DataOnMdtTests(ClusterFixture fixture) => _fixture = fixture;

    /// <summary>-E 64K -L mdt -E -1 -c -1.</summary>
    private static FileLayout DomThenAllOsts(long dom = Dom) =>
        FileLayout.Composite([LayoutComponent.DataOnMdt(dom), new LayoutComponent(dom, LayoutComponent.Eof, 64 << 10, -1)]);

    /// <summary>-E 64K -L mdt.</summary>
    private static FileLayout DomOnly(long dom = Dom) => FileLayout.Composite([LayoutComponent.DataOnMdt(dom)]);

    private static byte[] Random(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Theory]
    [InlineData(Dom - 1)]
    [InlineData(Dom)]
    [InlineData(Dom + 1)]
    [InlineData((3 * Dom) + 12345)]
    public async Task Bytes_round_trip_at_and_around_the_component_end_and_only_those_past_it_reach_an_OST(int length)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var data = Random(length, length);
        await using var recording = RecordingClient.Create(_fixture.Address);

        await using (var file = await recording.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts()))
        {
            Assert.True(file.Layout.Components[0].IsOnMdt);
            Assert.True(file.Layout.Components[0].IsInstantiated);
            await file.WriteAtAsync(0, data);
        }

        var info = await _fixture.Client.GetInfoAsync(path);
        Assert.Equal(length, info.Length);
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read))
        {
            var back = new byte[length + 10];
            Assert.Equal(length, await file.ReadAtAsync(0, back));
            Assert.Equal(data, back[..length]);
        }

        // Only the bytes past the component went to OST objects: none below it.
        var past = Math.Max(0, length - Dom);
        if (past == 0)
        {
            Assert.Equal(0, recording.Count(Opcode.OstWrite));
            Assert.Equal(0, recording.Count(Opcode.OstSync));
        }

        var onOsts = info.Layout!.Components[1].Objects.Sum(o => File.Exists(_fixture.ObjectPath(o)) ? new FileInfo(_fixture.ObjectPath(o)).Length : 0);
        Assert.Equal(past, onOsts);
    }

    [Fact]
    public async Task A_file_of_a_Data_on_MDT_component_alone_cannot_grow_past_it_and_names_the_limit()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var data = Random(Dom, 1);
        await using var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomOnly());
        await file.WriteAtAsync(0, data);

        var write = await Assert.ThrowsAsync<LustreException>(() => file.WriteAtAsync(Dom - 1, new byte[2]).AsTask());
        Assert.Equal(LustreErrno.EFBIG, write.Errno);
        Assert.Contains("65536", write.Message, StringComparison.Ordinal);
        Assert.Contains("lfs migrate", write.Message, StringComparison.Ordinal);
        var truncate = await Assert.ThrowsAsync<LustreException>(() => file.SetLengthAsync(Dom + 1));
        Assert.Equal(LustreErrno.EFBIG, truncate.Errno);

        // The MDS refuses it too, to a client that does not check.
        var set = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.Session.SetAttributesAsync(
            new SetAttrRequest(file.Fid, SetAttrMask.SizeAtLeast, Dom + 1, 0, 0, 0, 0, 0), path, CancellationToken.None));
        Assert.Equal(LustreErrno.EFBIG, set.Errno);
        await file.FlushAsync();

        var back = new byte[Dom];
        await using var reader = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        Assert.Equal(Dom, reader.Length);
        Assert.Equal(Dom, await reader.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_size_past_a_layout_whose_OST_components_stop_short_is_ENODATA_as_a_write_there()
    {
        var path = $"{await _fixture.NewDirectoryAsync()}/short";
        var layout = FileLayout.Composite([LayoutComponent.DataOnMdt(Dom), new LayoutComponent(Dom, 1 << 20, 1 << 20, 1)]);
        await using var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);

        var write = await Assert.ThrowsAsync<LustreServerException>(() => file.WriteAtAsync((1 << 20) - 1, new byte[2]).AsTask());
        var set = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.Session.SetAttributesAsync(
            new SetAttrRequest(file.Fid, SetAttrMask.SizeAtLeast, (1 << 20) + 1, 0, 0, 0, 0, 0), path, CancellationToken.None));

        Assert.Equal((LustreErrno.ENODATA, LustreErrno.ENODATA), (write.Errno, set.Errno));
        Assert.Contains("component-add", set.Message, StringComparison.Ordinal);
        Assert.Equal(0, (await _fixture.Client.GetInfoAsync(path)).Length);
    }

    [Fact]
    public async Task Truncating_cuts_the_bytes_on_the_MDT_and_extending_again_reads_zeros()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var data = Random((2 * Dom) + 5000, 2);
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts()))
        {
            await file.WriteAtAsync(0, data);
            await file.SetLengthAsync(10_000);
            await file.SetLengthAsync(data.Length);
            await file.WriteAtAsync(20_000, data.AsMemory(20_000, 100));
        }

        var expected = new byte[data.Length];
        data.AsSpan(0, 10_000).CopyTo(expected);
        data.AsSpan(20_000, 100).CopyTo(expected.AsSpan(20_000));
        await using var reader = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.Equal(expected, back);

        // Truncating to 0 through FileMode.Truncate empties the MDT's bytes as well.
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.Truncate))
        {
            await file.WriteAtAsync(Dom - 3, new byte[] { 7, 8, 9 });
        }

        await using var again = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var tail = new byte[Dom];
        Assert.Equal(Dom, await again.ReadAtAsync(0, tail));
        Assert.True(tail.AsSpan(0, Dom - 3).IndexOfAnyExcept((byte)0) < 0, "bytes before the new write must read as zeros after the truncate");
        Assert.Equal([7, 8, 9], tail[^3..]);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Overwrites_appends_and_writes_past_a_hole_keep_the_bytes_around_them_as_a_model_does(int seed)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var random = new Random(seed);
        var model = new byte[2 * Dom];
        var size = 0;
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts()))
        {
            for (var i = 0; i < 40; i++)
            {
                // From offset 0 (shorter or longer than what the chunk holds), inside, at the end, or past it.
                var offset = random.Next(4) switch
                {
                    0 => 0,
                    1 => random.Next(Math.Max(size, 1)),
                    2 => size,
                    _ => Math.Min(size + random.Next(1, 5000), model.Length - 1),
                };
                var length = random.Next(1, Math.Min(9000, model.Length - offset) + 1);
                var data = Random(length, (seed * 1000) + i);
                await file.WriteAtAsync(offset, data);
                data.CopyTo(model, offset);
                size = Math.Max(size, offset + length);
            }
        }

        await using var reader = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var back = new byte[size];
        Assert.Equal(size, await reader.ReadAtAsync(0, back));
        Assert.True(model.AsSpan(0, size).SequenceEqual(back), $"seed {seed}: the file's bytes differ from the model's");
    }

    [Fact]
    public async Task Opening_and_reading_a_small_file_takes_one_MDS_round_trip_and_no_OST_request()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/small";
        var data = Random(3901, 3);
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts()))
        {
            await file.WriteAtAsync(0, data);
        }

        await using var recording = RecordingClient.Create(_fixture.Address);
        await recording.Client.GetInfoAsync("/"); // connects: the configuration and the persistent parameters, once
        var calls = new ConcurrentQueue<string>();
        var target = _fixture.Cluster.Endpoint.ToString();
        using var listener = ListenToRpcs(target, calls);

        var back = new byte[8192];
        int read;
        await using var reader = await recording.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        read = await reader.ReadAtAsync(0, back);
        listener.Dispose();
        Assert.Equal(data.Length, read);
        Assert.Equal(data, back[..read]);
        // The cluster's own housekeeping shares the endpoint and the meter and may fall inside the window: the MDS asks
        // the OSTs for their free space, and clients refresh the configuration, every few seconds.
        Assert.Equal(["MdsOpen"], calls.Where(op => op is not ("OstStatFs" or "MgsGetConfig")));
        Assert.Equal(0, recording.Count(Opcode.OstRead) + recording.Count(Opcode.OstReadBatch) + recording.Count(Opcode.OstGetAttr));

        // The open's bytes answer one read: a later one asks the MDT and sees what another client wrote since.
        await using (var writer = await _fixture.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Write))
        {
            await writer.WriteAtAsync(0, new byte[] { 1, 2, 3 });
        }

        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back.AsMemory(0, data.Length)));
        Assert.Equal([1, 2, 3, .. data[3..]], back[..data.Length]);

        // The open's bytes sit in a pooled array larger than the file: a handle closed unread gives it back, and the
        // next handle's first read, of the file's tail, gets exactly the file's bytes out of whichever array it has.
        await (await recording.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read)).DisposeAsync();
        await using var again = await recording.Client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        Array.Fill(back, (byte)0xEE);
        Assert.Equal(901, await again.ReadAtAsync(3000, back));
        Assert.Equal(data[3000..], back[..901]);
        Assert.Equal(1, recording.Count(Opcode.MdsDomRead)); // the first handle's second read; the tail came with the open
    }

    /// <summary>
    /// Many reads of fresh handles at once, each handle disposed while its reads may still run, and other opens renting
    /// and returning pooled arrays meanwhile: every read that succeeds has exactly the file's bytes (the read-on-open
    /// array is never read after it went back to the pool), and the others fail as reads of a closed handle. A race
    /// test: it catches a read of a returned array when the timing lets it, not on every run.
    /// </summary>
    [Fact]
    public async Task Reads_racing_each_other_and_the_dispose_of_a_read_on_open_handle_get_the_files_bytes_or_a_closed_handle()
    {
        var dir = await _fixture.NewDirectoryAsync();
        byte[][] data = [Random(3901, 41), Random(3901, 42)];
        for (var f = 0; f < data.Length; f++)
        {
            await _fixture.Client.CreateFileAsync($"{dir}/f{f}", data[f], DomThenAllOsts());
        }

        const int Rounds = 60;
        var good = 0;
        var closed = 0;
        for (var round = 0; round < Rounds; round++)
        {
            var f = round % 2;
            var file = await _fixture.Client.OpenFileAsync($"{dir}/f{f}", FileMode.Open, FileAccess.Read);
            var reads = Enumerable.Range(0, 8).Select(r => Task.Run(async () =>
            {
                var buffer = new byte[4096];
                Array.Fill(buffer, (byte)0xEE);
                try
                {
                    var offset = r % 2 == 0 ? 0 : 1000;
                    var read = await file.ReadAtAsync(offset, buffer);
                    Assert.Equal(data[f].Length - offset, read);
                    Assert.Equal(data[f][offset..], buffer[..read]);
                    Interlocked.Increment(ref good);
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref closed);
                }
            })).ToList();

            // Another file's handles rent and return pooled arrays of the same size while this one's reads run.
            var other = Task.Run(async () =>
            {
                for (var i = 0; i < 4; i++)
                {
                    await using var churn = await _fixture.Client.OpenFileAsync($"{dir}/f{1 - f}", FileMode.Open, FileAccess.Read);
                }
            });
            await Task.Yield();
            await file.DisposeAsync();

            // A rent right after the dispose, on its thread, gets the array the dispose gave back, if any: scribbled
            // on, it would show in a read still copying out of it.
            var trap = ArrayPool<byte>.Shared.Rent(data[f].Length);
            trap.AsSpan().Fill(0xEE);
            await Task.WhenAll([.. reads, other]);
            ArrayPool<byte>.Shared.Return(trap);
        }

        Assert.Equal(Rounds * 8, good + closed);
        Assert.True(good > 0, "no read finished before its handle was closed");
    }

    [Fact]
    public async Task A_file_opened_for_writing_reads_its_bytes_on_the_MDT_without_an_OST_and_a_stat_needs_no_glimpse()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/rw";
        var data = Random(50_000, 4);
        await using var recording = RecordingClient.Create(_fixture.Address);
        await using var file = await recording.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts());
        await file.WriteAtAsync(0, data);

        // Another client sees the size while the writer has the file open: the MDS recorded it with the write.
        var info = await _fixture.Client.GetInfoAsync(path);
        Assert.True(info.IsOpenForWrite);
        Assert.Equal(data.Length, info.Length);

        var back = new byte[data.Length];
        Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
        Assert.Equal(data, back);
        await file.FlushAsync();
        Assert.Equal(0, recording.Count(Opcode.OstRead) + recording.Count(Opcode.OstWrite) + recording.Count(Opcode.OstSync) + recording.Count(Opcode.OstGetAttr));
    }

    [Fact]
    public async Task Streams_and_batched_reads_go_through_the_MDT_for_the_first_component()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = Random((5 * Dom) / 2, 5);
        await using (var stream = await _fixture.Client.OpenStreamAsync($"{dir}/s", FileMode.CreateNew, FileAccess.Write, DomThenAllOsts()))
        {
            for (var at = 0; at < data.Length; at += 1000)
            {
                await stream.WriteAsync(data.AsMemory(at, Math.Min(1000, data.Length - at)));
            }
        }

        await using (var stream = await _fixture.Client.OpenStreamAsync($"{dir}/s", FileMode.Open, FileAccess.Read))
        {
            var back = new byte[data.Length];
            await stream.ReadExactlyAsync(back);
            Assert.Equal(data, back);
        }

        var small = Random(1000, 6);
        await using (var file = await _fixture.Client.OpenFileAsync($"{dir}/t", FileMode.CreateNew, layout: DomOnly()))
        {
            await file.WriteAtAsync(0, small);
        }

        var files = await _fixture.Client.OpenFilesAsync([$"{dir}/s", $"{dir}/t"]);
        var first = new byte[Dom + 100];
        var second = new byte[2000];
        var counts = await _fixture.Client.ReadBatchAsync([new(files[0], Dom - 50, first), new(files[1], 0, second)]);
        Assert.Equal([first.Length, small.Length], counts);
        Assert.Equal(data.AsSpan(Dom - 50, first.Length).ToArray(), first);
        Assert.Equal(small, second[..small.Length]);
    }

    [Fact]
    public async Task A_directory_default_with_a_Data_on_MDT_component_is_inherited_by_new_files_and_subdirectories()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await _fixture.Client.SetDirectoryLayoutAsync(dir, DomThenAllOsts());
        await _fixture.Client.CreateDirectoryAsync($"{dir}/sub");
        var info = await _fixture.Client.CreateFileAsync($"{dir}/sub/f");

        var first = info.Layout!.Components[0];
        Assert.True(first.IsOnMdt);
        Assert.Equal((0L, (long)Dom, 0, 0), (first.Start, first.End, first.StripeCount, first.StripeOffset));
        Assert.False(info.Layout.Components[1].IsInstantiated); // until a write reaches it, as Lustre's lazy components
        await using (var file = await _fixture.Client.OpenFileAsync($"{dir}/sub/f"))
        {
            await file.WriteAtAsync(Dom, new byte[10]);
        }

        Assert.Equal(ClusterFixture.OstCount, (await _fixture.Client.GetInfoAsync($"{dir}/sub/f")).Layout!.Components[1].Objects.Count);
        Assert.False((await _fixture.Client.GetInfoAsync(dir)).DefaultLayout!.Components[0].IsInstantiated);
    }

    [Fact]
    public async Task A_component_over_the_MDS_limit_is_refused_with_EFBIG_until_the_limit_is_raised()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var ns = _fixture.Cluster.Node.Namespace!;
        Assert.Equal(1L << 20, ns.DataOnMdtLimit);

        var create = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.CreateFileAsync($"{dir}/big", DomOnly(2 << 20)));
        Assert.Equal(LustreErrno.EFBIG, create.Errno);
        Assert.Contains("1048576", create.Message, StringComparison.Ordinal);
        var directory = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.SetDirectoryLayoutAsync(dir, DomThenAllOsts(2 << 20)));
        Assert.Equal(LustreErrno.EFBIG, directory.Errno);
        Assert.False(await _fixture.Client.ExistsAsync($"{dir}/big"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ns.DataOnMdtLimit = 100_000);

        ns.DataOnMdtLimit = 2 << 20;
        try
        {
            var made = await _fixture.Client.CreateFileAsync($"{dir}/big", DomOnly(2 << 20));
            Assert.Equal(2 << 20, made.Layout!.Components[0].End);
        }
        finally
        {
            ns.DataOnMdtLimit = LayoutDefaults.DefaultDataOnMdtLimit;
        }
    }

    [Fact]
    public async Task Unlinking_or_replacing_a_file_drops_its_bytes_from_the_MDT()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = Random((3 * Dom) / 2, 7);
        var fids = new LustreFid[2];
        for (var i = 0; i < 2; i++)
        {
            await using var file = await _fixture.Client.OpenFileAsync($"{dir}/f{i}", FileMode.CreateNew, layout: DomOnly(2 * Dom));
            await file.WriteAtAsync(0, data);
            fids[i] = file.Fid;
        }

        Assert.Equal(2, _fixture.DataOnMdtChunks(fids[0]));
        await _fixture.Client.DeleteFileAsync($"{dir}/f0");
        Assert.Equal(0, _fixture.DataOnMdtChunks(fids[0]));
        await _fixture.Client.CreateFileAsync($"{dir}/g");
        await _fixture.Client.RenameAsync($"{dir}/g", $"{dir}/f1");
        Assert.Equal(0, _fixture.DataOnMdtChunks(fids[1]));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3901)]
    [InlineData(Dom)]
    public async Task Creating_a_small_file_with_its_data_is_one_MDS_request_and_no_OST_request(int length)
    {
        var dir = await _fixture.NewDirectoryAsync();
        await _fixture.Client.SetDirectoryLayoutAsync(dir, DomThenAllOsts());
        var path = $"{dir}/f";
        var data = Random(length, length);
        await using var recording = RecordingClient.Create(_fixture.Address);

        // A new client's first request may be a create with data: it connects first, as any metadata call does.
        await using (var fresh = new LustreClient(_fixture.Address))
        {
            Assert.Equal(1, (await fresh.CreateFileAsync($"{dir}/first", new byte[] { 42 })).Length);
        }

        await recording.Client.GetInfoAsync("/"); // connects: the configuration and the persistent parameters, once
        var calls = new ConcurrentQueue<string>();
        using (ListenToRpcs(_fixture.Cluster.Endpoint.ToString(), calls))
        {
            var created = await recording.Client.CreateFileAsync(path, data);
            Assert.Equal(length, created.Length);
            Assert.True(created.Layout!.Components[0].IsOnMdt);
        }

        Assert.Equal(["MdsOpen"], calls.Where(op => op is not ("OstStatFs" or "MgsGetConfig")));
        Assert.Equal(0, recording.Count(Opcode.OstWrite) + recording.Count(Opcode.OstSync));

        var info = await _fixture.Client.GetInfoAsync(path);
        Assert.Equal(length, info.Length);
        Assert.False(info.IsOpenForWrite);
        Assert.Equal(data, await MirrorFiles.ReadAsync(_fixture.Client, path));
    }

    [Theory]
    [InlineData(Dom + 1, true)]
    [InlineData(5000, false)]
    [InlineData((2 << 20) + 7, true)]
    public async Task Data_that_does_not_fit_a_Data_on_MDT_component_is_created_and_written_the_usual_way(int length, bool dataOnMdt)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var data = Random(length, length);

        var created = await _fixture.Client.CreateFileAsync(path, data, dataOnMdt ? DomThenAllOsts() : FileLayout.Raid0(65536, 2));

        Assert.Equal(length, created.Length);
        Assert.Equal(dataOnMdt, created.Layout!.Components[0].IsOnMdt);
        Assert.False(created.IsOpenForWrite);
        Assert.Equal(data, await MirrorFiles.ReadAsync(_fixture.Client, path));
    }

    [Fact]
    public async Task A_create_with_data_of_a_name_that_exists_is_EEXIST_and_leaves_the_file_as_it_was()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await _fixture.Client.SetDirectoryLayoutAsync(dir, DomThenAllOsts());
        var path = $"{dir}/f";
        var first = Random(2000, 1);
        await _fixture.Client.CreateFileAsync(path, first);

        var ex = await Assert.ThrowsAnyAsync<IOException>(() => _fixture.Client.CreateFileAsync(path, Random(3000, 2)));
        Assert.Equal(LustreErrno.EEXIST, Assert.IsAssignableFrom<LustreException>(ex).Errno);
        Assert.Equal(first, await MirrorFiles.ReadAsync(_fixture.Client, path));
        Assert.Equal(first.Length, (await _fixture.Client.GetInfoAsync(path)).Length);
    }

    [Fact]
    public async Task An_open_with_data_that_is_not_an_exclusive_create_or_does_not_fit_is_refused_and_creates_nothing()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await _fixture.Client.SetDirectoryLayoutAsync(dir, DomOnly());
        await using var rpc = _fixture.RawMdsClient();

        async Task<LustreErrno> OpenWithDataAsync(string path, OpenFlags flags, byte[] data, FileLayout? layout = null)
        {
            using var frame = FrameBuffer.Rent();
            new OpenRequest(path, flags, 0x1A4, layout is null ? [] : LayoutCodec.Encode(layout)).Write(frame.Body);
            using var reply = await rpc.CallAsync(Opcode.MdsOpen, frame, data, default, CancellationToken.None);
            return (LustreErrno)reply.Status;
        }

        Assert.Equal(LustreErrno.EINVAL, await OpenWithDataAsync($"{dir}/a", OpenFlags.Create, [1, 2, 3]));
        Assert.Equal(LustreErrno.EINVAL, await OpenWithDataAsync($"{dir}/b", OpenFlags.Create | OpenFlags.Exclusive | OpenFlags.Write, [1, 2, 3]));
        Assert.Equal(LustreErrno.EFBIG, await OpenWithDataAsync($"{dir}/c", OpenFlags.Create | OpenFlags.Exclusive, new byte[Dom + 1]));
        Assert.Equal(LustreErrno.EFBIG, await OpenWithDataAsync($"{dir}/d", OpenFlags.Create | OpenFlags.Exclusive, [1], FileLayout.Raid0(65536, 1)));
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            Assert.False(await _fixture.Client.ExistsAsync($"{dir}/{name}"), name);
        }

        Assert.Equal((LustreErrno)0, await OpenWithDataAsync($"{dir}/e", OpenFlags.Create | OpenFlags.Exclusive, [7, 8, 9]));
        Assert.Equal([7, 8, 9], await MirrorFiles.ReadAsync(_fixture.Client, $"{dir}/e"));
    }

    [Fact]
    public async Task Hostile_Data_on_MDT_requests_are_refused_and_change_nothing()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = $"{dir}/f";
        var data = Random(1000, 8);
        LustreFid fid;
        await using (var file = await _fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: DomThenAllOsts()))
        {
            await file.WriteAtAsync(0, data);
            fid = file.Fid;
        }

        var plain = await _fixture.Client.CreateFileAsync($"{dir}/plain", FileLayout.Raid0(65536, 1));
        var folder = await _fixture.Client.GetInfoAsync(dir);
        await using var rpc = _fixture.RawMdsClient();

        Assert.Equal(LustreErrno.EINVAL, await ReadStatusAsync(rpc, new DomReadRequest(fid, -1, 10)));
        Assert.Equal(LustreErrno.EINVAL, await ReadStatusAsync(rpc, new DomReadRequest(fid, 0, -1)));
        Assert.Equal(LustreErrno.EINVAL, await ReadStatusAsync(rpc, new DomReadRequest(fid, 0, int.MaxValue)));
        Assert.Equal(LustreErrno.ESTALE, await ReadStatusAsync(rpc, new DomReadRequest(plain.Fid, 0, 10)));
        Assert.Equal(LustreErrno.EISDIR, await ReadStatusAsync(rpc, new DomReadRequest(folder.Fid, 0, 10)));
        Assert.Equal(LustreErrno.ESTALE, await ReadStatusAsync(rpc, new DomReadRequest(new LustreFid(0x200000400, 999_999, 0), 0, 10)));

        Assert.Equal(LustreErrno.EFBIG, await WriteStatusAsync(rpc, new DomWriteRequest(fid, long.MaxValue), [1]));
        Assert.Equal(LustreErrno.EINVAL, await WriteStatusAsync(rpc, new DomWriteRequest(fid, -5), [1]));
        Assert.Equal(LustreErrno.EFBIG, await WriteStatusAsync(rpc, new DomWriteRequest(fid, Dom - 1), [1, 2]));
        Assert.Equal(LustreErrno.ESTALE, await WriteStatusAsync(rpc, new DomWriteRequest(plain.Fid, 0), [1]));
        Assert.Equal(LustreErrno.EISDIR, await WriteStatusAsync(rpc, new DomWriteRequest(folder.Fid, 0), [1]));

        // A read past the end is short, not an error; the file is as it was.
        using (var frame = FrameBuffer.Rent())
        {
            new DomReadRequest(fid, 900, 500).Write(frame.Body);
            var bulk = new byte[500];
            using var reply = await rpc.CallAsync(Opcode.MdsDomRead, frame, default, bulk, CancellationToken.None);
            Assert.Equal(0, reply.Status);
            Assert.Equal(100, reply.BulkLength);
            Assert.Equal(data[900..], bulk[..100]);
        }

        Assert.Equal(data.Length, (await _fixture.Client.GetInfoAsync(path)).Length);
    }

    [Fact]
    public async Task A_batched_read_of_many_files_on_the_MDT_goes_in_batches_and_a_refused_batch_is_read_file_by_file()
    {
        var dir = await _fixture.NewDirectoryAsync();
        int[] sizes = [1, 100, 3000, 4096, Dom - 1, Dom, Dom + 5000, 777, 12345, 60000];
        var data = new byte[sizes.Length][];
        var files = new LustreFile[sizes.Length];
        for (var i = 0; i < sizes.Length; i++)
        {
            data[i] = Random(sizes[i], 300 + i);
            await _fixture.Client.CreateFileAsync($"{dir}/f{i}", data[i], DomThenAllOsts());

            // Opened for writing: such an open brings no bytes (read-on-open is for read-only opens), so every read asks the MDT.
            files[i] = await _fixture.Client.OpenFileAsync($"{dir}/f{i}", FileMode.Open, FileAccess.ReadWrite);
        }

        try
        {
            // Whole files in reverse order, then overlapping and out-of-order parts of some, one past a file's end.
            var requests = new List<LustreReadRequest>();
            for (var i = sizes.Length - 1; i >= 0; i--)
            {
                requests.Add(new LustreReadRequest(files[i], 0, new byte[sizes[i]]));
            }

            requests.Add(new LustreReadRequest(files[5], 1000, new byte[2000]));
            requests.Add(new LustreReadRequest(files[5], 500, new byte[1000]));
            requests.Add(new LustreReadRequest(files[6], Dom - 10, new byte[20])); // across the MDT component's end
            requests.Add(new LustreReadRequest(files[2], 2990, new byte[50])); // 10 bytes, then the file's end

            var calls = new ConcurrentQueue<string>();
            int[] counts;
            using (ListenToRpcs(_fixture.Cluster.Endpoint.ToString(), calls))
            {
                counts = await _fixture.Client.ReadBatchAsync(requests);
            }

            for (var r = 0; r < requests.Count; r++)
            {
                var (file, offset, destination) = requests[r];
                var i = Array.IndexOf(files, file);
                var expected = data[i].AsSpan((int)offset, Math.Min(destination.Length, sizes[i] - (int)offset)).ToArray();
                Assert.Equal(expected.Length, counts[r]);
                Assert.Equal(expected, destination[..counts[r]].ToArray());
            }

            Assert.Contains("MdsDomReadBatch", calls);
            Assert.DoesNotContain("MdsDomRead", calls);

            // One file of the batch removed: the batch is refused, its files are read one by one, and the error is that
            // file's own read's, naming it.
            await _fixture.Client.DeleteFileAsync($"{dir}/f3");
            calls.Clear();
            using (ListenToRpcs(_fixture.Cluster.Endpoint.ToString(), calls))
            {
                var error = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.ReadBatchAsync([.. requests.Take(sizes.Length)]));
                Assert.Equal(LustreErrno.ESTALE, error.Errno);
                Assert.Contains($"{dir}/f3", error.Message, StringComparison.Ordinal);
            }

            Assert.Contains("MdsDomReadBatch", calls);
            Assert.Contains("MdsDomRead", calls);
        }
        finally
        {
            foreach (var file in files)
            {
                await file.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_client_of_an_MDS_without_batched_reads_reads_each_file_on_the_MDT_alone_from_then_on()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var older = RecordingClient.Create(_fixture.Address, refuseBatches: true);
        var data = new byte[5][];
        var files = new LustreFile[data.Length];
        for (var i = 0; i < data.Length; i++)
        {
            data[i] = Random(1000 * (i + 1), 400 + i);
            await _fixture.Client.CreateFileAsync($"{dir}/f{i}", data[i], DomThenAllOsts());
            files[i] = await older.Client.OpenFileAsync($"{dir}/f{i}", FileMode.Open, FileAccess.ReadWrite);
        }

        try
        {
            for (var round = 1; round <= 2; round++)
            {
                var destinations = data.Select(d => new byte[d.Length]).ToArray();
                var counts = await older.Client.ReadBatchAsync([.. files.Select((f, i) => new LustreReadRequest(f, 0, destinations[i]))]);
                Assert.Equal(data.Select(d => d.Length), counts);
                for (var i = 0; i < data.Length; i++)
                {
                    Assert.Equal(data[i], destinations[i]);
                }

                // Refused once (ENOSYS, as an MDS that does not know the opcode answers); never asked again.
                Assert.Equal(1, older.Count(Opcode.MdsDomReadBatch));
                Assert.Equal(data.Length * round, older.Count(Opcode.MdsDomRead));
            }
        }
        finally
        {
            foreach (var file in files)
            {
                await file.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_batched_read_on_the_MDT_refuses_bad_ranges_and_files_without_a_component_naming_them()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var dom = await _fixture.Client.CreateFileAsync($"{dir}/dom", Random(5000, 7), DomThenAllOsts());
        var plain = await _fixture.Client.CreateFileAsync($"{dir}/plain", FileLayout.Raid0(65536, 1));
        await using var rpc = _fixture.RawMdsClient();

        Assert.Equal(LustreErrno.EINVAL, (await BatchStatusAsync(rpc, [new(dom.Fid, 0, 10), new(dom.Fid, -1, 10)])).Status);
        Assert.Equal(LustreErrno.EINVAL, (await BatchStatusAsync(rpc, [new(dom.Fid, 0, -5)])).Status);
        var (status, message) = await BatchStatusAsync(rpc, [.. Enumerable.Repeat(new DomReadRequest(dom.Fid, 0, 1 << 20), 20)]);
        Assert.Equal(LustreErrno.EINVAL, status);
        Assert.Contains("at most", message, StringComparison.Ordinal);
        (status, message) = await BatchStatusAsync(rpc, [new(dom.Fid, 0, 10), new(plain.Fid, 0, 10)]);
        Assert.Equal(LustreErrno.ESTALE, status);
        Assert.Contains(plain.Fid.ToString(), message, StringComparison.Ordinal);

        // More ranges than a request may carry: refused as malformed before anything is read.
        using (var frame = FrameBuffer.Rent())
        {
            new DomReadBatchRequest([.. Enumerable.Repeat(new DomReadRequest(dom.Fid, 0, 1), DomReadBatchRequest.MaxRanges + 1)]).Write(frame.Body);
            using var reply = await rpc.CallAsync(Opcode.MdsDomReadBatch, frame, default, new byte[64], CancellationToken.None);
            Assert.NotEqual(0, reply.Status);
            Assert.Contains("ranges", reply.ErrorMessage, StringComparison.Ordinal);
        }

        Assert.Equal(5000, (await _fixture.Client.GetInfoAsync($"{dir}/dom")).Length);
    }

    private static async Task<(LustreErrno Status, string Message)> BatchStatusAsync(Rpc.ServerCaller rpc, DomReadRequest[] ranges)
    {
        using var frame = FrameBuffer.Rent();
        new DomReadBatchRequest(ranges).Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsDomReadBatch, frame, default, new byte[64], CancellationToken.None);
        return ((LustreErrno)reply.Status, reply.ErrorMessage);
    }

    private static async Task<LustreErrno> ReadStatusAsync(Rpc.ServerCaller rpc, DomReadRequest request)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsDomRead, frame, default, new byte[64], CancellationToken.None);
        return (LustreErrno)reply.Status;
    }

    private static async Task<LustreErrno> WriteStatusAsync(Rpc.ServerCaller rpc, DomWriteRequest request, byte[] data)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsDomWrite, frame, data, default, CancellationToken.None);
        return (LustreErrno)reply.Status;
    }

    /// <summary>Counts this cluster's RPCs by operation (other test classes run other clusters at the same time).</summary>
    private static MeterListener ListenToRpcs(string target, ConcurrentQueue<string> calls)
    {
        var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "lustre.client.rpc.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            string? op = null;
            var ours = false;
            foreach (var tag in tags)
            {
                op = tag.Key == "lustre.operation" ? tag.Value as string : op;
                ours |= tag.Key == "lustre.target" && (tag.Value as string) == target;
            }

            if (ours && op is not null)
            {
                calls.Enqueue(op);
            }
        });
        listener.Start();
        return listener;
    }
}
