using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Reliability;

/// <summary>
/// A full OST (a capacity quota in tests): writes past it fail with an <see cref="IOException"/> carrying ENOSPC and
/// naming the OST, statfs shows it full, and the MDS stops putting new files' objects on it.
/// </summary>
public sealed class FullOstTests
{
    private const long Capacity = 8L << 20;

    [Fact]
    public async Task A_write_past_an_OSTs_capacity_fails_with_ENOSPC_naming_it_and_new_files_avoid_that_OST()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, OstCapacityBytes = Capacity });
        await using var client = new LustreClient(cluster.Address);
        var data = new byte[Capacity + (1 << 20)];
        new Random(5).NextBytes(data);

        // Nothing written yet: a refresh that finds what the last one did keeps the published list.
        await cluster.Node.Placement!.RefreshAsync(CancellationToken.None);
        var settled = cluster.Node.Placement.Usage;
        await cluster.Node.Placement.RefreshAsync(CancellationToken.None);
        Assert.Same(settled, cluster.Node.Placement.Usage);

        await using var file = await client.OpenFileAsync("/big", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1, stripeOffset: 0));
        var ex = await Assert.ThrowsAnyAsync<IOException>(async () => await file.WriteAtAsync(0, data));

        var lustre = Assert.IsAssignableFrom<LustreException>(ex);
        Assert.Equal(LustreErrno.ENOSPC, lustre.Errno);
        Assert.Contains("OST0000", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ENOSPC", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<IOException>(() => file.FlushAsync());

        var usage = await client.GetUsageAsync();
        var ost0 = Assert.Single(usage, u => !u.IsMetadataTarget && u.Index == 0);
        Assert.Equal(Capacity, ost0.TotalBytes);
        Assert.True(ost0.AvailableBytes < OstAllocatorMinimum, $"OST0000 still reports {ost0.AvailableBytes} bytes free");

        // Within one placement refresh the MDS sees OST0000 full: every new file goes to OST0001.
        await cluster.Node.Placement.RefreshAsync(CancellationToken.None);
        Assert.NotSame(settled, cluster.Node.Placement.Usage);
        for (var i = 0; i < 8; i++)
        {
            await using var fresh = await client.OpenFileAsync($"/fresh-{i}", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1));
            Assert.Equal(1, Assert.Single(fresh.Layout.Components[0].Objects).OstIndex);
        }

        // Fill OST0001 too: then there is nowhere to put a new file, and the create says so.
        await using (var second = await client.OpenFileAsync("/big2", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1, stripeOffset: 1)))
        {
            await Assert.ThrowsAnyAsync<IOException>(async () => await second.WriteAtAsync(0, data));
        }

        await cluster.Node.Placement.RefreshAsync(CancellationToken.None);
        var full = await Assert.ThrowsAnyAsync<IOException>(() => client.OpenFileAsync("/nowhere", FileMode.CreateNew));
        Assert.Contains("ENOSPC", full.Message, StringComparison.Ordinal);
        Assert.False(await client.ExistsAsync("/nowhere"));
    }

    [Fact]
    public async Task Unlinking_files_on_a_full_OST_gives_its_space_back()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, OstCapacityBytes = Capacity });
        await using var client = new LustreClient(cluster.Address);
        var data = new byte[Capacity];
        await using (var file = await client.OpenFileAsync("/fill", FileMode.CreateNew))
        {
            await file.WriteAtAsync(0, data);
        }

        await using (var more = await client.OpenFileAsync("/more", FileMode.CreateNew))
        {
            var ex = await Assert.ThrowsAnyAsync<LustreException>(async () => await more.WriteAtAsync(0, new byte[1]));
            Assert.Equal(LustreErrno.ENOSPC, ex.Errno);
        }

        await client.DeleteFileAsync("/fill");
        await cluster.Node.Destroys!.RunOnceAsync(CancellationToken.None);

        await using var after = await client.OpenFileAsync("/after", FileMode.CreateNew);
        await after.WriteAtAsync(0, new byte[Capacity / 2]);
        await after.FlushAsync();
        var usage = await client.GetUsageAsync();
        Assert.Equal(Capacity / 2, Assert.Single(usage, u => !u.IsMetadataTarget).UsedBytes);
    }

    private const long OstAllocatorMinimum = 1L << 20;
}
