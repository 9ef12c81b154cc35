using System.Net;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Cluster;

/// <summary>
/// Targets join and leave a running cluster: an OSS started later registers, shows in the usage (<c>lfs df</c>) and
/// receives new files; an OST marked inactive receives no new objects; clients see both without a restart.
/// </summary>
public sealed class TargetMembershipTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private LustreCluster? _cluster;
    private string? _extraData;

    private LustreCluster Cluster => _cluster!;

    public async Task InitializeAsync()
    {
        _cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 });
        _extraData = Directory.CreateTempSubdirectory("lustre-join-").FullName;
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        if (_extraData is not null)
        {
            Directory.Delete(_extraData, recursive: true);
        }
    }

    private Task<LustreNode> StartOssAsync(int index) => LustreNode.StartAsync(
        new NodeOptions
        {
            DataDirectory = Path.Combine(_extraData!, $"oss{index}"),
            RunOss = true,
            FirstOstIndex = index,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
            Mgs = Cluster.Endpoint,
        },
        NullLoggerFactory.Instance,
        CancellationToken.None);

    private static byte[] Content(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<FileLayout> WriteAsync(LustreClient client, string path, byte[] content, int stripeCount)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: FileLayout.Raid0(64 << 10, stripeCount));
        await file.WriteAtAsync(0, content);
        await file.FlushAsync();
        return file.Layout;
    }

    private static async Task AssertContentAsync(LustreClient client, string path, byte[] expected)
    {
        await using var file = await client.OpenFileAsync(path, access: FileAccess.Read);
        var actual = new byte[expected.Length];
        Assert.Equal(expected.Length, await file.ReadAtAsync(0, actual));
        Assert.True(expected.AsSpan().SequenceEqual(actual), $"{path}: content differs");
    }

    private static IEnumerable<int> Osts(FileLayout layout) => layout.Components.SelectMany(c => c.Objects).Select(o => o.OstIndex);

    /// <summary>Creates files until one is placed as <paramref name="wanted"/> says (the MDS re-reads the MGS every 2 s).</summary>
    private static async Task<(string Path, FileLayout Layout, byte[] Content)> WriteUntilAsync(
        LustreClient client, string directory, int stripeCount, Func<FileLayout, bool> wanted)
    {
        var deadline = DateTime.UtcNow + Patience;
        for (var i = 0; ; i++)
        {
            var path = $"{directory}/f{i}";
            var content = Content(i, 300_000);
            var layout = await WriteAsync(client, path, content, stripeCount);
            if (wanted(layout))
            {
                return (path, layout, content);
            }

            Assert.True(DateTime.UtcNow < deadline, $"no new file was placed as expected within {Patience}; last layout: {layout}");
            await Task.Delay(200);
        }
    }

    [Fact]
    public async Task An_OSS_that_joins_a_running_cluster_appears_in_df_and_receives_new_files_seen_by_a_client_without_restart()
    {
        // This client fetches its configuration now, before the new OSS exists, and is never refreshed by hand.
        await using var early = new LustreClient(Cluster.Address);
        var before = await WriteAsync(early, "/before.bin", Content(1, 200_000), stripeCount: -1);
        Assert.Equal([0, 1], Osts(before).Order());

        await using var oss = await StartOssAsync(2);
        await using var admin = new LustreClient(Cluster.Address);
        var usage = await admin.GetUsageAsync();
        Assert.Contains(usage, u => u is { Name: "lustre-OST0002", IsActive: true, TotalBytes: > 0 });

        await admin.CreateDirectoryAsync("/after");
        var (path, layout, content) = await WriteUntilAsync(admin, "/after", -1, l => Osts(l).Contains(2));
        Assert.Equal([0, 1, 2], Osts(layout).Order());
        Assert.True(oss.Oss!.Targets.Single().Index == 2);

        // The early client meets OST 2 in a layout it has never heard of: it re-reads the configuration itself.
        await AssertContentAsync(early, path, content);
        var mine = await WriteAsync(early, "/after/early.bin", Content(7, 500_000), stripeCount: -1);
        Assert.Contains(2, Osts(mine));
        await AssertContentAsync(admin, "/after/early.bin", Content(7, 500_000));
    }

    [Fact]
    public async Task An_OST_marked_inactive_gets_no_new_objects_and_its_data_stays_readable()
    {
        await using var oss = await StartOssAsync(2);
        await using var client = new LustreClient(Cluster.Address);
        await client.CreateDirectoryAsync("/d");
        var (onTwo, _, onTwoContent) = await WriteUntilAsync(client, "/d", -1, l => Osts(l).Contains(2));

        await client.SetOstActiveAsync(2, active: false);
        Assert.Contains(await client.GetUsageAsync(), u => u is { Name: "lustre-OST0002", IsActive: false });
        await client.CreateDirectoryAsync("/d2");
        await WriteUntilAsync(client, "/d2", -1, l => !Osts(l).Contains(2));

        // Once the MDS has seen the change, no new object lands on OST 2, whatever the stripe count.
        for (var i = 0; i < 12; i++)
        {
            var layout = await WriteAsync(client, $"/d2/one{i}", Content(i, 1000), stripeCount: 1);
            Assert.DoesNotContain(2, Osts(layout));
        }

        await AssertContentAsync(client, onTwo, onTwoContent);

        await client.SetOstActiveAsync(2, active: true);
        await client.CreateDirectoryAsync("/d3");
        await WriteUntilAsync(client, "/d3", -1, l => Osts(l).Contains(2));
    }
}
