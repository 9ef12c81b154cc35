using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Namespace;

/// <summary>Namespace and data semantics end to end: a real client against a real embedded cluster.</summary>
[Collection(ClusterCollection.Name)]
public sealed class NamespaceTests
{
    private const int StripeSize = 64 * 1024;
    private static readonly TimeSpan DestroyTimeout = TimeSpan.FromSeconds(5);
    private readonly ClusterFixture _fixture;

    public NamespaceTests(ClusterFixture fixture) => _fixture = fixture;

    private LustreClient Client => _fixture.Client;

    [Fact]
    public async Task Mkdir_then_stat_shows_a_directory_and_the_parent_counts_its_link()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var created = await Client.CreateDirectoryAsync(dir + "/sub");

        var info = await Client.GetInfoAsync(dir + "/sub");
        var parent = await Client.GetInfoAsync(dir);

        Assert.True(info.IsDirectory);
        Assert.Equal(created.Fid, info.Fid);
        Assert.Equal("sub", info.Name);
        Assert.Null(info.Layout);
        Assert.Equal(3u, parent.LinkCount);
        Assert.True(await Client.ExistsAsync(dir + "/sub"));
        Assert.False(await Client.ExistsAsync(dir + "/other"));
    }

    [Fact]
    public async Task Mkdir_of_an_existing_name_fails_with_EEXIST()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/a");

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.CreateDirectoryAsync(dir + "/a"));

        Assert.Equal(LustreErrno.EEXIST, ex.Errno);
    }

    [Fact]
    public async Task Readdir_lists_entries_in_name_order_with_their_kind()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/b-dir");
        await (await Client.OpenFileAsync(dir + "/c-file", FileMode.CreateNew)).DisposeAsync();
        await (await Client.OpenFileAsync(dir + "/a-file", FileMode.CreateNew)).DisposeAsync();

        var entries = await ListAsync(dir);

        Assert.Equal(["a-file", "b-dir", "c-file"], entries.Select(e => e.Name));
        Assert.Equal([false, true, false], entries.Select(e => e.IsDirectory));
        Assert.Equal(dir + "/b-dir", entries[1].Path);
        Assert.Equal((await Client.GetInfoAsync(dir + "/c-file")).Fid, entries[2].Fid);
    }

    [Fact]
    public async Task Readdir_of_an_empty_directory_is_empty()
    {
        var dir = await _fixture.NewDirectoryAsync();

        Assert.Empty(await ListAsync(dir));
    }

    [Fact]
    public async Task Readdir_pages_past_512_entries_and_returns_every_name_once_in_order()
    {
        var dir = await _fixture.NewDirectoryAsync();

        // Unpadded numbers, so name order ("f10" < "f2") differs from creation order; names that are prefixes of
        // others ("f1", "f10", "f100") sit on page boundaries too.
        var names = Enumerable.Range(0, 1100).Select(i => "f" + i).ToList();
        foreach (var batch in names.Chunk(100))
        {
            await Task.WhenAll(batch.Select(async name => await (await Client.OpenFileAsync(dir + "/" + name, FileMode.CreateNew)).DisposeAsync()));
        }

        var listed = (await ListAsync(dir)).Select(e => e.Name).ToList();

        var expected = names.Order(StringComparer.Ordinal).ToList();
        Assert.Equal(expected.Count, listed.Count);
        Assert.Equal(expected, listed);
    }

    [Fact]
    public async Task Create_exclusive_of_an_existing_file_fails_with_EEXIST()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await (await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew)).DisposeAsync();

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.OpenFileAsync(dir + "/f", FileMode.CreateNew));

        Assert.Equal(LustreErrno.EEXIST, ex.Errno);
        Assert.Contains(dir + "/f", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_of_a_missing_file_throws_FileNotFoundException_naming_the_path()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/missing";

        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => Client.OpenFileAsync(path, FileMode.Open));

        Assert.Equal(path, ex.FileName);
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.False(await Client.ExistsAsync(path));
    }

    [Fact]
    public async Task Stat_in_a_missing_directory_throws_FileNotFoundException_naming_the_path()
    {
        var path = "/missing-" + Guid.NewGuid().ToString("N") + "/f";

        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => Client.GetInfoAsync(path));

        Assert.Equal(path, ex.FileName);
    }

    [Fact]
    public async Task Open_of_a_directory_fails_with_EISDIR()
    {
        var dir = await _fixture.NewDirectoryAsync();

        // UnauthorizedAccessException, as FileStream throws for a directory, with the server's EISDIR inside.
        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => Client.OpenFileAsync(dir, FileMode.Open));

        Assert.Equal(LustreErrno.EISDIR, Assert.IsType<LustreServerException>(ex.InnerException).Errno);
    }

    [Fact]
    public async Task Rmdir_of_a_non_empty_directory_fails_with_ENOTEMPTY_and_keeps_it()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/d");
        await (await Client.OpenFileAsync(dir + "/d/f", FileMode.CreateNew)).DisposeAsync();

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.DeleteDirectoryAsync(dir + "/d"));

        Assert.Equal(LustreErrno.ENOTEMPTY, ex.Errno);
        Assert.True(await Client.ExistsAsync(dir + "/d/f"));
    }

    [Fact]
    public async Task Rmdir_of_an_empty_directory_removes_it_and_the_parent_link()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/d");

        await Client.DeleteDirectoryAsync(dir + "/d");

        Assert.False(await Client.ExistsAsync(dir + "/d"));
        Assert.Equal(2u, (await Client.GetInfoAsync(dir)).LinkCount);
    }

    [Fact]
    public async Task Rmdir_of_a_file_fails_with_ENOTDIR_and_keeps_it()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await (await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew)).DisposeAsync();

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.DeleteDirectoryAsync(dir + "/f"));

        Assert.Equal(LustreErrno.ENOTDIR, ex.Errno);
        Assert.True(await Client.ExistsAsync(dir + "/f"));
    }

    [Fact]
    public async Task Unlink_of_a_directory_fails_with_EISDIR_and_keeps_it()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/d");

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.DeleteFileAsync(dir + "/d"));

        Assert.Equal(LustreErrno.EISDIR, ex.Errno);
        Assert.True((await Client.GetInfoAsync(dir + "/d")).IsDirectory);
    }

    [Fact]
    public async Task Unlink_of_a_missing_file_throws_FileNotFoundException()
    {
        var dir = await _fixture.NewDirectoryAsync();

        var ex = await Assert.ThrowsAsync<FileNotFoundException>(() => Client.DeleteFileAsync(dir + "/nope"));

        Assert.Equal(dir + "/nope", ex.FileName);
    }

    [Fact]
    public async Task Rename_within_a_directory_keeps_the_fid_and_the_data()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = await WriteFileAsync(dir + "/old", 5000, seed: 1);
        var fid = (await Client.GetInfoAsync(dir + "/old")).Fid;

        await Client.RenameAsync(dir + "/old", dir + "/new");

        Assert.False(await Client.ExistsAsync(dir + "/old"));
        Assert.Equal(fid, (await Client.GetInfoAsync(dir + "/new")).Fid);
        Assert.Equal(data, await ReadFileAsync(dir + "/new"));
        Assert.Equal(["new"], (await ListAsync(dir)).Select(e => e.Name));
    }

    [Fact]
    public async Task Rename_across_directories_moves_the_entry()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/b");
        var data = await WriteFileAsync(dir + "/a/f", 70_000, seed: 2);

        await Client.RenameAsync(dir + "/a/f", dir + "/b/g");

        Assert.Empty(await ListAsync(dir + "/a"));
        Assert.Equal(["g"], (await ListAsync(dir + "/b")).Select(e => e.Name));
        Assert.Equal(data, await ReadFileAsync(dir + "/b/g"));
    }

    [Fact]
    public async Task Rename_of_a_directory_across_directories_moves_its_subtree_and_links()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/b");
        await Client.CreateDirectoryAsync(dir + "/a/sub");
        var data = await WriteFileAsync(dir + "/a/sub/f", 10, seed: 3);

        await Client.RenameAsync(dir + "/a/sub", dir + "/b/sub");

        Assert.Equal(data, await ReadFileAsync(dir + "/b/sub/f"));
        Assert.False(await Client.ExistsAsync(dir + "/a/sub"));
        Assert.Equal(2u, (await Client.GetInfoAsync(dir + "/a")).LinkCount);
        Assert.Equal(3u, (await Client.GetInfoAsync(dir + "/b")).LinkCount);
    }

    [Fact]
    public async Task Rename_over_an_existing_file_replaces_it_and_destroys_its_objects()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var source = await WriteFileAsync(dir + "/src", 3 * StripeSize, seed: 4, FileLayout.Raid0(StripeSize, 2));
        await WriteFileAsync(dir + "/dst", 5 * StripeSize, seed: 5, FileLayout.Raid0(StripeSize, 2));
        var sourceFid = (await Client.GetInfoAsync(dir + "/src")).Fid;
        var oldTargetObjects = Objects((await Client.GetInfoAsync(dir + "/dst")).Layout!);
        Assert.All(oldTargetObjects, o => Assert.True(File.Exists(_fixture.ObjectPath(o))));

        await Client.RenameAsync(dir + "/src", dir + "/dst");

        Assert.False(await Client.ExistsAsync(dir + "/src"));
        var info = await Client.GetInfoAsync(dir + "/dst");
        Assert.Equal(sourceFid, info.Fid);
        Assert.Equal(source.Length, info.Length);
        Assert.Equal(source, await ReadFileAsync(dir + "/dst"));
        Assert.Equal(["dst"], (await ListAsync(dir)).Select(e => e.Name));
        await _fixture.DestroyAndWaitAsync(oldTargetObjects, DestroyTimeout);
        Assert.All(Objects(info.Layout!), o => Assert.True(File.Exists(_fixture.ObjectPath(o)), $"the renamed file's object {o} was destroyed"));
    }

    [Fact]
    public async Task Rename_of_a_file_over_a_directory_fails_with_EISDIR()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await (await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew)).DisposeAsync();
        await Client.CreateDirectoryAsync(dir + "/d");

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.RenameAsync(dir + "/f", dir + "/d"));

        Assert.Equal(LustreErrno.EISDIR, ex.Errno);
        Assert.True(await Client.ExistsAsync(dir + "/f"));
    }

    [Fact]
    public async Task Rename_of_a_directory_into_its_own_subdirectory_fails_with_EINVAL()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/a/b");

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.RenameAsync(dir + "/a", dir + "/a/b/c"));

        Assert.Equal(LustreErrno.EINVAL, ex.Errno);
        Assert.True(await Client.ExistsAsync(dir + "/a/b"));
        Assert.False(await Client.ExistsAsync(dir + "/a/b/c"));
    }

    [Fact]
    public async Task Rename_of_a_directory_over_an_empty_directory_replaces_it()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/src");
        await (await Client.OpenFileAsync(dir + "/src/f", FileMode.CreateNew)).DisposeAsync();
        await Client.CreateDirectoryAsync(dir + "/dst");
        var sourceFid = (await Client.GetInfoAsync(dir + "/src")).Fid;

        await Client.RenameAsync(dir + "/src", dir + "/dst");

        Assert.Equal(sourceFid, (await Client.GetInfoAsync(dir + "/dst")).Fid);
        Assert.Equal(["f"], (await ListAsync(dir + "/dst")).Select(e => e.Name));
        Assert.Equal(["dst"], (await ListAsync(dir)).Select(e => e.Name));
        Assert.Equal(3u, (await Client.GetInfoAsync(dir)).LinkCount);
    }

    [Fact]
    public async Task Rename_of_a_directory_over_a_non_empty_directory_fails_with_ENOTEMPTY()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/src");
        await Client.CreateDirectoryAsync(dir + "/dst");
        await (await Client.OpenFileAsync(dir + "/dst/keep", FileMode.CreateNew)).DisposeAsync();

        var ex = await Assert.ThrowsAsync<LustreServerException>(() => Client.RenameAsync(dir + "/src", dir + "/dst"));

        Assert.Equal(LustreErrno.ENOTEMPTY, ex.Errno);
        Assert.True(await Client.ExistsAsync(dir + "/src"));
        Assert.True(await Client.ExistsAsync(dir + "/dst/keep"));
    }

    [Fact]
    public async Task Unlink_of_a_file_striped_over_every_ost_destroys_its_object_files()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/wide";
        await WriteFileAsync(path, 8 * StripeSize, seed: 6, FileLayout.Raid0(StripeSize, -1));
        var objects = Objects((await Client.GetInfoAsync(path)).Layout!);
        Assert.Equal(Enumerable.Range(0, ClusterFixture.OstCount), objects.Select(o => o.OstIndex).Order());
        Assert.All(objects, o => Assert.Equal(2L * StripeSize, new FileInfo(_fixture.ObjectPath(o)).Length));

        await Client.DeleteFileAsync(path);

        Assert.False(await Client.ExistsAsync(path));
        await _fixture.DestroyAndWaitAsync(objects, DestroyTimeout);
        Assert.All(objects, o => Assert.False(File.Exists(_fixture.ObjectPath(o))));
    }

    [Fact]
    public async Task A_new_file_inherits_its_directory_default_layout()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(2 * StripeSize, 3));

        await using var file = await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew);

        var component = Assert.Single(file.Layout.Components);
        Assert.Equal(2 * StripeSize, component.StripeSize);
        Assert.Equal(3, component.StripeCount);
        Assert.Equal(3, component.Objects.Select(o => o.OstIndex).Distinct().Count());
    }

    [Fact]
    public async Task A_new_directory_takes_a_copy_of_its_parents_default_layout_so_deep_files_keep_it()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Mirrored(2, FileLayout.Raid0(2 * StripeSize, 1)));
        await Client.CreateDirectoryAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/a/b");

        // A copy, not a link: changing the parent's default later leaves the child's as it was.
        await Client.SetDirectoryLayoutAsync(dir, null);
        var deep = await Client.CreateFileAsync(dir + "/a/b/f");

        Assert.Equal(2, deep.Layout!.Mirrors.Count);
        Assert.Equal(2 * StripeSize, deep.Layout.Mirrors[1].Layout.Components[0].StripeSize);
        Assert.Equal(2, (await Client.GetInfoAsync(dir + "/a")).DefaultLayout!.MirrorCount);
        Assert.False((await Client.CreateFileAsync(dir + "/f")).Layout!.IsMirrored);
    }

    [Fact]
    public async Task A_layout_given_at_create_wins_over_the_directory_default()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(2 * StripeSize, 3));

        await using var file = await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, 1));

        var component = Assert.Single(file.Layout.Components);
        Assert.Equal(StripeSize, component.StripeSize);
        Assert.Single(component.Objects);
    }

    [Fact]
    public async Task Removing_the_directory_default_layout_gives_new_files_the_filesystem_default()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(2 * StripeSize, 3));
        await Client.SetDirectoryLayoutAsync(dir, null);

        await using var file = await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew);

        var component = Assert.Single(file.Layout.Components);
        Assert.Equal(LayoutDefaults.DefaultStripeSize, component.StripeSize);
        Assert.Equal(1, component.StripeCount);
    }

    public static TheoryData<int, int> RoundTripCases()
    {
        var data = new TheoryData<int, int>();
        foreach (var stripeCount in new[] { 1, 2, 4, -1 })
        {
            foreach (var size in new[] { 0, 1, StripeSize - 1, StripeSize, StripeSize + 1, (9 * StripeSize) + 12345 })
            {
                data.Add(stripeCount, size);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(RoundTripCases))]
    public async Task Data_round_trips_through_a_striped_file(int stripeCount, int size)
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/f";
        var data = await WriteFileAsync(path, size, seed: size ^ stripeCount, FileLayout.Raid0(StripeSize, stripeCount));

        await using var file = await Client.OpenFileAsync(path);
        var back = new byte[size + 100];
        var read = await file.ReadAtAsync(0, back);

        Assert.Equal(size, file.Length);
        Assert.Equal(size, read);
        Assert.Equal(data, back.AsSpan(0, read).ToArray());
        Assert.Equal(stripeCount == -1 ? ClusterFixture.OstCount : stripeCount, Assert.Single(file.Layout.Components).Objects.Count);
    }

    [Fact]
    public async Task Reads_at_unaligned_offsets_across_stripe_boundaries_return_the_written_bytes()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var data = await WriteFileAsync(dir + "/f", 7 * StripeSize, seed: 7, FileLayout.Raid0(StripeSize, 4));

        await using var file = await Client.OpenFileAsync(dir + "/f");
        foreach (var (offset, length) in new[] { (StripeSize - 3, 6), (1, 3 * StripeSize), ((5 * StripeSize) + 17, 2 * StripeSize) })
        {
            var back = new byte[length];
            var read = await file.ReadAtAsync(offset, back);
            var expected = Math.Min(length, data.Length - offset);
            Assert.Equal(expected, read);
            Assert.Equal(data.AsSpan(offset, expected).ToArray(), back.AsSpan(0, read).ToArray());
        }
    }

    [Fact]
    public async Task A_sparse_file_reads_zeros_before_its_only_write()
    {
        var dir = await _fixture.NewDirectoryAsync();
        const int hole = 10 << 20;
        var tail = new byte[] { 1, 2, 3, 4, 5 };
        await using (var file = await Client.OpenFileAsync(dir + "/sparse", FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, -1)))
        {
            await file.WriteAtAsync(hole, tail);
        }

        await using var reopened = await Client.OpenFileAsync(dir + "/sparse");
        var back = new byte[hole + tail.Length];
        back.AsSpan().Fill(0xEE);
        var read = await reopened.ReadAtAsync(0, back);

        Assert.Equal(hole + tail.Length, reopened.Length);
        Assert.Equal(back.Length, read);
        Assert.Equal(-1, back.AsSpan(0, hole).IndexOfAnyExcept((byte)0));
        Assert.Equal(tail, back.AsSpan(hole).ToArray());
    }

    [Fact]
    public async Task Truncate_down_drops_the_tail_and_extending_again_reads_zeros()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/f";
        var data = await WriteFileAsync(path, 5 * StripeSize, seed: 8, FileLayout.Raid0(StripeSize, 2));
        const int shortLength = (2 * StripeSize) + 100;
        const int longLength = 6 * StripeSize;

        await using (var file = await Client.OpenFileAsync(path))
        {
            await file.SetLengthAsync(shortLength);
            Assert.Equal(shortLength, file.Length);
            Assert.Equal(shortLength, (await Client.GetInfoAsync(path)).Length);

            await file.SetLengthAsync(longLength);
            Assert.Equal(longLength, file.Length);
        }

        var back = await ReadFileAsync(path);
        Assert.Equal(longLength, back.Length);
        Assert.Equal(data.AsSpan(0, shortLength).ToArray(), back.AsSpan(0, shortLength).ToArray());
        Assert.Equal(-1, back.AsSpan(shortLength).IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public async Task Open_with_FileMode_Create_truncates_an_existing_file()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await WriteFileAsync(dir + "/f", 3 * StripeSize, seed: 9, FileLayout.Raid0(StripeSize, 2));

        await using (var file = await Client.OpenFileAsync(dir + "/f", FileMode.Create))
        {
            Assert.Equal(0, file.Length);
        }

        Assert.Equal(0, (await Client.GetInfoAsync(dir + "/f")).Length);
        Assert.Empty(await ReadFileAsync(dir + "/f"));
    }

    [Fact]
    public async Task A_second_client_sees_the_data_once_the_writer_has_flushed()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/shared";
        var data = RandomBytes(3 * StripeSize + 7, seed: 10);
        await using var other = new LustreClient(_fixture.Address);

        await using var writer = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, 4));
        await writer.WriteAtAsync(0, data);
        await writer.FlushAsync();

        Assert.Equal(data.Length, (await other.GetInfoAsync(path)).Length);
        await using var reader = await other.OpenFileAsync(path);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task A_second_client_sees_the_data_once_the_writer_has_disposed_the_file()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/shared";
        var data = RandomBytes(2 * StripeSize, seed: 11);
        await using var other = new LustreClient(_fixture.Address);

        await using (var writer = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, 2)))
        {
            await writer.WriteAtAsync(0, data);
        }

        await using var reader = await other.OpenFileAsync(path);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, reader.Length);
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.Equal(data, back);
    }

    [Fact]
    public async Task Open_with_FileMode_Create_discards_bytes_written_but_not_yet_flushed()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var path = dir + "/f";

        // A writer has put bytes on the OST but not flushed, so the MDS still records size 0.
        await using var unflushed = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(StripeSize, 1));
        await unflushed.WriteAtAsync(0, Enumerable.Repeat((byte)0x77, 4 * StripeSize).ToArray());

        await using (var truncating = await Client.OpenFileAsync(path, FileMode.Create))
        {
            await truncating.WriteAtAsync(3 * StripeSize, new byte[] { 1 });
        }

        // After the truncate, everything before the one byte written is a hole and must read as zeros.
        var back = await ReadFileAsync(path);
        Assert.Equal((3 * StripeSize) + 1, back.Length);
        Assert.Equal(-1, back.AsSpan(0, 3 * StripeSize).IndexOfAnyExcept((byte)0));
    }

    [Fact]
    public async Task Exists_is_false_for_a_path_below_a_file()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await (await Client.OpenFileAsync(dir + "/f", FileMode.CreateNew)).DisposeAsync();

        Assert.False(await Client.ExistsAsync(dir + "/f/x"));
    }

    private static byte[] RandomBytes(int size, int seed)
    {
        var data = new byte[size];
        new Random(seed).NextBytes(data);
        return data;
    }

    private async Task<byte[]> WriteFileAsync(string path, int size, int seed, FileLayout? layout = null)
    {
        var data = RandomBytes(size, seed);
        await using var file = await Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        await file.WriteAtAsync(0, data);
        await file.FlushAsync();
        return data;
    }

    private async Task<byte[]> ReadFileAsync(string path)
    {
        await using var file = await Client.OpenFileAsync(path);
        var data = new byte[file.Length];
        var read = await file.ReadAtAsync(0, data);
        Assert.Equal(data.Length, read);
        return data;
    }

    private async Task<List<LustreDirectoryEntry>> ListAsync(string path)
    {
        var entries = new List<LustreDirectoryEntry>();
        await foreach (var entry in Client.EnumerateDirectoryAsync(path))
        {
            entries.Add(entry);
        }

        return entries;
    }

    private static List<OstObject> Objects(FileLayout layout) => [.. layout.Components.SelectMany(c => c.Objects)];
}
