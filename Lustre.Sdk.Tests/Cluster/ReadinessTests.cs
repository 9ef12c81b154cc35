using System.Diagnostics;
using Lustre.Client;
using Lustre.Layouts;

namespace Lustre.Tests.Cluster;

/// <summary>A client never sees ENOSPC from a cluster that is merely starting.</summary>
public sealed class ReadinessTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-ready-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Files_can_be_created_as_soon_as_an_OSS_that_started_after_the_MDS_is_up()
    {
        var clock = Stopwatch.StartNew();
        for (var round = 0; round < 3 && clock.Elapsed < TimeSpan.FromSeconds(60); round++)
        {
            var data = Path.Combine(_data.Path, $"round{round}");
            await using var mgs = ServerProcess.Start("serve", "--role", "mgs", "--data", Path.Combine(data, "mgs"), "--listen", "127.0.0.1:0");
            var address = await mgs.WaitForAddressAsync();
            var mgsEndpoint = address[..address.IndexOf('/', StringComparison.Ordinal)];
            await using var mds = ServerProcess.Start("serve", "--role", "mds", "--data", Path.Combine(data, "mds"), "--mgs", mgsEndpoint);
            await mds.WaitUntilUpAsync();
            await using var oss = ServerProcess.Start("serve", "--role", "oss", "--data", Path.Combine(data, "oss"), "--mgs", mgsEndpoint);
            await oss.WaitUntilUpAsync();

            // The MDS re-reads the OSTs every 2 s; until then it knew of none.
            await using var client = new LustreClient(address);
            for (var i = 0; i < 4; i++)
            {
                await using var file = await client.OpenFileAsync($"/f{i}", FileMode.CreateNew, FileAccess.ReadWrite, FileLayout.Raid0(1 << 20, -1));
                await file.WriteAtAsync(0, new byte[16]);
                await file.FlushAsync();
            }
        }
    }
}
