using Lustre.Client;
using Lustre.Layouts;
using Lustre.Tests.Cluster;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Mirrors;

/// <summary>
/// Mirrored files on a cluster of separate OSS processes, one OST each, with OSSes killed (SIGKILL) and brought back:
/// reads fail over, writes mark the missed mirror stale and succeed, and a resync makes the mirrors identical again.
/// </summary>
public sealed class MirrorFailoverTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-mirror-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_mirrored_file_is_written_and_read_with_an_oss_gone_and_resynced_when_it_returns()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 3);
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

        // This call or the MDS's own resync (whichever begins first) copies mirror 2 back.
        var done = await client.ResyncMirrorsAsync("/ckpt/during");
        Assert.True(done is [] or [2], $"resynced mirrors [{string.Join(", ", done)}]");
        var synced = (await client.GetInfoAsync("/ckpt/during")).Layout!;
        Assert.All(synced.Mirrors, m => Assert.False(m.IsStale));
        var verify = await client.VerifyMirrorsAsync("/ckpt/during");
        Assert.True(verify.IsConsistent, string.Join("; ", verify.Differences));
        Assert.Equal([1, 2], verify.MirrorsCompared);
        Assert.Equal(during.Length, verify.Length);
        Assert.Empty(await client.ResyncMirrorsAsync("/ckpt/during"));
    }

    [Fact]
    public async Task The_MDS_resyncs_a_stale_mirror_by_itself_once_its_OSS_returns()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 2);
        await using var client = new LustreClient(cluster.Address);
        var layout = FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1));
        var data = RandomBytes(3 << 20, seed: 4);
        await using (var file = await client.OpenFileAsync("/auto", FileMode.CreateNew, layout: layout))
        {
            await file.WriteAtAsync(0, data.AsMemory(0, 1 << 20));
            await file.FlushAsync();
            await cluster.KillOssAsync(file.Layout.Mirrors[0].Layout.Components[0].Objects[0].OstIndex);
            await file.WriteAtAsync(1 << 20, data.AsMemory(1 << 20));
        }

        var stale = (await client.GetInfoAsync("/auto")).Layout!;
        var gone = Assert.Single(stale.Mirrors, m => m.IsStale);
        Assert.Equal(1, gone.Id);
        await cluster.RestartOssAsync(gone.Layout.Components[0].Objects[0].OstIndex, samePort: false);

        // No resync call: the MDS notices the OST is back and copies the file itself.
        FileLayout now = stale;
        for (var i = 0; i < 300 && now.Mirrors.Any(m => m.IsStale); i++)
        {
            await Task.Delay(100);
            now = (await client.GetInfoAsync("/auto")).Layout!;
        }

        Assert.All(now.Mirrors, m => Assert.False(m.IsStale, $"mirror {m.Id} still stale 30 s after its OSS returned\n{cluster.Output}"));
        Assert.True((await client.VerifyMirrorsAsync("/auto")).IsConsistent);

        // Mirror 2 gone too, reads come from mirror 1, which the MDS copied back.
        await cluster.KillOssAsync(now.Mirrors[1].Layout.Components[0].Objects[0].OstIndex);
        Assert.Equal(data, await ReadAsync(client, "/auto"));
    }

    [Fact]
    public async Task A_write_that_reaches_no_mirror_fails_and_later_flushes_fail_too()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 2);
        // A killed server's port refuses at once, so the connect timeout only bounds a server still starting: 1 s was
        // too short for the MDS's first connect on a loaded machine (a CI run failed on it).
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { MaxAttempts = 2, ConnectTimeout = TimeSpan.FromSeconds(5) });
        var file = await client.OpenFileAsync("/doomed", FileMode.CreateNew, layout: FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1)));
        await file.WriteAtAsync(0, RandomBytes(1 << 20, seed: 5));
        await file.FlushAsync();
        await cluster.KillOssAsync(0);
        await cluster.KillOssAsync(1);

        var ex = await Assert.ThrowsAnyAsync<LustreException>(() => file.WriteAtAsync(1 << 20, RandomBytes(1 << 20, seed: 6)).AsTask());
        Assert.Contains("OST", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<LustreException>(() => file.FlushAsync());
        await file.DisposeAsync();

        // The MDS still holds both mirrors in sync: neither could be blamed alone, so the file keeps both copies of what was acknowledged.
        Assert.All((await client.GetInfoAsync("/doomed")).Layout!.Mirrors, m => Assert.False(m.IsStale));
    }

    [Fact]
    public async Task Mirrors_are_split_and_extended_and_the_last_in_sync_mirror_is_kept()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 3);
        await using var client = new LustreClient(cluster.Address);
        var data = RandomBytes(2 << 20, seed: 7);
        await using (var file = await client.OpenFileAsync("/plain", FileMode.CreateNew, layout: FileLayout.Raid0(1L << 20, stripeCount: 1)))
        {
            await file.WriteAtAsync(0, data);
        }

        // A plain file becomes mirror 1; the new mirror is copied and in sync when the call returns.
        var extended = await client.ExtendMirrorsAsync("/plain", FileLayout.Raid0(1L << 20, stripeCount: 1));
        Assert.Equal([1, 2], extended.Mirrors.Select(m => m.Id));
        Assert.All(extended.Mirrors, m => Assert.False(m.IsStale));
        Assert.True((await client.VerifyMirrorsAsync("/plain")).IsConsistent);

        var third = await client.ExtendMirrorsAsync("/plain", FileLayout.Raid0(1L << 20, stripeCount: 1));
        Assert.Equal(3, third.Mirrors.Select(m => m.Layout.Components[0].Objects[0].OstIndex).Distinct().Count());
        var clash = await Assert.ThrowsAnyAsync<LustreException>(() => client.CreateFileAsync("/clash", FileLayout.Mirrored(2, FileLayout.Raid0(1L << 20, stripeCount: 1, stripeOffset: 0))));
        Assert.Contains("asks to start on OST 0, which another mirror of the file uses", clash.Message, StringComparison.Ordinal);
        Assert.False(await client.ExistsAsync("/clash"));
        var full = await Assert.ThrowsAnyAsync<LustreException>(() => client.ExtendMirrorsAsync("/plain", FileLayout.Raid0(1L << 20, stripeCount: 1)));
        Assert.Contains("OST", full.Message, StringComparison.Ordinal);

        var split = await client.SplitMirrorAsync("/plain", 1);
        Assert.Equal([2, 3], split.Mirrors.Select(m => m.Id));
        Assert.True(split.Generation > third.Generation);
        await client.SplitMirrorAsync("/plain", 2);
        var last = await Assert.ThrowsAnyAsync<LustreException>(() => client.SplitMirrorAsync("/plain", 3));
        Assert.Contains("only mirror", last.Message, StringComparison.Ordinal);
        var unknown = await Assert.ThrowsAnyAsync<LustreException>(() => client.SplitMirrorAsync("/plain", 9));
        Assert.Contains("no mirror 9", unknown.Message, StringComparison.Ordinal);

        Assert.Equal(data, await ReadAsync(client, "/plain"));
    }

    [Fact]
    public async Task Reads_go_to_the_preferred_mirror_first_and_never_touch_the_other_while_it_answers()
    {
        await using var cluster = await ProcessCluster.StartAsync(_data.Path, 2);
        await using var client = new LustreClient(cluster.Address);
        var plain = FileLayout.Raid0(1L << 20, stripeCount: 1);
        var layout = FileLayout.Mirrored([new LayoutMirror(1, plain, MirrorFlags.Prefer), new LayoutMirror(2, plain)]);
        var data = RandomBytes(2 << 20, seed: 8);
        await using (var file = await client.OpenFileAsync("/preferred", FileMode.CreateNew, layout: layout))
        {
            await file.WriteAtAsync(0, data);
            Assert.True(file.Layout.Mirrors[0].IsPreferred);
        }

        // Mirror 2's OSS gone. Without the preference a new handle tries mirror 2 first (reads take turns), fails
        // over, and remembers its OST as failed; with it, no read ever goes there.
        var other = (await client.GetInfoAsync("/preferred")).Layout!.Mirrors[1];
        await cluster.KillOssAsync(other.Layout.Components[0].Objects[0].OstIndex);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(data, await ReadAsync(client, "/preferred"));
        }

        Assert.False(client.Session.IsSuspect(other.Layout), "a read went to the mirror that is not preferred");
    }

    private static async Task WriteAsync(LustreClient client, string path, byte[] data)
    {
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew);
        await file.WriteAtAsync(0, data);
    }
}
