using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Diagnostics;
using Lustre.Tests.Rpc;
using Xunit.Abstractions;

namespace Lustre.Tests.Namespace;

/// <summary>
/// Batched metadata (issue 22): readdir-plus (<see cref="LustreClient.EnumerateFileInfosAsync"/>) and the batched
/// getattr and open (<see cref="LustreClient.GetInfoAsync(IEnumerable{string}, CancellationToken)"/>,
/// <see cref="LustreClient.OpenFilesAsync"/>) against a real cluster: the same answers as one request per entry, in far
/// fewer requests, with paging that holds across concurrent inserts and deletes.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ReadDirPlusTests(ClusterFixture fixture, ITestOutputHelper output)
{
    private LustreClient Client => fixture.Client;

    private string Target => fixture.Cluster.Endpoint.ToString();

    [Fact]
    public async Task A_listing_with_attributes_equals_a_stat_of_each_entry_and_costs_one_request_per_1024_entries()
    {
        var dir = await fixture.NewDirectoryAsync();
        await CreateFilesAsync(dir, Enumerable.Range(0, 1100).Select(i => "f" + i));
        await Client.CreateDirectoryAsync(dir + "/sub");
        await Client.SetDirectoryLayoutAsync(dir + "/sub", FileLayout.Raid0(65536, 2));
        await using (var data = await Client.OpenFileAsync(dir + "/data", FileMode.CreateNew, layout: FileLayout.Raid0(65536, 2)))
        {
            await data.WriteAtAsync(0, new byte[150_000]);
        }

        // Another client writes without flushing: the MDS still says 0 bytes, the OSTs hold 7000.
        await using var writer = new LustreClient(fixture.Address);
        await using var growing = await writer.OpenFileAsync(dir + "/growing", FileMode.CreateNew);
        await growing.WriteAtAsync(0, new byte[7000]);

        using var recorder = new TelemetryRecorder();
        var listed = new List<LustreFileInfo>();
        await foreach (var info in Client.EnumerateFileInfosAsync(dir))
        {
            listed.Add(info);
        }

        Assert.Equal(2, recorder.Rpcs(Target, "MdsReadDirPlus"));
        Assert.Equal(0, recorder.Rpcs(Target, "MdsGetAttr"));
        Assert.Equal(0, recorder.Rpcs(Target, "MdsReadDir"));

        var expected = Enumerable.Range(0, 1100).Select(i => "f" + i).Concat(["sub", "data", "growing"]).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, listed.Select(i => i.Name));
        foreach (var info in listed)
        {
            AssertSame(await Client.GetInfoAsync(info.Path), info);
        }

        var sub = listed.Single(i => i.Name == "sub");
        Assert.True(sub.IsDirectory);
        Assert.Equal(2, sub.DefaultLayout!.Components[0].StripeCount);
        Assert.Equal(150_000, listed.Single(i => i.Name == "data").Length);
        Assert.Equal(2, listed.Single(i => i.Name == "data").Layout!.Components[0].Objects.Count);
        var glimpsed = listed.Single(i => i.Name == "growing");
        Assert.True(glimpsed.IsOpenForWrite);
        Assert.Equal(7000, glimpsed.Length);
    }

    [Fact]
    public async Task Readdir_plus_paging_across_random_inserts_and_deletes_returns_every_untouched_entry_once_in_order()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("LUSTRE_TEST_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Environment.TickCount;
        output.WriteLine($"seed {seed} (LUSTRE_TEST_SEED={seed} repeats this run)");
        var random = new Random(seed);
        var dir = await fixture.NewDirectoryAsync();
        string NewName() => string.Create(CultureInfo.InvariantCulture, $"{(char)('a' + random.Next(26))}{random.Next(100_000):x}");

        // Sorted, so that picking the n-th is the same in every run of a seed (string hashes differ between processes).
        var present = new SortedSet<string>(StringComparer.Ordinal);
        while (present.Count < 150)
        {
            present.Add(NewName());
        }

        await CreateFilesAsync(dir, present);
        var untouched = new HashSet<string>(present, StringComparer.Ordinal);
        var mustAppear = new HashSet<string>(present, StringComparer.Ordinal);
        var mustNotAppear = new HashSet<string>(StringComparer.Ordinal);

        await using var rpc = fixture.RawMdsClient();
        var listed = new List<string>();
        var cookie = string.Empty;
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 1000, $"seed {seed}: the listing does not end");
            var page = await ReadPageAsync(rpc, new ReadDirPlusRequest(dir, cookie, random.Next(1, 9), ProtocolLimits.MaxMetadataPageBytes));
            listed.AddRange(page.Entries.Select(e => e.Name));
            if (page.End)
            {
                break;
            }

            cookie = page.Entries[^1].Name;

            // Between pages, other work on the directory: new names on both sides of the cookie, names already
            // listed and names still ahead removed, the cookie's own name among them now and then, a removed name back.
            for (var m = random.Next(4); m > 0; m--)
            {
                switch (random.Next(4))
                {
                    case 0 or 1:
                        var name = NewName();
                        if (present.Add(name))
                        {
                            await Client.CreateFileAsync($"{dir}/{name}");
                            untouched.Remove(name);
                            mustNotAppear.Remove(name);
                            if (string.CompareOrdinal(name, cookie) > 0)
                            {
                                mustAppear.Add(name);
                            }
                        }

                        break;
                    default:
                        if (present.Count == 0)
                        {
                            break;
                        }

                        var victim = random.Next(5) == 0 && present.Contains(cookie) ? cookie : present.ElementAt(random.Next(present.Count));
                        await Client.DeleteFileAsync($"{dir}/{victim}");
                        present.Remove(victim);
                        untouched.Remove(victim);
                        mustAppear.Remove(victim);
                        if (string.CompareOrdinal(victim, cookie) > 0)
                        {
                            mustNotAppear.Add(victim);
                        }

                        break;
                }
            }
        }

        // Strictly increasing: nothing twice, nothing out of order.
        for (var i = 1; i < listed.Count; i++)
        {
            Assert.True(string.CompareOrdinal(listed[i - 1], listed[i]) < 0, $"seed {seed}: '{listed[i - 1]}' then '{listed[i]}'");
        }

        Assert.Empty(untouched.Except(listed));
        Assert.Empty(mustAppear.Except(listed));
        Assert.Empty(mustNotAppear.Intersect(listed));
    }

    [Fact]
    public async Task The_client_listing_crosses_its_page_boundary_while_names_come_and_go()
    {
        var dir = await fixture.NewDirectoryAsync();
        var names = Enumerable.Range(0, 1500).Select(i => $"f{i:D4}").ToList();
        await CreateFilesAsync(dir, names);

        var listed = new List<string>();
        await foreach (var info in Client.EnumerateFileInfosAsync(dir))
        {
            listed.Add(info.Name);
            if (listed.Count == 1000)
            {
                // Still inside the first page (1,024 entries): the second is read after these changes.
                await Client.DeleteFileAsync($"{dir}/f0100");
                await Client.DeleteFileAsync($"{dir}/f1023");
                foreach (var gone in Enumerable.Range(1200, 10))
                {
                    await Client.DeleteFileAsync($"{dir}/f{gone:D4}");
                }

                await Client.CreateFileAsync($"{dir}/a-before");
                await Client.CreateFileAsync($"{dir}/f1300x");
            }
        }

        var expected = names.Where(n => n is not ("f1200" or "f1201" or "f1202" or "f1203" or "f1204" or "f1205" or "f1206" or "f1207" or "f1208" or "f1209"))
            .Append("f1300x").Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected, listed);
    }

    [Fact]
    public async Task A_page_stays_within_its_byte_budget_and_always_holds_its_first_entry()
    {
        var dir = await fixture.NewDirectoryAsync();
        var wide = WideLayout();
        var perEntry = LayoutCodec.GetEncodedLength(wide);
        var count = (3 * ProtocolLimits.MaxMetadataPageBytes / perEntry) + 5;
        output.WriteLine($"{count} directories with a {perEntry}-byte default layout");
        await MakeDirectoriesWithLayoutAsync(dir, count, wide);

        await using var rpc = fixture.RawMdsClient();
        var names = new List<string>();
        var cookie = string.Empty;
        var pages = 0;
        while (true)
        {
            using var frame = FrameBuffer.Rent();
            new ReadDirPlusRequest(dir, cookie, int.MaxValue, int.MaxValue).Write(frame.Body);
            using var reply = await rpc.CallAsync(Opcode.MdsReadDirPlus, frame, default, default, CancellationToken.None);
            Assert.Equal(0, reply.Status);
            Assert.InRange(reply.BodyLength, 1, ProtocolLimits.MaxMetadataPageBytes);
            var reader = reply.Reader;
            var page = ReadDirPlusReply.Read(ref reader);
            Assert.All(page.Entries, e => Assert.Equal(perEntry, e.Attributes.Layout.Length));
            names.AddRange(page.Entries.Select(e => e.Name));
            pages++;
            if (page.End)
            {
                break;
            }

            cookie = page.Entries[^1].Name;
        }

        // Each entry: its name (2 + 5 bytes) and attributes; a page takes as many whole entries as its budget holds.
        var perPage = (ProtocolLimits.MaxMetadataPageBytes - ReadDirPlusReply.Overhead) / (2 + 5 + InodeAttributes.MinEncodedLength + perEntry);
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"d{i:D4}"), names);
        Assert.Equal((count + perPage - 1) / perPage, pages);
        Assert.True(pages >= 4, $"{pages} pages");

        // A budget smaller than any entry still gets one entry a page, so a listing always moves on.
        var one = await ReadPageAsync(rpc, new ReadDirPlusRequest(dir, string.Empty, 1024, 1));
        Assert.Equal(["d0000"], one.Entries.Select(e => e.Name));
        Assert.False(one.End);
    }

    [Fact]
    public async Task Readdir_plus_refuses_a_zero_page_a_file_and_a_missing_directory()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateFileAsync(dir + "/file");
        await using var rpc = fixture.RawMdsClient();

        await AssertStatusAsync(rpc, new ReadDirPlusRequest(dir, string.Empty, 0, 4096), LustreErrno.EINVAL, "max entries 0");
        await AssertStatusAsync(rpc, new ReadDirPlusRequest(dir, string.Empty, 16, -1), LustreErrno.EINVAL, "max bytes -1");
        await AssertStatusAsync(rpc, new ReadDirPlusRequest(dir + "/file", string.Empty, 16, 4096), LustreErrno.ENOTDIR, "is not a directory");
        await AssertStatusAsync(rpc, new ReadDirPlusRequest(dir + "/nothing", string.Empty, 16, 4096), LustreErrno.ENOENT, "no such file");

        var missing = await Assert.ThrowsAsync<FileNotFoundException>(async () =>
        {
            await foreach (var info in Client.EnumerateFileInfosAsync(dir + "/nothing"))
            {
                Assert.Fail($"listed {info.Path}");
            }
        });
        Assert.Contains(dir + "/nothing", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batched_getattr_answers_each_path_in_order_with_its_own_error()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateFileAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/sub");
        await using var writer = new LustreClient(fixture.Address);
        await using var growing = await writer.OpenFileAsync(dir + "/growing", FileMode.CreateNew);
        await growing.WriteAtAsync(0, new byte[4321]);

        using var recorder = new TelemetryRecorder();
        var results = await Client.GetInfoAsync([dir + "/a", dir + "/missing", dir + "/sub", dir + "/a", dir + "/a/below", "/", dir + "/growing"]);

        Assert.Equal(1, recorder.Rpcs(Target, "MdsGetAttrBatch"));
        Assert.Equal(0, recorder.Rpcs(Target, "MdsGetAttr"));
        Assert.Equal([dir + "/a", dir + "/missing", dir + "/sub", dir + "/a", dir + "/a/below", "/", dir + "/growing"], results.Select(r => r.Path));
        AssertSame(await Client.GetInfoAsync(dir + "/a"), results[0].GetInfoOrThrow());
        var missing = Assert.IsType<FileNotFoundException>(results[1].Error);
        Assert.Contains(dir + "/missing", missing.Message, StringComparison.Ordinal);
        Assert.False(results[1].Succeeded);
        Assert.Throws<FileNotFoundException>(() => results[1].GetInfoOrThrow());
        AssertSame(await Client.GetInfoAsync(dir + "/sub"), results[2].Info!);
        Assert.Equal(results[0].Info!.Fid, results[3].Info!.Fid);
        Assert.Equal(LustreErrno.ENOTDIR, Assert.IsType<LustreServerException>(results[4].Error).Errno);
        Assert.Equal(LustreFid.Root, results[5].Info!.Fid);
        Assert.True(results[6].Info!.IsOpenForWrite);
        Assert.Equal(4321, results[6].Info!.Length);
    }

    [Fact]
    public async Task A_batched_getattr_of_thousands_of_paths_takes_a_request_per_1024_and_refuses_a_bad_path_before_sending()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateFileAsync(dir + "/x");
        await Client.CreateDirectoryAsync(dir + "/y");
        var paths = Enumerable.Range(0, 2500).Select(i => (i % 3) switch { 0 => dir + "/x", 1 => dir + "/y", _ => dir + "/z" + i }).ToList();

        using var recorder = new TelemetryRecorder();
        var results = await Client.GetInfoAsync(paths);

        Assert.Equal(3, recorder.Rpcs(Target, "MdsGetAttrBatch"));
        Assert.Equal(paths, results.Select(r => r.Path));
        for (var i = 0; i < paths.Count; i++)
        {
            switch (i % 3)
            {
                case 0:
                    Assert.False(results[i].Info!.IsDirectory);
                    break;
                case 1:
                    Assert.True(results[i].Info!.IsDirectory);
                    break;
                default:
                    Assert.IsType<FileNotFoundException>(results[i].Error);
                    break;
            }
        }

        var bad = await Assert.ThrowsAsync<ArgumentException>(() => Client.GetInfoAsync([dir + "/x", "relative"]));
        Assert.Equal("paths", bad.ParamName);
        Assert.Contains("path 1 ('relative')", bad.Message, StringComparison.Ordinal);
        Assert.Equal(3, recorder.Rpcs(Target, "MdsGetAttrBatch"));
        Assert.Empty(await Client.GetInfoAsync([]));
    }

    [Fact]
    public async Task A_batched_getattr_whose_answers_pass_the_byte_budget_is_answered_over_several_replies()
    {
        var dir = await fixture.NewDirectoryAsync();
        var wide = WideLayout();
        await MakeDirectoriesWithLayoutAsync(dir, 1, wide);
        // Each answer: a status and the attributes; a reply takes as many whole answers as its budget holds.
        var perReply = (ProtocolLimits.MaxMetadataPageBytes - GetAttrBatchReply.Overhead) / (4 + InodeAttributes.MinEncodedLength + LayoutCodec.GetEncodedLength(wide));
        var paths = Enumerable.Repeat(dir + "/d0000", (3 * perReply) + 1).ToList();

        using var recorder = new TelemetryRecorder();
        var results = await Client.GetInfoAsync(paths);

        Assert.Equal(4, recorder.Rpcs(Target, "MdsGetAttrBatch"));
        Assert.Equal(paths.Count, results.Count);
        Assert.All(results, r => Assert.Equal(wide.Mirrors.Count, r.Info!.DefaultLayout!.Mirrors.Count));
    }

    [Fact]
    public async Task OpenFilesAsync_opens_many_files_for_reading_in_one_request_and_fails_as_OpenFileAsync_would()
    {
        var dir = await fixture.NewDirectoryAsync();
        var paths = Enumerable.Range(0, 12).Select(i => $"{dir}/sample{i}").ToList();
        for (var i = 0; i < paths.Count; i++)
        {
            await using var file = await Client.OpenFileAsync(paths[i], FileMode.CreateNew);
            await file.WriteAtAsync(0, Sample(i));
        }

        using var recorder = new TelemetryRecorder();
        var opened = await Client.OpenFilesAsync(paths);

        Assert.Equal(1, recorder.Rpcs(Target, "MdsGetAttrBatch"));
        Assert.Equal(0, recorder.Rpcs(Target, "MdsOpen"));
        Assert.Equal(paths, opened.Select(f => f.Path));
        for (var i = 0; i < opened.Count; i++)
        {
            await using var file = opened[i];
            Assert.False(file.CanWrite);
            var bytes = new byte[file.Length];
            Assert.Equal(bytes.Length, await file.ReadAtAsync(0, bytes));
            Assert.Equal(Sample(i), bytes);
        }

        await Client.CreateDirectoryAsync(dir + "/sub");
        await Assert.ThrowsAsync<FileNotFoundException>(() => Client.OpenFilesAsync([paths[0], dir + "/missing"]));
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Client.OpenFilesAsync([dir + "/nodir/x"]));
        await Assert.ThrowsAsync<DirectoryNotFoundException>(() => Client.OpenFilesAsync([paths[0] + "/x"]));
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Client.OpenFilesAsync([dir + "/sub"]));
        Assert.Empty(await Client.OpenFilesAsync(Array.Empty<string>()));

        static byte[] Sample(int i) => Enumerable.Range(0, 1000 + (i * 37)).Select(b => (byte)(b * (i + 1))).ToArray();
    }

    [Fact]
    public async Task A_batch_with_write_or_create_flags_is_refused_whole()
    {
        var dir = await fixture.NewDirectoryAsync();
        await using var rpc = fixture.RawMdsClient();
        foreach (var flags in new[] { OpenFlags.Write, OpenFlags.Create, OpenFlags.Read | OpenFlags.Write })
        {
            using var frame = FrameBuffer.Rent();
            new GetAttrBatchRequest(flags, [dir + "/new"]).Write(frame.Body);
            using var reply = await rpc.CallAsync(Opcode.MdsGetAttrBatch, frame, default, default, CancellationToken.None);
            Assert.Equal(LustreErrno.EINVAL, (LustreErrno)reply.Status);
            Assert.Contains("only the Read flag", reply.ErrorMessage, StringComparison.Ordinal);
        }

        Assert.False(await Client.ExistsAsync(dir + "/new"));
    }

    [Fact]
    public async Task A_request_for_a_lease_with_no_paths_gets_none_and_no_answer()
    {
        await using var rpc = fixture.RawMdsClient();
        using var frame = FrameBuffer.Rent();
        new GetAttrBatchRequest(OpenFlags.None, [], Lease: true).Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsGetAttrBatch, frame, default, default, CancellationToken.None);
        Assert.Equal(0, reply.Status);
        var reader = reply.Reader;
        var read = GetAttrBatchReply.Read(ref reader);
        Assert.Empty(read.Results);
        Assert.Equal(TimeSpan.Zero, read.Lease);
    }

    [Fact]
    public async Task A_cancelled_token_stops_a_listing_and_a_batch_before_they_send_anything()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.CreateFileAsync(dir + "/a");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        using var recorder = new TelemetryRecorder();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var info in Client.EnumerateFileInfosAsync(dir, cancelled.Token))
            {
                Assert.Fail($"listed {info.Path}");
            }
        });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.GetInfoAsync([dir + "/a"], cancelled.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Client.OpenFilesAsync([dir + "/a"], cancelled.Token));

        Assert.Equal(0, recorder.Rpcs(Target, "MdsReadDirPlus"));
        Assert.Equal(0, recorder.Rpcs(Target, "MdsGetAttrBatch"));
    }

    /// <summary>Every attribute <see cref="LustreFileInfo"/> shows, compared field by field.</summary>
    private static void AssertSame(LustreFileInfo expected, LustreFileInfo actual)
    {
        Assert.Equal(expected.Path, actual.Path);
        Assert.Equal(expected.Fid, actual.Fid);
        Assert.Equal(expected.IsDirectory, actual.IsDirectory);
        Assert.Equal(expected.Length, actual.Length);
        Assert.Equal(expected.Mode, actual.Mode);
        Assert.Equal(expected.UserId, actual.UserId);
        Assert.Equal(expected.GroupId, actual.GroupId);
        Assert.Equal(expected.LinkCount, actual.LinkCount);
        Assert.Equal(expected.LastAccessTime, actual.LastAccessTime);
        Assert.Equal(expected.LastWriteTime, actual.LastWriteTime);
        Assert.Equal(expected.ChangeTime, actual.ChangeTime);
        Assert.Equal(expected.IsOpenForWrite, actual.IsOpenForWrite);
        Assert.Equal(Encoded(expected.Layout), Encoded(actual.Layout));
        Assert.Equal(Encoded(expected.DefaultLayout), Encoded(actual.DefaultLayout));

        static byte[]? Encoded(FileLayout? layout) => layout is null ? null : LayoutCodec.Encode(layout);
    }

    /// <summary>A default layout of about 8 KB: four mirrors of 64 components.</summary>
    private static FileLayout WideLayout()
    {
        var components = new List<LayoutComponent>();
        for (var i = 0; i < LayoutDefaults.MaxComponents; i++)
        {
            components.Add(new LayoutComponent(i * (1L << 20), i == LayoutDefaults.MaxComponents - 1 ? LayoutComponent.Eof : (i + 1) * (1L << 20), 1 << 20, 1));
        }

        return FileLayout.Mirrored(FileLayout.MaxMirrors, FileLayout.Composite(components));
    }

    private async Task MakeDirectoriesWithLayoutAsync(string dir, int count, FileLayout layout)
    {
        foreach (var batch in Enumerable.Range(0, count).Chunk(50))
        {
            await Task.WhenAll(batch.Select(async i =>
            {
                await Client.CreateDirectoryAsync($"{dir}/d{i:D4}");
                await Client.SetDirectoryLayoutAsync($"{dir}/d{i:D4}", layout);
            }));
        }
    }

    private async Task CreateFilesAsync(string dir, IEnumerable<string> names)
    {
        foreach (var batch in names.Chunk(100))
        {
            await Task.WhenAll(batch.Select(name => Client.CreateFileAsync($"{dir}/{name}")));
        }
    }

    private static async Task<ReadDirPlusReply> ReadPageAsync(ServerCaller rpc, ReadDirPlusRequest request)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsReadDirPlus, frame, default, default, CancellationToken.None);
        Assert.True(reply.Status == 0, $"status {(LustreErrno)reply.Status}: {reply.ErrorMessage}");
        var reader = reply.Reader;
        return ReadDirPlusReply.Read(ref reader);
    }

    private static async Task AssertStatusAsync(ServerCaller rpc, ReadDirPlusRequest request, LustreErrno errno, string problem)
    {
        using var frame = FrameBuffer.Rent();
        request.Write(frame.Body);
        using var reply = await rpc.CallAsync(Opcode.MdsReadDirPlus, frame, default, default, CancellationToken.None);
        Assert.True((LustreErrno)reply.Status == errno, $"expected {errno}, got {(LustreErrno)reply.Status}: {reply.ErrorMessage}");
        Assert.Contains(problem, reply.ErrorMessage, StringComparison.Ordinal);
    }
}
