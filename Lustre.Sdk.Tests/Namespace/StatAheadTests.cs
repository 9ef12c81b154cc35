using System.Diagnostics;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Cluster;
using Lustre.Tests.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Namespace;

/// <summary>
/// Statahead (issue 22) against a real node: stats of names that count up are answered from batches the MDS leased,
/// and never differ from what the MDS would answer: a change by another client waits for the lease, and is seen by
/// the first stat after it.
/// </summary>
public sealed class StatAheadTests : IDisposable
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(1);

    private readonly TempFolder _data = new("lustre-statahead-");

    public void Dispose() => _data.Dispose();

    // The node's background loops (the destroy queue's commits above all, after an unlink) never tick during a test: a
    // change of theirs overlapping a batch would refuse its lease, and the counts asserted here would depend on timing.
    private Task<LustreNode> StartAsync(TimeSpan lease, TimeSpan quiet) => LustreNode.StartAsync(
        new NodeOptions
        {
            DataDirectory = Path.Combine(_data.Path, "node"), RunMgs = true, RunMds = true, RunOss = true, OstCount = 2,
            StatAheadLease = lease, StatAheadQuiet = quiet, RefreshInterval = TimeSpan.FromHours(1),
        },
        NullLoggerFactory.Instance,
        CancellationToken.None);

    private static async Task CreateAsync(LustreClient client, string dir, int count, int bytes = 0)
    {
        await client.CreateDirectoryAsync(dir);
        for (var i = 0; i < count; i++)
        {
            await using var file = await client.OpenFileAsync($"{dir}/file.{i}", FileMode.CreateNew);
            if (bytes > 0)
            {
                await file.WriteAtAsync(0, new byte[bytes + i]);
            }
        }
    }

    [Fact]
    public async Task Stats_of_names_that_count_up_are_answered_from_leased_batches_with_the_same_attributes()
    {
        await using var node = await StartAsync(Lease, TimeSpan.Zero);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 120, bytes: 10);
        await using var other = new LustreClient($"{node.Endpoint}/{node.FsName}", new LustreClientOptions { StatAheadMax = 0 });
        var expected = new List<LustreFileInfo>();
        for (var i = 0; i < 120; i++)
        {
            expected.Add(await other.GetInfoAsync($"/d/file.{i}"));
        }

        using var recorder = new TelemetryRecorder();
        var target = node.Endpoint.ToString();
        for (var i = 0; i < 120; i++)
        {
            var info = await client.GetInfoAsync($"/d/file.{i}");
            Assert.Equal(expected[i].Fid, info.Fid);
            Assert.Equal(10 + i, info.Length);
            Assert.Equal(expected[i].Mode, info.Mode);
            Assert.Equal(expected[i].LastWriteTime, info.LastWriteTime);
            Assert.Equal(expected[i].Layout!.Components[0].Objects, info.Layout!.Components[0].Objects);
        }

        // file.0 and file.1 alone; file.2 asks for 32 names, file.34 for 64, file.98 for 128 (past the end: ENOENT each).
        Assert.Equal(2, recorder.Rpcs(target, "MdsGetAttr"));
        Assert.Equal(3, recorder.Rpcs(target, "MdsGetAttrBatch"));
        var statAhead = client.Session.StatAhead;
        Assert.Equal(120 - 2 - 3, statAhead.Hits);
        Assert.Equal(3, statAhead.Batches);
        Assert.Equal(3, node.Mdt!.Leases.Granted);
        var stats = await client.GetParametersAsync("llite.*.statahead_stats");
        Assert.Contains("hit_total: 115", Assert.Single(stats).Value, StringComparison.Ordinal);

        // A name past the end is not found, as a stat alone says.
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.GetInfoAsync("/d/file.120"));
    }

    [Fact]
    public async Task A_change_by_another_client_waits_for_the_lease_and_the_next_stat_sees_it()
    {
        await using var node = await StartAsync(Lease, TimeSpan.Zero);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await using var other = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 40);
        for (var i = 0; i < 3; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        Assert.Equal(1, client.Session.StatAhead.Batches);
        var leased = Stopwatch.StartNew();

        // Each change lands only once the lease has ended; the stat after it is the MDS's again.
        await other.DeleteFileAsync("/d/file.10");
        Assert.True(leased.Elapsed >= Lease * 0.9, $"the unlink returned {leased.Elapsed} after the lease was granted, within its {Lease}");
        Assert.True(node.Mdt!.Leases.Waited >= 1);
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.GetInfoAsync("/d/file.10"));

        // Leased again (file.11 to file.13 follow on), then a chmod and a writer that has not flushed.
        for (var i = 11; i < 14; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        Assert.Equal(2, client.Session.StatAhead.Batches);
        await other.SetModeAsync("/d/file.20", UnixFileMode.UserRead);
        Assert.Equal(UnixFileMode.UserRead, (await client.GetInfoAsync("/d/file.20")).Mode);

        for (var i = 21; i < 24; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        await using var writer = await other.OpenFileAsync("/d/file.30", FileMode.Open, FileAccess.ReadWrite);
        await writer.WriteAtAsync(0, new byte[5000]);
        var written = await client.GetInfoAsync("/d/file.30");
        Assert.True(written.IsOpenForWrite);
        Assert.Equal(5000, written.Length);
    }

    [Fact]
    public async Task A_client_that_used_every_answer_releases_the_lease_and_a_change_then_does_not_wait()
    {
        await using var node = await StartAsync(TimeSpan.FromSeconds(5), TimeSpan.Zero);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await using var other = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 34);
        var waited = node.Mdt!.Leases.Waited;

        // file.2 brings file.3 to file.33; the stat of file.33 uses the last answer.
        for (var i = 0; i < 34; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        Assert.Equal(31, client.Session.StatAhead.Hits);
        var released = Stopwatch.StartNew();
        while (node.Mdt.Leases.Active > 0 && released.Elapsed < TimeSpan.FromSeconds(4))
        {
            await Task.Delay(10);
        }

        Assert.Equal(0, node.Mdt.Leases.Active);
        var unlink = Stopwatch.StartNew();
        await other.DeleteFileAsync("/d/file.5");
        Assert.True(unlink.Elapsed < TimeSpan.FromSeconds(2.5), $"the unlink took {unlink.Elapsed} with no lease held");
        Assert.Equal(waited, node.Mdt.Leases.Waited);
    }

    [Fact]
    public async Task A_busy_MDT_grants_no_lease_and_every_stat_asks_it_with_no_names_prefetched()
    {
        await using var node = await StartAsync(Lease, TimeSpan.FromHours(1));
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 40);

        using var recorder = new TelemetryRecorder();
        for (var i = 0; i < 40; i++)
        {
            Assert.Equal($"file.{i}", (await client.GetInfoAsync($"/d/file.{i}")).Name);
        }

        var statAhead = client.Session.StatAhead;
        Assert.Equal(0, statAhead.Hits);
        Assert.Equal(0, statAhead.Batches);
        Assert.True(statAhead.Refused >= 1);
        Assert.Equal(0, statAhead.Count);
        Assert.Equal(0, node.Mdt!.Leases.Granted);

        // Refused, a stream waits twice as long each time before it asks again: 2, 4, 8, ... stats.
        Assert.InRange(recorder.Rpcs(node.Endpoint.ToString(), "MdsGetAttrBatch"), 1, 6);
    }

    [Fact]
    public async Task With_statahead_off_every_stat_is_one_getattr()
    {
        await using var node = await StartAsync(Lease, TimeSpan.Zero);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}", new LustreClientOptions { StatAheadMax = 0 });
        await CreateAsync(client, "/d", 40);

        using var recorder = new TelemetryRecorder();
        for (var i = 0; i < 40; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        Assert.Equal(40, recorder.Rpcs(node.Endpoint.ToString(), "MdsGetAttr"));
        Assert.Equal(0, recorder.Rpcs(node.Endpoint.ToString(), "MdsGetAttrBatch"));
    }

    [Fact]
    public async Task A_lease_of_zero_on_the_MDS_turns_statahead_off_for_every_client()
    {
        await using var node = await StartAsync(TimeSpan.Zero, TimeSpan.Zero);
        await using var client = new LustreClient($"{node.Endpoint}/{node.FsName}");
        await CreateAsync(client, "/d", 40);
        for (var i = 0; i < 40; i++)
        {
            await client.GetInfoAsync($"/d/file.{i}");
        }

        Assert.Equal(0, client.Session.StatAhead.Hits);
        Assert.Equal(0, node.Mdt!.Leases.Granted);
        Assert.Equal(0, node.Mdt.Leases.Waited);
    }
}
