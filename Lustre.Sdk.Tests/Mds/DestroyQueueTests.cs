using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Mds;

/// <summary>The MDS destroy queue keeps up with unlinks: one pass drains everything queued, not a fixed batch.</summary>
public sealed class DestroyQueueTests
{
    [Fact]
    public async Task One_pass_destroys_every_queued_object_even_when_more_than_a_batch_is_queued()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 4 });
        await using var client = new LustreClient(cluster.Address);
        const int files = 300;
        var data = new byte[4 * 4096];
        await Parallel.ForAsync(0, files, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            await using var file = await client.OpenFileAsync($"/f{i}", FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, 4), cancellationToken: ct);
            await file.WriteAtAsync(0, data, ct);
            for (var stripe = 1; stripe < 4; stripe++)
            {
                await file.WriteAtAsync(stripe * (64 << 10), data.AsMemory(0, 1), ct);
            }
        });
        await Parallel.ForAsync(0, files, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) => await client.DeleteFileAsync($"/f{i}", ct));

        // (The MDS's own background pass may run meanwhile and take a share; either way nothing is left after this one.)
        await cluster.Node.Destroys!.RunOnceAsync(CancellationToken.None);

        Assert.Equal(0, (await client.GetUsageAsync()).Where(u => !u.IsMetadataTarget).Sum(u => u.Objects));
    }
}
