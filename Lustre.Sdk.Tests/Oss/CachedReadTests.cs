using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>
/// Large reads of cached ranges without a checksum (a client on the servers' host) go out through a pooled buffer or
/// from a mapping of the page cache, as asked, or by default as the machine sends faster (<see cref="CachedReadMode"/>):
/// either way every byte comes back, at any offset and length, with or without bulk checksums.
/// </summary>
public sealed class CachedReadTests
{
    private const int MiB = 1 << 20;

    [Theory]
    [InlineData(null, false)]
    [InlineData(CachedReadMode.Copy, false)]
    [InlineData(CachedReadMode.Map, false)]
    [InlineData(CachedReadMode.Map, true)]
    public async Task A_striped_file_reads_back_whole_and_in_unaligned_pieces(CachedReadMode? mode, bool bulkChecksums)
    {
        var options = new LustreClusterOptions { OstCount = 2 };
        if (mode is { } set)
        {
            options.CachedReads = set;
        }

        await using var cluster = await LustreCluster.StartAsync(options);
        // The default asks the machine once per process; the cluster's start has, so this gives its answer.
        var chosen = mode ?? CachedReadProbe.Resolve(CachedReadMode.Auto, Path.GetTempPath());
        Assert.Equal(chosen == CachedReadMode.Map && OperatingSystem.IsLinux(), cluster.Node.Oss!.MapsCachedReads);

        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { BulkChecksums = bulkChecksums });
        var data = new byte[(9 * MiB) + 4_321];
        new Random(11).NextBytes(data);
        await using (var file = await client.OpenFileAsync("/cached", FileMode.CreateNew, layout: FileLayout.Raid0(MiB, -1)))
        {
            await file.WriteAtAsync(0, data);
            await file.FlushAsync();
        }

        await using var reader = await client.OpenFileAsync("/cached", FileMode.Open, FileAccess.Read);
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await reader.ReadAtAsync(0, back));
        Assert.True(back.AsSpan().SequenceEqual(data), "the whole file read back differs");

        // Past a page boundary, across stripes, and running past the end of the file.
        foreach (var (offset, length) in new[] { (5_000L, 3 * MiB), (MiB - 1, (2 * MiB) + 2), ((long)data.Length - 70_000, 100_000) })
        {
            var piece = new byte[length];
            var expected = (int)Math.Min(length, data.Length - offset);
            Assert.Equal(expected, await reader.ReadAtAsync(offset, piece));
            Assert.True(piece.AsSpan(0, expected).SequenceEqual(data.AsSpan((int)offset, expected)), $"{length} bytes at {offset} differ");
        }
    }
}
