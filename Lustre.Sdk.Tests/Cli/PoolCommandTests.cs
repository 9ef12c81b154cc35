using Lustre.Cli;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Tests.Cli;

/// <summary>OST pools end to end on a 4-OST cluster: lctl's pool commands, setstripe -p, the allocator, find and df.</summary>
public sealed class PoolCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    private async Task MakePoolAsync(string pool, params string[] osts)
    {
        (await cluster.RunAsync("lctl", "pool_new", $"lustre.{pool}")).ShouldSucceed();
        if (osts.Length > 0)
        {
            (await cluster.RunAsync(["lctl", "pool_add", $"lustre.{pool}", .. osts])).ShouldSucceed();
        }
    }

    private async Task<int[]> OstsOfAsync(string path) =>
        [.. (await cluster.Client.GetInfoAsync(path)).Layout!.Components.SelectMany(c => c.Objects).Select(o => o.OstIndex).Order()];

    [Fact]
    public async Task Pool_commands_print_as_lctl_and_pool_list_shows_what_they_did()
    {
        var created = (await cluster.RunAsync("lctl", "pool_new", "lustre.listed")).ShouldSucceed();
        Assert.Equal("Pool lustre.listed created", created.Error.Trim());

        var added = (await cluster.RunAsync("lctl", "pool_add", "lustre.listed", "lustre-OST[1-3/2]", "OST0000")).ShouldSucceed();
        Assert.Equal(
            ["OST lustre-OST0001_UUID added to pool lustre.listed", "OST lustre-OST0003_UUID added to pool lustre.listed", "OST lustre-OST0000_UUID added to pool lustre.listed"],
            added.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Contains("lustre.listed", (await cluster.RunAsync("lctl", "pool_list", "lustre")).ShouldSucceed().Lines);
        Assert.Equal("Pools from lustre:", (await cluster.RunAsync("lctl", "pool_list", "lustre")).Lines[0]);
        Assert.Equal(
            ["Pool: lustre.listed", "lustre-OST0000_UUID", "lustre-OST0001_UUID", "lustre-OST0003_UUID"],
            (await cluster.RunAsync("lctl", "pool_list", "lustre.listed")).ShouldSucceed().Lines);

        Assert.Equal(
            (await cluster.RunAsync("lctl", "pool_list", "lustre.listed")).Lines,
            (await cluster.RunAsync("lfs", "pool_list", "lustre.listed")).ShouldSucceed().Lines);
        var removed = (await cluster.RunAsync("lctl", "pool_remove", "lustre.listed", "lustre-OST0003_UUID")).ShouldSucceed();
        Assert.Equal("OST lustre-OST0003_UUID removed from pool lustre.listed", removed.Error.Trim());
        Assert.Equal([0, 1], (await cluster.Client.GetPoolsAsync()).Single(p => p.Name == "listed").OstIndexes);
    }

    [Fact]
    public async Task Destroying_a_pool_with_OSTs_is_refused_until_they_are_removed()
    {
        await MakePoolAsync("full", "OST[0-1]");

        var refused = await cluster.RunAsync("lctl", "pool_destroy", "lustre.full");
        Assert.Equal((1, "lctl: pool_destroy: pool lustre.full not empty, please remove all members (2 OSTs) (Directory not empty)"), (refused.ExitCode, refused.Error.Trim()));
        Assert.Contains("lustre.full", (await cluster.RunAsync("lctl", "pool_list", "lustre")).Lines);

        (await cluster.RunAsync("lctl", "pool_remove", "lustre.full", "OST[0-1]")).ShouldSucceed();
        Assert.Equal("Pool lustre.full destroyed", (await cluster.RunAsync("lctl", "pool_destroy", "lustre.full")).ShouldSucceed().Error.Trim());
        Assert.DoesNotContain("lustre.full", (await cluster.RunAsync("lctl", "pool_list", "lustre")).Lines);

        var gone = await cluster.RunAsync("lctl", "pool_list", "lustre.full");
        Assert.Equal((1, "lctl: pool_list: pool lustre.full not found (No such file or directory)"), (gone.ExitCode, gone.Error.Trim()));
    }

    [Fact]
    public async Task Each_refused_OST_is_reported_and_the_others_still_go()
    {
        await MakePoolAsync("partial", "OST0001");

        var result = await cluster.RunAsync("lctl", "pool_add", "lustre.partial", "OST[0-2]");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("lctl: pool_add: lustre-OST0001 is already in pool lustre.partial (File exists)", result.Error, StringComparison.Ordinal);
        Assert.Equal([0, 1, 2], (await cluster.Client.GetPoolsAsync()).Single(p => p.Name == "partial").OstIndexes);

        var unknown = await cluster.RunAsync("lctl", "pool_add", "lustre.partial", "OST0009");
        Assert.Equal((1, "lctl: pool_add: lustre-OST0009 is not part of the 'lustre' fs (No such file or directory)"), (unknown.ExitCode, unknown.Error.Trim()));
    }

    [Fact]
    public async Task The_SDK_changes_pools_and_refuses_with_the_exceptions_of_its_other_calls()
    {
        var client = cluster.Client;
        await client.CreatePoolAsync("sdk");
        await client.AddPoolOstAsync("sdk", 3);
        await client.AddPoolOstAsync("sdk", 1);
        Assert.Equal([1, 3], (await client.GetPoolsAsync()).Single(p => p.Name == "sdk").OstIndexes);

        Assert.Equal(Lustre.Protocol.LustreErrno.EEXIST, (await Assert.ThrowsAsync<LustreServerException>(() => client.CreatePoolAsync("sdk"))).Errno);
        Assert.Equal(Lustre.Protocol.LustreErrno.ENOTEMPTY, (await Assert.ThrowsAsync<LustreServerException>(() => client.DestroyPoolAsync("sdk"))).Errno);
        Assert.Contains("pool lustre.nosuch not found", (await Assert.ThrowsAsync<FileNotFoundException>(() => client.AddPoolOstAsync("nosuch", 1))).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<FileNotFoundException>(() => client.RemovePoolOstAsync("sdk", 2));
        Assert.Equal("pool", (await Assert.ThrowsAsync<ArgumentException>(() => client.CreatePoolAsync("lustre.sdk"))).ParamName);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => client.AddPoolOstAsync("sdk", -1));

        await client.RemovePoolOstAsync("sdk", 3);
        await client.RemovePoolOstAsync("sdk", 1);
        await client.DestroyPoolAsync("sdk");
        Assert.DoesNotContain(await client.GetPoolsAsync(), p => p.Name == "sdk");
    }

    [Theory]
    [InlineData("pool_new", "flash")]
    [InlineData("pool_new", "other.flash")]
    [InlineData("pool_new", "lustre.ignore")]
    [InlineData("pool_new", "lustre.sixteen_chars_xx")]
    [InlineData("pool_new", "lustre.a:b")]
    [InlineData("pool_add", "lustre.x", "other-OST0000")]
    [InlineData("pool_add", "lustre.x", "OST[3-1]")]
    public async Task Malformed_arguments_are_usage_errors(params string[] args)
    {
        var result = await cluster.RunAsync(["lctl", .. args]);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"lctl: {args[0]}: ", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "OST0002" }, new[] { 2 })]
    [InlineData(new[] { "lustre-OST000a" }, new[] { 10 })]
    [InlineData(new[] { "lustre-OST001F_UUID" }, new[] { 31 })]
    [InlineData(new[] { "lustre-OST[0-3]" }, new[] { 0, 1, 2, 3 })]
    [InlineData(new[] { "lustre-OST[0-3/2]" }, new[] { 0, 2 })]
    [InlineData(new[] { "OST[8-f/3]_UUID" }, new[] { 8, 11, 14 })]
    [InlineData(new[] { "OST[1,4-5]", "OST0009" }, new[] { 1, 4, 5, 9 })]
    public void OST_lists_are_read_as_lctl_reads_them(string[] arguments, int[] indexes) =>
        Assert.Equal(indexes, PoolCommands.ParseOsts(arguments, "lustre"));

    [Theory]
    [InlineData("OST2", "is not [lustre-]OSTXXXX[_UUID]")]
    [InlineData("MDT0000", "is not [lustre-]OSTXXXX[_UUID]")]
    [InlineData("scratch-OST0000", "does not start with fsname lustre")]
    [InlineData("OST[2-1]", "bad range '2-1'")]
    [InlineData("OST[0-4/0]", "bad step")]
    [InlineData("OST[x]", "bad range 'x'")]
    [InlineData("OST[10000]", "bad range '10000'")]
    public void Malformed_OST_lists_name_what_is_wrong(string argument, string message)
    {
        var error = Assert.Throws<FormatException>(() => PoolCommands.ParseOsts([argument], "lustre"));

        Assert.StartsWith("Wrong format for OST list: ", error.Message, StringComparison.Ordinal);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pool_restricted_directory_places_objects_only_on_its_pools_OSTs()
    {
        await MakePoolAsync("pair", "lustre-OST[1-2]");
        await cluster.Client.CreateDirectoryAsync("/pooled");
        (await cluster.RunAsync("lfs", "setstripe", "-c", "-1", "-p", "pair", "/pooled")).ShouldSucceed();

        // Files created under it, and under a directory made in it later, which takes its default with the pool.
        await cluster.Client.CreateDirectoryAsync("/pooled/sub");
        var files = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            files.Add($"/pooled/f{i}");
            files.Add($"/pooled/sub/f{i}");
        }

        var written = new Dictionary<string, byte[]>();
        foreach (var file in files)
        {
            written[file] = await cluster.WriteAsync(file, 3 << 20, layout: null);
        }

        (await cluster.RunAsync("touch", "/pooled/touched")).ShouldSucceed();
        files.Add("/pooled/touched");
        foreach (var file in files)
        {
            // -c -1 is every OST of the pool: two stripes, on OST1 and OST2, of all four OSTs.
            Assert.Equal(new[] { 1, 2 }, await OstsOfAsync(file));
            Assert.Equal("pair", (await cluster.Client.GetInfoAsync(file)).Layout!.Components[0].Pool);
        }

        Assert.Equal(
            ["/pooled", "stripe_count:  -1 stripe_size:   0 pattern:       raid0 stripe_offset: -1 pool:          pair"],
            (await cluster.RunAsync("lfs", "getstripe", "-d", "/pooled")).ShouldSucceed().Lines);
        var file0 = (await cluster.RunAsync("lfs", "getstripe", "/pooled/f0")).ShouldSucceed().Lines;
        Assert.Equal("lmm_pool:          pair", file0[6]);
        Assert.StartsWith("lmm_stripe_offset: ", file0[5], StringComparison.Ordinal);
        Assert.Equal("pair", (await cluster.RunAsync("lfs", "getstripe", "-p", "/pooled/f0")).ShouldSucceed().Output.Trim());
        Assert.Contains("lmm_pool:          pair", (await cluster.RunAsync("lfs", "getstripe", "-y", "/pooled/sub/f0")).ShouldSucceed().Lines);
        Assert.Equal(written["/pooled/sub/f1"], await cluster.ReadAsync("/pooled/sub/f1"));
    }

    [Fact]
    public async Task A_file_given_its_own_layout_in_a_pooled_directory_takes_the_directory_pool()
    {
        await MakePoolAsync("inherited", "OST0002");
        await cluster.Client.CreateDirectoryAsync("/inherits");
        (await cluster.RunAsync("lfs", "setstripe", "-p", "inherited", "/inherits")).ShouldSucceed();

        // -S alone: the count and the pool come from the directory above, as the other unset values do.
        (await cluster.RunAsync("lfs", "setstripe", "-S", "1M", "/inherits/own")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-S", "1M", "-p", "", "/inherits/none")).ShouldSucceed();

        var own = (await cluster.Client.GetInfoAsync("/inherits/own")).Layout!.Components[0];
        Assert.Equal(("inherited", 1 << 20), (own.Pool, own.StripeSize));
        Assert.Equal(new[] { 2 }, await OstsOfAsync("/inherits/own"));
        Assert.Equal("inherited", (await cluster.Client.GetInfoAsync("/inherits/none")).Layout!.Components[0].Pool);
    }

    [Fact]
    public async Task Setstripe_gives_each_component_its_pool_and_later_components_inherit_it()
    {
        await MakePoolAsync("solo", "OST0003");
        await cluster.Client.CreateDirectoryAsync("/pfl");

        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "-p", "lustre.solo", "-E", "2M", "-E", "-1", "-p", "", "-c", "2", "/pfl/f")).ShouldSucceed();
        await using (var file = await cluster.Client.OpenFileAsync("/pfl/f"))
        {
            await file.WriteAtAsync(2 << 20, new byte[10]); // every component gets its objects
        }

        var layout = (await cluster.Client.GetInfoAsync("/pfl/f")).Layout!;
        Assert.Equal(["solo", "solo", null], layout.Components.Select(c => c.Pool));
        Assert.Equal([3], layout.Components[0].Objects.Select(o => o.OstIndex));
        Assert.Equal([3], layout.Components[1].Objects.Select(o => o.OstIndex));
        Assert.Equal(2, layout.Components[2].Objects.Count);
        var lines = (await cluster.RunAsync("lfs", "getstripe", "/pfl/f")).ShouldSucceed().Lines;
        Assert.Equal(2, lines.Count(l => l == "      lmm_pool:          solo"));
    }

    [Fact]
    public async Task Setstripe_refuses_an_unknown_or_empty_pool_and_a_count_larger_than_the_pool()
    {
        await cluster.Client.CreateDirectoryAsync("/refused");
        await MakePoolAsync("hollow");
        await MakePoolAsync("small", "OST0000");

        async Task<string> RefusedAsync(params string[] args)
        {
            var result = await cluster.RunAsync(["lfs", "setstripe", .. args]);
            Assert.Equal(1, result.ExitCode);
            return result.Error.Trim();
        }

        Assert.Equal(
            "lfs: setstripe: '/refused': Invalid argument (pool 'lustre.nosuch' does not exist (lctl pool_list lustre lists the pools))",
            await RefusedAsync("-p", "nosuch", "/refused"));
        Assert.Equal(
            "lfs: setstripe: '/refused': Invalid argument (pool 'lustre.hollow' has no OSTs (lctl pool_add lustre.hollow OST... adds some))",
            await RefusedAsync("-p", "hollow", "/refused"));
        Assert.Equal(
            "lfs: setstripe: '/refused': Invalid argument (stripe count 2 is larger than pool 'lustre.small', which has 1 OSTs)",
            await RefusedAsync("-c", "2", "-p", "small", "/refused"));
        Assert.Equal(
            "lfs: setstripe: '/refused/file': Invalid argument (stripe count 3 is larger than pool 'lustre.small', which has 1 OSTs)",
            await RefusedAsync("-c", "3", "-p", "small", "/refused/file"));
        Assert.Contains("stripe offset 2 is not in pool 'lustre.small', whose OSTs are OST0000", await RefusedAsync("-i", "2", "-p", "small", "/refused"), StringComparison.Ordinal);
        Assert.False(await cluster.Client.ExistsAsync("/refused/file"));
        Assert.Null((await cluster.Client.GetInfoAsync("/refused")).DefaultLayout);

        var badName = await cluster.RunAsync("lfs", "setstripe", "-p", "no spaces", "/refused");
        Assert.Equal(2, badName.ExitCode);
        Assert.Contains("invalid pool name 'no spaces'", badName.Error, StringComparison.Ordinal);

        // -c -1 is the pool's OSTs, however many; and the SDK refuses as the command does.
        (await cluster.RunAsync("lfs", "setstripe", "-c", "-1", "-p", "small", "/refused")).ShouldSucceed();
        var sdk = await Assert.ThrowsAsync<LustreServerException>(() => cluster.Client.CreateFileAsync("/refused/sdk", FileLayout.Raid0(stripeCount: 2, pool: "small")));
        Assert.Equal(Lustre.Protocol.LustreErrno.EINVAL, sdk.Errno);
        Assert.Contains("'lustre.small', which has 1 OSTs", sdk.ServerMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_pool_made_a_moment_ago_is_usable_at_once_and_a_pool_destroyed_later_falls_back_to_every_OST()
    {
        // The MDS re-reads the configuration when a layout names a pool it does not know yet.
        await MakePoolAsync("fresh", "OST0002");
        await cluster.Client.CreateDirectoryAsync("/fresh");
        (await cluster.RunAsync("lfs", "setstripe", "-c", "-1", "-p", "fresh", "/fresh")).ShouldSucceed();
        await cluster.WriteAsync("/fresh/a", 1000, layout: null);
        Assert.Equal(new[] { 2 }, await OstsOfAsync("/fresh/a"));

        // As Lustre's LOD: a default naming a pool that no longer exists places on every OST; the files keep the name.
        (await cluster.RunAsync("lctl", "pool_remove", "lustre.fresh", "OST0002")).ShouldSucceed();
        (await cluster.RunAsync("lctl", "pool_destroy", "lustre.fresh")).ShouldSucceed();
        string? last = null;
        await WaitUntilAsync(async () =>
        {
            last = $"/fresh/b{Guid.NewGuid():N}";
            await cluster.WriteAsync(last, 1000, layout: null);
            return (await OstsOfAsync(last)).Length == CliClusterFixture.OstCount;
        });
        Assert.Equal("fresh", (await cluster.Client.GetInfoAsync(last!)).Layout!.Components[0].Pool);
    }

    [Fact]
    public async Task Mirrors_and_migrations_take_the_pools_they_are_given()
    {
        await MakePoolAsync("left", "OST[0-1]");
        await MakePoolAsync("right", "OST[2-3]");
        await cluster.Client.CreateDirectoryAsync("/placed");

        // One mirror on each pool, as a flash mirror and a disk mirror would be.
        (await cluster.RunAsync("lfs", "mirror", "create", "-N", "-c", "-1", "-p", "left", "-N", "-c", "-1", "-p", "right", "/placed/mirrored")).ShouldSucceed();
        var mirrors = (await cluster.Client.GetInfoAsync("/placed/mirrored")).Layout!.Mirrors;
        Assert.Equal([0, 1], mirrors[0].Layout.Components[0].Objects.Select(o => o.OstIndex).Order());
        Assert.Equal([2, 3], mirrors[1].Layout.Components[0].Objects.Select(o => o.OstIndex).Order());
        var extend = await cluster.RunAsync("lfs", "mirror", "extend", "-N", "-p", "nosuch", "/placed/mirrored");
        Assert.Equal(1, extend.ExitCode);
        Assert.Contains("pool 'lustre.nosuch' does not exist", extend.Error, StringComparison.Ordinal);

        var data = await cluster.WriteAsync("/placed/moved", 5 << 20, FileLayout.Raid0(1 << 20, 2, pool: "left"));
        (await cluster.RunAsync("lfs", "migrate", "-c", "2", "-p", "right", "/placed/moved")).ShouldSucceed();
        Assert.Equal(new[] { 2, 3 }, await OstsOfAsync("/placed/moved"));
        Assert.Equal(data, await cluster.ReadAsync("/placed/moved"));
    }

    [Fact]
    public async Task Find_pool_lists_the_files_with_a_component_in_the_pool()
    {
        await MakePoolAsync("found", "OST0001");
        await cluster.Client.CreateDirectoryAsync("/findpool");
        await cluster.WriteAsync("/findpool/in", 100, FileLayout.Raid0(pool: "found"));
        await cluster.WriteAsync("/findpool/out", 100, FileLayout.Raid0());
        await cluster.WriteAsync("/findpool/pfl", (1 << 20) + 100, FileLayout.Composite(
        [
            new LayoutComponent(0, 1 << 20, 1 << 20, 1),
            new LayoutComponent(1 << 20, LayoutComponent.Eof, 1 << 20, 1) { Pool = "found" },
        ]));

        async Task<string[]> FindAsync(params string[] args) =>
            [.. (await cluster.RunAsync(["lfs", "find", "/findpool", "-type", "f", .. args])).ShouldSucceed().Lines.Order(StringComparer.Ordinal)];

        Assert.Equal(["/findpool/in", "/findpool/pfl"], await FindAsync("--pool", "found"));
        Assert.Equal(["/findpool/in", "/findpool/pfl"], await FindAsync("-pool", "lustre.found"));
        Assert.Equal(["/findpool/out"], await FindAsync("!", "--pool", "found"));
        Assert.Equal(["/findpool/out", "/findpool/pfl"], await FindAsync("--pool", ""));
        Assert.Equal(["/findpool/in", "/findpool/pfl"], await FindAsync("--pool", "*"));
        Assert.Empty(await FindAsync("--pool", "other"));
    }

    [Fact]
    public async Task Df_pool_lists_only_the_pools_OSTs_and_sums_them()
    {
        await MakePoolAsync("dfpool", "OST0000", "OST0003");

        foreach (var pool in new[] { "dfpool", "lustre.dfpool" })
        {
            var rows = (await cluster.RunAsync("lfs", "df", "--pool", pool)).ShouldSucceed().Lines
                .Skip(1).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
            Assert.Equal(["lustre-MDT0000_UUID", "lustre-OST0000_UUID", "lustre-OST0003_UUID", "filesystem_summary:"], rows.Select(r => r[0]));
            var osts = rows.Where(r => r[0].StartsWith("lustre-OST", StringComparison.Ordinal)).ToList();
            for (var column = 1; column <= 3; column++)
            {
                Assert.Equal(osts.Sum(r => long.Parse(r[column], System.Globalization.CultureInfo.InvariantCulture)), long.Parse(rows[^1][column], System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        Assert.Equal(3, (await cluster.RunAsync("lfs", "df", "-p", "dfpool")).ShouldSucceed().Lines.Count(l => l.Contains("[OST:", StringComparison.Ordinal)) + 1);

        var unknown = await cluster.RunAsync("lfs", "df", "--pool", "nosuch");
        Assert.Equal((1, "lfs: df: pool 'lustre.nosuch' does not exist"), (unknown.ExitCode, unknown.Error.Trim()));
        var other = await cluster.RunAsync("lfs", "df", "--pool", "scratch.dfpool");
        Assert.Equal(1, other.ExitCode);
        Assert.Contains("filesystem name incorrect", other.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pools_survive_a_restart_of_the_cluster_and_the_MDS_places_by_them_after_it()
    {
        using var data = new TempFolder("lustre-pools-restart-");
        var options = new LustreClusterOptions { DataDirectory = data.Path, OstCount = 4 };
        await using (var first = await LustreCluster.StartAsync(options))
        {
            (await CliClusterFixture.Run(["lctl", "pool_new", "lustre.kept", "--mgs", first.Address])).ShouldSucceed();
            (await CliClusterFixture.Run(["lctl", "pool_add", "lustre.kept", "OST[2-3]", "--mgs", first.Address])).ShouldSucceed();
            (await CliClusterFixture.Run(["lctl", "pool_new", "lustre.spare", "--mgs", first.Address])).ShouldSucceed();
            (await CliClusterFixture.Run(["mkdir", "/kept", "--mgs", first.Address])).ShouldSucceed();
            (await CliClusterFixture.Run(["lfs", "setstripe", "-c", "-1", "-p", "kept", "/kept", "--mgs", first.Address])).ShouldSucceed();
        }

        await using var second = await LustreCluster.StartAsync(options);
        Assert.Equal(["Pools from lustre:", "lustre.kept", "lustre.spare"], (await CliClusterFixture.Run(["lctl", "pool_list", "lustre", "--mgs", second.Address])).ShouldSucceed().Lines);
        Assert.Equal(
            ["Pool: lustre.kept", "lustre-OST0002_UUID", "lustre-OST0003_UUID"],
            (await CliClusterFixture.Run(["lctl", "pool_list", "lustre.kept", "--mgs", second.Address])).ShouldSucceed().Lines);

        await using var client = new LustreClient(second.Address);
        var file = await client.OpenFileAsync("/kept/after", FileMode.CreateNew);
        await using (file)
        {
            await file.WriteAtAsync(0, new byte[4096]);
        }

        Assert.Equal([2, 3], (await client.GetInfoAsync("/kept/after")).Layout!.Components[0].Objects.Select(o => o.OstIndex).Order());
    }

    /// <summary>Tries until true, for what the MDS learns on its next refresh (every 2 s); fails after 30 s.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold within 30 s");
            await Task.Delay(200);
        }
    }
}
