using Lustre.Client;
using Lustre.Layouts;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Reliability;

/// <summary>
/// Servers restarted under a running client: on the same port the client reconnects; on another port it learns the
/// new address from the MGS and goes on, with open files still usable.
/// </summary>
public sealed class ServerMoveTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-move-");

    public void Dispose() => _data.Dispose();

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_client_follows_an_OSS_and_the_MDS_restarted_after_SIGKILL(bool samePort)
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 2);
        await using var client = new LustreClient(cluster.Address);
        var data = new byte[3 << 20];
        new Random(7).NextBytes(data);
        await using var open = await client.OpenFileAsync("/a", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, -1));
        await open.WriteAtAsync(0, data);
        await open.FlushAsync();

        var before = cluster.OssEndpoint(0);
        await cluster.KillOssAsync(0);
        await cluster.RestartOssAsync(0, samePort);
        Assert.Equal(samePort, before == cluster.OssEndpoint(0));

        // The open handle reads and writes through the restarted OSS.
        var back = new byte[data.Length];
        Assert.Equal(data.Length, await open.ReadAtAsync(0, back));
        Assert.Equal(data, back);
        await open.WriteAtAsync(data.Length, data);
        await open.FlushAsync();

        var mdsBefore = cluster.MdsEndpoint;
        await cluster.KillMdsAsync();
        await cluster.RestartMdsAsync(samePort);
        Assert.Equal(samePort, mdsBefore == cluster.MdsEndpoint);

        Assert.Equal(2L * data.Length, (await client.GetInfoAsync("/a")).Length);
        await client.CreateDirectoryAsync("/after");
        await using var reopened = await client.OpenFileAsync("/a");
        var all = new byte[2 * data.Length];
        Assert.Equal(all.Length, await reopened.ReadAtAsync(0, all));
        Assert.Equal(data, all[..data.Length]);
        Assert.Equal(data, all[data.Length..]);
    }

    [Fact]
    public async Task Objects_of_files_unlinked_while_their_OSS_is_down_are_destroyed_soon_after_it_returns_on_a_new_port()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 1);
        await using var client = new LustreClient(cluster.Address);
        const int files = 30;
        for (var i = 0; i < files; i++)
        {
            await using var file = await client.OpenFileAsync($"/f{i}", FileMode.CreateNew);
            await file.WriteAtAsync(0, new byte[1000]);
        }

        Assert.Equal(files, cluster.ObjectFiles().Count());
        await cluster.KillOssAsync(0);
        for (var i = 0; i < files; i++)
        {
            await client.DeleteFileAsync($"/f{i}");
        }

        await cluster.RestartOssAsync(0, samePort: false);

        // The MDS destroy queue runs every second; once the OSS is back, a pass or two must clear all 30.
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (cluster.ObjectFiles().Any())
        {
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(6), $"{cluster.ObjectFiles().Count()} objects still there after {started.Elapsed}");
            await Task.Delay(100);
        }
    }
}
