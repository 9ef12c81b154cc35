using Lustre.Client;
using Lustre.Layouts;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Mirrors;

/// <summary>
/// Mirrored files on a cluster of separate OSS processes, one OST each, with OSSes killed (SIGKILL) and brought back:
/// reads fail over, writes mark the missed mirror stale and succeed, and a resync makes the mirrors identical again.
/// </summary>
public sealed class MirrorFailoverTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("lustre-mirror-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_data, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task A_mirrored_file_is_written_and_read_with_an_oss_gone_and_resynced_when_it_returns()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data, 3);
        await using var client = new LustreClient(cluster.Address);
        await client.CreateDirectoryAsync("/ckpt");
        await client.SetDirectoryLayoutAsync("/ckpt", FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));

        var before = RandomBytes(6 << 20, seed: 1);
        await WriteAsync(client, "/ckpt/before", before);
        var layout = (await client.GetInfoAsync("/ckpt/before")).Layout!;
        Assert.Equal(2, layout.Mirrors.Count);
        var ostOf = layout.Mirrors.Select(m => m.Layout.Components[0].Objects[0].OstIndex).ToArray();
        Assert.NotEqual(ostOf[0], ostOf[1]);

        // A file open for writing when the OSS of its second mirror dies.
        var during = RandomBytes(8 << 20, seed: 2);
        await using (var file = await client.OpenFileAsync("/ckpt/during", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, during.AsMemory(0, 4 << 20));
            var victim = file.Layout.Mirrors[1].Layout.Components[0].Objects[0].OstIndex;
            await cluster.KillOssAsync(victim);
            await file.WriteAtAsync(4 << 20, during.AsMemory(4 << 20));
            await file.FlushAsync();
            Assert.True(file.Layout.Mirrors[1].IsStale);
            Assert.False(file.Layout.Mirrors[0].IsStale);

            // Every byte reads back from the mirror that is left, with no error.
            Assert.Equal(during, await ReadAsync(client, "/ckpt/during"));
            Assert.Equal(before, await ReadAsync(client, "/ckpt/before"));
            await cluster.RestartOssAsync(victim, samePort: true);
        }

        var stale = (await client.GetInfoAsync("/ckpt/during")).Layout!;
        Assert.True(stale.Mirrors[1].IsStale);
        Assert.True(stale.Generation > layout.Generation);

        Assert.Equal([2], await client.ResyncMirrorsAsync("/ckpt/during"));
        var synced = (await client.GetInfoAsync("/ckpt/during")).Layout!;
        Assert.All(synced.Mirrors, m => Assert.False(m.IsStale));
        var verify = await client.VerifyMirrorsAsync("/ckpt/during");
        Assert.True(verify.IsConsistent, string.Join("; ", verify.Differences));
        Assert.Equal([1, 2], verify.MirrorsCompared);
        Assert.Equal(during.Length, verify.Length);
        Assert.Empty(await client.ResyncMirrorsAsync("/ckpt/during"));
    }

    private static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task WriteAsync(LustreClient client, string path, byte[] data)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew);
        await file.WriteAtAsync(0, data);
    }

    private static async Task<byte[]> ReadAsync(LustreClient client, string path)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.Open, FileAccess.Read);
        var buffer = new byte[file.Length];
        Assert.Equal(buffer.Length, await file.ReadAtAsync(0, buffer));
        return buffer;
    }
}
