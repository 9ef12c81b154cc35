using Lustre.Cli;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Tests.Cluster;
using Lustre.Tests.Stats;

namespace Lustre.Tests.Parameters;

/// <summary>
/// A running server's parameters over the wire (GetParam, SetParam): lctl's names and globs, tunables that change,
/// read-only ones refused, absurd values refused; and every target's statistics and job statistics.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class ServerParameterTests(ClusterFixture fixture)
{
    private ParameterNodes Nodes => ParameterNodes.Of(fixture.Client);

    private ParameterNode Server => Assert.Single(Nodes.Servers);

    private async Task<List<(string Name, ParamEntryFlags Flags, string Value)>> GetAsync(string pattern, GetParamFlags flags = GetParamFlags.None) =>
        await Nodes.GetAsync(Server, flags, [pattern], CancellationToken.None);

    private async Task<IReadOnlyList<SetParamResult>> SetAsync(string pattern, string value, bool checkOnly = false) =>
        await Nodes.SetAsync(Server, checkOnly, [(pattern, value)], CancellationToken.None);

    private async Task<string> ValueAsync(string name) => Assert.Single(await GetAsync(name)).Value;

    [Fact]
    public async Task A_server_answers_get_param_with_its_targets_parameters_under_Lustres_names()
    {
        await fixture.Client.GetInfoAsync("/");

        var intervals = await GetAsync("obdfilter.*.job_cleanup_interval");
        Assert.Equal(Enumerable.Range(0, ClusterFixture.OstCount).Select(i => $"obdfilter.lustre-OST{i:X4}.job_cleanup_interval"), intervals.Select(p => p.Name));
        Assert.All(intervals, p => Assert.Equal(("600", ParamEntryFlags.Writable), (p.Value, p.Flags)));
        Assert.Equal("lustre-MDT0000_UUID", await ValueAsync("mdt.*.uuid"));
        Assert.True(long.Parse(await ValueAsync("obdfilter.lustre-OST0002.kbytestotal"), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.StartsWith("fsname: lustre\ngen: ", await ValueAsync("mgs.MGS.live.lustre"), StringComparison.Ordinal);
        Assert.Matches(@"^snapshot_time {23}\d+\.\d{9} secs\.nsecs\n", await ValueAsync("mdt.lustre-MDT0000.md_stats"));
        Assert.Contains("getattr", await ValueAsync("mdt.lustre-MDT0000.md_stats"), StringComparison.Ordinal);
        Assert.Empty(await GetAsync("obdfilter.*.no_such_thing"));

        // get_param leaves directories out; list_param names them.
        Assert.Empty(await GetAsync("obdfilter.*"));
        var devices = await GetAsync("obdfilter.*", GetParamFlags.NamesOnly);
        Assert.Equal(ClusterFixture.OstCount, devices.Count);
        Assert.All(devices, d => Assert.Equal((ParamEntryFlags.Directory, string.Empty), (d.Flags, d.Value)));
        var below = await GetAsync("mdt", GetParamFlags.NamesOnly | GetParamFlags.Recursive);
        Assert.Contains(below, p => p.Name == "mdt.lustre-MDT0000.job_stats" && p.Flags == ParamEntryFlags.Writable);
        Assert.Contains(below, p => p.Name == "mdt.lustre-MDT0000.uuid" && p.Flags == ParamEntryFlags.None);
    }

    [Fact]
    public async Task Data_on_MDT_reads_and_writes_count_in_md_stats_as_Lustres_MDT_counts_them()
    {
        static long Sum(string stats, string counter) =>
            stats.Split('\n').SingleOrDefault(l => l.StartsWith(counter + " ", StringComparison.Ordinal)) is { } line
                ? long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^2], System.Globalization.CultureInfo.InvariantCulture)
                : 0;

        var before = await ValueAsync("mdt.lustre-MDT0000.md_stats");
        var path = $"{await fixture.NewDirectoryAsync()}/dom";
        var layout = FileLayout.Composite([LayoutComponent.DataOnMdt(64 * 1024), new LayoutComponent(64 * 1024, LayoutComponent.Eof, 1 << 20, 1)]);
        await using (var file = await fixture.Client.OpenFileAsync(path, FileMode.CreateNew, layout: layout))
        {
            await file.WriteAtAsync(0, new byte[3000]);
            Assert.Equal(3000, await file.ReadAtAsync(0, new byte[3000]));
        }

        // A request is counted once its reply has gone (RpcSession accounts it last): the client may ask before that.
        long Grew(string stats, string counter) => Sum(stats, counter) - Sum(before, counter);
        var after = await ValueAsync("mdt.lustre-MDT0000.md_stats");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while ((Grew(after, "write_bytes") < 3000 || Grew(after, "read_bytes") < 3000) && waited.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20);
            after = await ValueAsync("mdt.lustre-MDT0000.md_stats");
        }

        Assert.True(Grew(after, "write_bytes") >= 3000, after);
        Assert.True(Grew(after, "read_bytes") >= 3000, after);
    }

    [Fact]
    public async Task Set_param_changes_a_servers_tunable_and_refuses_read_only_parameters_and_absurd_values()
    {
        try
        {
            var set = await SetAsync("obdfilter.lustre-OST000[12].job_cleanup_interval", "300");
            Assert.Equal(["obdfilter.lustre-OST0001.job_cleanup_interval", "obdfilter.lustre-OST0002.job_cleanup_interval"], set.Select(r => r.Name));
            Assert.All(set, r => Assert.Equal(LustreErrno.None, r.Status));
            Assert.Equal(["600", "300", "300", "600"], (await GetAsync("obdfilter.*.job_cleanup_interval")).Select(p => p.Value));

            var readOnly = await SetAsync("obdfilter.*.kbytestotal", "1");
            Assert.Equal(ClusterFixture.OstCount, readOnly.Count);
            Assert.All(readOnly, r => Assert.Equal(LustreErrno.EACCES, r.Status));
            Assert.Contains("read-only", readOnly[0].Message, StringComparison.Ordinal);

            foreach (var absurd in new[] { "-1", "99999999999", "ten" })
            {
                var refused = Assert.Single(await SetAsync("mdt.*.job_cleanup_interval", absurd));
                Assert.Equal(absurd == "ten" ? LustreErrno.EINVAL : LustreErrno.ERANGE, refused.Status);
                Assert.Contains("mdt.lustre-MDT0000.job_cleanup_interval", refused.Message, StringComparison.Ordinal);
                Assert.Contains("0 to 604800", refused.Message, StringComparison.Ordinal);
            }

            Assert.Equal("600", await ValueAsync("mdt.*.job_cleanup_interval"));
            Assert.Equal(LustreErrno.ENOENT, Assert.Single(await SetAsync("obdfilter.*.bogus", "1")).Status);

            // A check changes nothing.
            Assert.Equal(LustreErrno.None, Assert.Single(await SetAsync("mdt.*.job_cleanup_interval", "60", checkOnly: true)).Status);
            Assert.Equal("600", await ValueAsync("mdt.*.job_cleanup_interval"));
        }
        finally
        {
            await SetAsync("obdfilter.*.job_cleanup_interval", "600");
        }
    }

    [Fact]
    public async Task Two_jobs_are_counted_apart_on_the_OSTs_and_the_MDT_in_Lustres_YAML_and_clear_empties_it()
    {
        var tag = Guid.NewGuid().ToString("N")[..8];
        var (jobA, jobB) = ($"train.{tag}", $"eval.{tag}");
        var dir = await fixture.NewDirectoryAsync();
        await using (var a = new LustreClient(fixture.Address, new LustreClientOptions { JobId = jobA }))
        await using (var b = new LustreClient(fixture.Address, new LustreClientOptions { JobId = jobB }))
        {
            for (var i = 0; i < 3; i++)
            {
                await using var file = await a.OpenFileAsync($"{dir}/a{i}", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1, stripeOffset: 1));
                await file.WriteAtAsync(0, new byte[1 << 20]);
            }

            await b.CreateDirectoryAsync($"{dir}/b");
            for (var i = 0; i < 5; i++)
            {
                await using var empty = await b.OpenFileAsync($"{dir}/b/e{i}", FileMode.CreateNew);
            }

            await using (var file = await b.OpenFileAsync($"{dir}/b/data", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1, stripeOffset: 2)))
            {
                await file.WriteAtAsync(0, new byte[2 << 20]);
            }

            await using var read = await b.OpenFileAsync($"{dir}/a0", FileMode.Open, FileAccess.Read);
            Assert.Equal(1 << 20, await read.ReadAtAsync(0, new byte[1 << 20]));
        }

        var ost1 = JobYaml.Parse(await ValueAsync("obdfilter.lustre-OST0001.job_stats"));
        var ost2 = JobYaml.Parse(await ValueAsync("obdfilter.lustre-OST0002.job_stats"));
        var mdt = JobYaml.Parse(await ValueAsync("mdt.lustre-MDT0000.job_stats"));

        Assert.Equal("3145728", ost1[jobA]["write_bytes"]["sum"]);
        Assert.Equal("bytes", ost1[jobA]["write_bytes"]["unit"]);
        Assert.Equal("0", ost1[jobA]["read_bytes"]["samples"]);
        Assert.Equal("1048576", ost1[jobB]["read_bytes"]["sum"]);
        Assert.Equal("0", ost1[jobB]["write_bytes"]["samples"]);
        Assert.Equal("2097152", ost2[jobB]["write_bytes"]["sum"]);
        Assert.False(ost2.ContainsKey(jobA));
        Assert.Equal("3", mdt[jobA]["open"]["samples"]);
        Assert.Equal("7", mdt[jobB]["open"]["samples"]);
        Assert.Equal("1", mdt[jobB]["mkdir"]["samples"]);
        Assert.Equal("0", mdt[jobA]["mkdir"]["samples"]);
        Assert.Equal("usecs", mdt[jobA]["open"]["unit"]);
        Assert.Equal(27, mdt[jobA].Keys.Count(k => k is not ("snapshot_time" or "start_time" or "elapsed_time")));

        // The target's own stats count every job together.
        Assert.Matches(@"\nwrite_bytes {25}\d+ samples \[bytes\] ", await ValueAsync("obdfilter.lustre-OST0001.stats"));

        // A job id removes that job; clear removes all.
        Assert.Equal(LustreErrno.None, Assert.Single(await SetAsync("obdfilter.lustre-OST0001.job_stats", jobA)).Status);
        Assert.False(JobYaml.Parse(await ValueAsync("obdfilter.lustre-OST0001.job_stats")).ContainsKey(jobA));
        Assert.Equal(LustreErrno.EINVAL, Assert.Single(await SetAsync("obdfilter.lustre-OST0001.job_stats", "no-such-job")).Status);
        Assert.All(await SetAsync("*.*.job_stats", "clear"), r => Assert.Equal(LustreErrno.None, r.Status));
        Assert.Empty(JobYaml.Parse(await ValueAsync("mdt.lustre-MDT0000.job_stats")));
        Assert.Empty(JobYaml.Parse(await ValueAsync("obdfilter.lustre-OST0002.job_stats")));
    }

    [Fact]
    public async Task A_read_is_paged_when_the_values_do_not_fit_the_bulk_the_client_made_room_for()
    {
        await using var connection = await RpcConnection.ConnectAsync(fixture.Cluster.Endpoint, new RpcConnectionSettings("paging-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5), null, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance), CancellationToken.None);
        var names = new List<string>();
        var bulk = new byte[64];
        while (true)
        {
            using var frame = FrameBuffer.Rent();
            new GetParamRequest(GetParamFlags.None, bulk.Length, names.Count, ["obdfilter.*.uuid", "mdt.*.uuid"]).Write(frame.Body);
            using var reply = await connection.CallAsync(Opcode.GetParam, frame, default, bulk, 1000 + (ulong)names.Count, false, CancellationToken.None);
            Assert.Equal(0, reply.Status);
            var reader = reply.Reader;
            var page = GetParamReply.Read(ref reader, reply.BulkLength);
            Assert.InRange(reply.BulkLength, 1, bulk.Length);
            names.AddRange(page.Entries.Select(e => e.Name));
            if (!page.More)
            {
                break;
            }
        }

        Assert.Equal([.. Enumerable.Range(0, ClusterFixture.OstCount).Select(i => $"obdfilter.lustre-OST{i:X4}.uuid"), "mdt.lustre-MDT0000.uuid"], names);

        // One value alone larger than the room is cut, and says so.
        using var small = FrameBuffer.Rent();
        new GetParamRequest(GetParamFlags.None, 4, 0, ["mdt.*.uuid"]).Write(small.Body);
        using var cut = await connection.CallAsync(Opcode.GetParam, small, default, new byte[4], 2000, false, CancellationToken.None);
        var cutReader = cut.Reader;
        var entry = Assert.Single(GetParamReply.Read(ref cutReader, cut.BulkLength).Entries);
        Assert.Equal((ParamEntryFlags.Truncated, 4), (entry.Flags, entry.ValueLength));
    }

    [Fact]
    public async Task A_job_id_longer_than_Lustres_is_refused_at_connect()
    {
        await using var peer = await Rpc.RawPeer.ConnectAsync(fixture.Cluster.Endpoint);
        var (header, body, _) = await peer.CallAsync(Opcode.Connect, w => new ConnectRequest(FrameHeader.CurrentVersion, ProtocolFeatures.All, "raw-" + Guid.NewGuid().ToString("N"), new string('j', 32)).Write(w));

        Assert.Equal((int)LustreErrno.EPROTO, header.Status);
        Assert.Contains("job_id", Rpc.RawPeer.ErrorMessage(body), StringComparison.Ordinal);
    }
}
