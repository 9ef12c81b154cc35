using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Oss;

/// <summary>An embedded cluster with direct reads on serves uncached ranges past the page cache, with the right bytes, checksummed or not.</summary>
public sealed class DirectReadTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_client_reads_the_right_bytes_when_the_ost_reads_an_uncached_range_past_the_page_cache(bool bulkChecksums)
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, DirectReads = true });
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { BulkChecksums = bulkChecksums });
        var expected = await WriteSparseAsync(client);
        var read = await ReadAllAsync(client);
        Assert.True(expected.AsSpan().SequenceEqual(read));
        var direct = cluster.Node.Oss!.Targets.Sum(t => t.DirectReadCount);
        Assert.True(direct >= 2, $"{direct} direct reads on the OSTs");
    }

    [Fact]
    public async Task Lustre_up_with_direct_reads_serves_a_sparse_file()
    {
        var data = Directory.CreateTempSubdirectory("lustre-direct-").FullName;
        try
        {
            await using var server = ServerProcess.Start("up", "--data", data, "--port", "0", "--osts", "2", "--direct-reads");
            await using var client = new LustreClient(await server.WaitForAddressAsync());
            var expected = await WriteSparseAsync(client);
            var read = await ReadAllAsync(client);
            Assert.True(expected.AsSpan().SequenceEqual(read));
            Assert.Equal(0, await server.TerminateAsync());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>
    /// One stripe of 4 MiB units, written only from 9 MiB on: the object's first 9 MiB are a hole that nothing has read
    /// into the page cache, so reading them is a direct read on the OST. Returns the file's expected bytes.
    /// </summary>
    private static async Task<byte[]> WriteSparseAsync(LustreClient client)
    {
        var tail = new byte[(2 << 20) + 333];
        new Random(11).NextBytes(tail);
        await using (var file = await client.OpenFileAsync("/sparse", FileMode.Create, layout: FileLayout.Raid0(stripeCount: 1)))
        {
            await file.WriteAtAsync(9 << 20, tail);
        }

        var expected = new byte[(9 << 20) + tail.Length];
        tail.CopyTo(expected, 9 << 20);
        return expected;
    }

    private static async Task<byte[]> ReadAllAsync(LustreClient client)
    {
        await using var file = await client.OpenFileAsync("/sparse", FileMode.Open, access: FileAccess.Read);
        var read = new byte[(int)file.Length];
        Assert.Equal(read.Length, await file.ReadAtAsync(0, read));
        return read;
    }
}
