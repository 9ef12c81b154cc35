using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Oss;

/// <summary>
/// Direct writes on the OSTs: the aligned part of a large write goes past the page cache, its unaligned head and tail
/// through it, and every read after it sees exactly the bytes written, whatever the cache held before.
/// </summary>
public sealed class DirectWriteTests : IDisposable
{
    private const int MiB = 1 << 20;
    private readonly TempFolder _root = new("lustre-direct-write-");

    public void Dispose() => _root.Dispose();

    private static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    [Fact]
    public async Task A_large_unaligned_write_lands_past_the_cache_between_cached_bytes_it_keeps()
    {
        using var direct = new DirectWriter();
        using var store = new ObjectStore(0, _root.Path, directWrites: direct);
        var before = Pattern(10_000, 1);
        await store.WriteAsync(7, 0, before, CancellationToken.None);
        Assert.Equal(0, store.DirectWriteCount);

        // 3 MiB + 777 bytes from offset 1,000: a head to the first page boundary, an aligned middle, a tail.
        var written = Pattern((3 * MiB) + 777, 2);
        await store.WriteAsync(7, 1000, written, CancellationToken.None);
        Assert.Equal(1, store.DirectWriteCount);

        var back = new byte[1000 + written.Length + 100];
        Assert.Equal(1000 + written.Length, await store.ReadAsync(7, 0, back, CancellationToken.None));
        Assert.True(back.AsSpan(0, 1000).SequenceEqual(before.AsSpan(0, 1000)), "the bytes before the write changed");
        Assert.True(back.AsSpan(1000, written.Length).SequenceEqual(written), "the written bytes differ");

        // A write whose aligned part is under 1 MiB goes through the cache.
        await store.WriteAsync(7, 5000, Pattern(MiB, 3), CancellationToken.None);
        Assert.Equal(1, store.DirectWriteCount);
    }

    [Fact]
    public async Task A_direct_write_over_a_range_mapped_for_a_read_leaves_no_page_with_the_old_bytes()
    {
        using var direct = new DirectWriter();
        using var store = new ObjectStore(0, _root.Path, directWrites: direct);
        var old = Pattern(2 * MiB, 4);
        for (var at = 0; at < old.Length; at += 512 << 10)
        {
            // In pieces under the direct minimum: through the cache, so the pages are cached.
            await store.WriteAsync(9, at, old.AsMemory(at, 512 << 10), CancellationToken.None);
        }

        var written = Pattern(2 * MiB, 5);
        using (var mapped = await store.ReadRegionAsync(9, 0, old.Length))
        {
            // A read being sent from a mapping of the cached pages while the write lands.
            Assert.NotNull(mapped);
            Assert.True(mapped.Memory.Span.SequenceEqual(old));
            await store.WriteAsync(9, 0, written, CancellationToken.None);
        }

        Assert.Equal(1, store.DirectWriteCount);
        var back = new byte[written.Length];
        Assert.Equal(back.Length, await store.ReadAsync(9, 0, back, CancellationToken.None));
        Assert.True(back.AsSpan().SequenceEqual(written), "a read after the write saw bytes from before it");
        using var again = await store.ReadRegionAsync(9, 0, written.Length);
        Assert.True(again!.Memory.Span.SequenceEqual(written), "a mapping after the write saw bytes from before it");
    }

    [Theory]
    [InlineData(false, null)]
    [InlineData(true, null)]
    [InlineData(false, false)]
    public async Task A_striped_stream_written_past_the_cache_or_through_it_reads_back_whole(bool bulkChecksums, bool? directWrites)
    {
        // Unset: the default, which writes past the cache.
        var options = new LustreClusterOptions { OstCount = 2 };
        if (directWrites is { } direct)
        {
            options.DirectWrites = direct;
        }

        await using var cluster = await LustreCluster.StartAsync(options);
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { BulkChecksums = bulkChecksums });
        var data = Pattern((24 * MiB) + 12_345, 6);
        await using (var stream = await client.OpenStreamAsync("/direct", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(4 * MiB, -1)))
        {
            await stream.WriteAsync(data);
            await stream.FlushAsync();
        }

        var directCount = cluster.Node.Oss!.Targets.Sum(t => t.DirectWriteCount);
        if (directWrites == false)
        {
            Assert.Equal(0, directCount);
        }
        else
        {
            Assert.True(directCount >= 4, $"the OSTs wrote {directCount} ranges past the cache, not one per stripe");
        }

        await using var file = await client.OpenFileAsync("/direct", FileMode.Open, access: FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await file.ReadAtAsync(0, back));
        Assert.True(back.AsSpan().SequenceEqual(data), "the file read back differs");
    }

    [Theory]
    [InlineData(new string[0], null, true)]
    [InlineData(new[] { "--direct-writes" }, null, true)]
    [InlineData(new[] { "--direct-writes", "false" }, null, false)]
    [InlineData(new string[0], false, false)]
    [InlineData(new[] { "--direct-writes", "true" }, false, true)]
    [InlineData(new[] { "--direct-writes", "false" }, true, false)]
    public void Lustre_up_writes_directly_unless_the_option_or_the_config_file_says_false(string[] arguments, bool? inFile, bool expected)
    {
        var file = new Lustre.Cli.ServerConfigFile { DirectWrites = inFile };
        var parse = Lustre.Cli.ServerCommands.Up().Parse(arguments);
        Assert.Empty(parse.Errors);
        Assert.Equal(expected, Lustre.Cli.ServerCommands.DirectWrites(parse, file));
    }

    [Fact]
    public async Task Lustre_up_keeps_a_directly_written_file_across_a_restart_that_writes_through_the_cache()
    {
        var data = Pattern((6 * MiB) + 99, 7);
        await using (var server = ServerProcess.Start("up", "--data", _root.Path, "--port", "0", "--osts", "2"))
        {
            await using var client = new LustreClient(await server.WaitForAddressAsync());
            await using (var file = await client.OpenFileAsync("/kept", FileMode.CreateNew, layout: FileLayout.Raid0(MiB, -1)))
            {
                await file.WriteAtAsync(0, data);
                await file.FlushAsync();
            }

            Assert.Equal(0, await server.TerminateAsync());
        }

        // Restarted writing through the page cache: the choice is the server's, not the data's.
        await using var restarted = ServerProcess.Start("up", "--data", _root.Path, "--port", "0", "--osts", "2", "--direct-writes", "false");
        await using var reader = new LustreClient(await restarted.WaitForAddressAsync());
        await using var kept = await reader.OpenFileAsync("/kept", FileMode.Open, access: FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await kept.ReadAtAsync(0, back));
        Assert.True(back.AsSpan().SequenceEqual(data), "the file read back after the restart differs");
        Assert.Equal(0, await restarted.TerminateAsync());
    }
}
