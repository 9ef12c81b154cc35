using System.Globalization;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cli;

/// <summary><c>lustre lfs df -i</c> and the state letters, against embedded clusters.</summary>
public sealed class DfCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    private async Task<Dictionary<string, string[]>> InodeRows()
    {
        var lines = (await cluster.RunAsync("lfs", "df", "-i")).ShouldSucceed().Lines;
        Assert.Equal(["UUID", "Inodes", "IUsed", "IFree", "IUse%", "Mounted", "on"], lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return lines.Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToDictionary(f => f[0]);
    }

    private static long Field(string[] row, int column) => long.Parse(row[column], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Df_i_counts_the_MDT_inodes_exactly_and_the_OST_objects()
    {
        var before = await InodeRows();
        await cluster.Client.CreateDirectoryAsync("/inodes");
        for (var i = 0; i < 5; i++)
        {
            await cluster.WriteAsync($"/inodes/f{i}", 1 << 20, FileLayout.Raid0(stripeSize: 64 << 10, stripeCount: 2));
        }

        var after = await InodeRows();

        // A directory and five files: six more inodes on the MDT.
        Assert.Equal(6, Field(after["lustre-MDT0000_UUID"], 2) - Field(before["lustre-MDT0000_UUID"], 2));
        var usage = await cluster.Client.GetUsageAsync();
        var osts = after.Where(r => r.Key.StartsWith("lustre-OST", StringComparison.Ordinal)).ToList();
        Assert.Equal(CliClusterFixture.OstCount, osts.Count);
        foreach (var (uuid, row) in osts)
        {
            var target = usage.Single(u => u.Name + "_UUID" == uuid);
            Assert.Equal(target.Objects, Field(row, 2));
            Assert.Equal(Field(row, 2) + Field(row, 3), Field(row, 1));
            Assert.True(!OperatingSystem.IsLinux() || Field(row, 3) > 0, $"{uuid}: no free objects reported");
        }

        Assert.Equal(10, osts.Sum(r => Field(r.Value, 2)) - before.Where(r => r.Key.StartsWith("lustre-OST", StringComparison.Ordinal)).Sum(r => Field(r.Value, 2)));
        var summary = after["filesystem_summary:"];
        Assert.Equal(Field(summary, 2) + Field(summary, 3), Field(summary, 1));

        for (var i = 0; i < 5; i++)
        {
            await cluster.Client.DeleteFileAsync($"/inodes/f{i}");
        }

        await cluster.Client.DeleteDirectoryAsync("/inodes");
        Assert.Equal(Field(before["lustre-MDT0000_UUID"], 2), Field((await InodeRows())["lustre-MDT0000_UUID"], 2));
    }

    [Fact]
    public async Task A_full_OST_shows_S_after_its_row()
    {
        await using var small = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1, OstCapacityBytes = 1 << 20 });
        await using var client = new LustreClient(small.Address);
        string[] Df(CliResult result) => result.ShouldSucceed().Lines;

        Assert.DoesNotContain(Df(await CliClusterFixture.Run(["lfs", "df", "--mgs", small.Address])), l => l.EndsWith(" S", StringComparison.Ordinal));

        var file = await client.OpenFileAsync("/fill", FileMode.CreateNew);
        await using (file)
        {
            await file.WriteAtAsync(0, new byte[1 << 20]);
        }

        var ost = (await client.GetUsageAsync()).Single(u => !u.IsMetadataTarget);
        Assert.Equal(0, ost.AvailableBytes);
        Assert.True(ost.State.HasFlag(LustreTargetState.NoSpace), $"state {ost.State}");
        foreach (var options in new[] { new[] { "df" }, ["df", "-v"], ["df", "-i"] })
        {
            var row = Df(await CliClusterFixture.Run(["lfs", .. options, "--mgs", small.Address])).Single(l => l.StartsWith("lustre-OST0000_UUID", StringComparison.Ordinal));
            Assert.Matches(@"\[OST:0\] Sf?$", row);
        }
    }
}
