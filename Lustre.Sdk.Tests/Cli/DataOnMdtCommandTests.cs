namespace Lustre.Tests.Cli;

/// <summary>
/// Data-on-MDT from the command line: <c>lfs setstripe -E 64K -L mdt -E -1 -c -1</c>, <c>lfs getstripe</c> printing the
/// component as lfs does, the refusals lfs makes, <c>lfs find -L mdt</c> and <c>lfs migrate</c> out of it.
/// </summary>
public sealed class DataOnMdtCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Setstripe_L_mdt_makes_the_first_component_Data_on_MDT_and_getstripe_prints_it_as_lfs()
    {
        (await cluster.RunAsync("mkdir", "/dom")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-E", "64K", "-L", "mdt", "-E", "-1", "-c", "-1", "/dom/f")).ShouldSucceed();

        // The OST component gets its objects when a write first reaches it (lazy, as Lustre).
        await using (var file = await cluster.Client.OpenFileAsync("/dom/f"))
        {
            await file.WriteAtAsync(64 << 10, new byte[10]);
        }

        var lines = (await cluster.RunAsync("lfs", "getstripe", "/dom/f")).ShouldSucceed().Output.Split('\n');

        Assert.Equal(
            [
                "/dom/f",
                "  lcm_layout_gen:    1",
                "  lcm_mirror_count:  1",
                "  lcm_entry_count:   2",
                "    lcme_id:             1",
                "    lcme_mirror_id:      0",
                "    lcme_flags:          init",
                "    lcme_extent.e_start: 0",
                "    lcme_extent.e_end:   65536",
                "      lmm_stripe_count:  0",
                "      lmm_stripe_size:   65536",
                "      lmm_pattern:       mdt",
                "      lmm_layout_gen:    0",
                "      lmm_mdt_index:     0",
                string.Empty,
                "    lcme_id:             2",
                "    lcme_mirror_id:      0",
                "    lcme_flags:          init",
                "    lcme_extent.e_start: 65536",
                "    lcme_extent.e_end:   EOF",
                $"      lmm_stripe_count:  {CliClusterFixture.OstCount}",
                "      lmm_stripe_size:   4194304",
                "      lmm_pattern:       raid0",
            ],
            lines[..23]);
        Assert.Equal(CliClusterFixture.OstCount, lines.Count(l => l.Contains("l_ost_idx", StringComparison.Ordinal)));

        var yaml = (await cluster.RunAsync("lfs", "getstripe", "-y", "/dom/f")).ShouldSucceed().Lines;
        Assert.Contains("    lmm_pattern:       mdt", yaml);
        Assert.Contains("    lmm_mdt_index:     0", yaml);
    }

    [Fact]
    public async Task A_directory_default_with_L_mdt_is_a_template_and_its_files_get_the_component()
    {
        (await cluster.RunAsync("mkdir", "/domdir")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-E", "256K", "-L", "mdt", "-E", "-1", "-c", "2", "/domdir")).ShouldSucceed();
        (await cluster.RunAsync("touch", "/domdir/f")).ShouldSucceed();

        var directory = (await cluster.RunAsync("lfs", "getstripe", "-d", "/domdir")).ShouldSucceed().Lines;
        Assert.Equal(["    lcme_flags:          0", "    lcme_flags:          0"], directory.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));
        Assert.Contains("      lmm_mdt_index:     -1", directory);
        Assert.Contains("      lmm_stripe_size:   262144", directory);

        var file = (await cluster.RunAsync("lfs", "getstripe", "/domdir/f")).ShouldSucceed().Lines;
        Assert.Contains("      lmm_mdt_index:     0", file);
        Assert.Contains("      lmm_pattern:       mdt", file);
        Assert.True((await cluster.Client.GetInfoAsync("/domdir/f")).Layout!.Components[0].IsOnMdt);
    }

    [Theory]
    [InlineData("'mdt' layout can be only the first one", "-E 64K -c 1 -E -1 -L mdt")]
    [InlineData("-L mdt needs -E END", "-L mdt")]
    [InlineData("Option 'stripe-count' can't be specified with Data-on-MDT component: 2", "-E 64K -L mdt -c 2 -E -1")]
    [InlineData("Option 'stripe-size' can't be specified with Data-on-MDT component: 131072", "-E 64K -L mdt -S 128K -E -1")]
    [InlineData("Option 'pool' can't be specified with Data-on-MDT component: flash", "-E 64K -L mdt -p flash -E -1")]
    [InlineData("'mdt' layout size is too big", "-E 2G -L mdt -E -1")]
    [InlineData("layout 'raid6' is unknown, supported layouts are: 'mdt', 'raid0'", "-E 64K -L raid6 -E -1")]
    public async Task Setstripe_refuses_what_lfs_refuses_of_a_Data_on_MDT_component(string error, string options)
    {
        var path = "/refused-" + Guid.NewGuid().ToString("N");

        var result = await cluster.RunAsync(["lfs", "setstripe", .. options.Split(' '), path]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains(error, result.Error, StringComparison.Ordinal);
        Assert.False(await cluster.Client.ExistsAsync(path));
    }

    [Fact]
    public async Task A_component_over_the_MDS_limit_is_refused_naming_the_limit()
    {
        var result = await cluster.RunAsync("lfs", "setstripe", "-E", "2M", "-L", "mdt", "-E", "-1", "/toobig");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("1048576", result.Error, StringComparison.Ordinal);
        Assert.Contains("dom_stripesize", result.Error, StringComparison.Ordinal);
        Assert.False(await cluster.Client.ExistsAsync("/toobig"));
    }

    [Fact]
    public async Task Find_L_mdt_finds_the_Data_on_MDT_files_and_migrate_takes_one_out_of_the_MDT()
    {
        (await cluster.RunAsync("mkdir", "/found")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-E", "64K", "-L", "mdt", "/found/only")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-E", "64K", "-L", "mdt", "-E", "-1", "-c", "1", "/found/both")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "1", "/found/plain")).ShouldSucceed();

        Assert.Equal(["/found/both", "/found/only"], Sorted((await cluster.RunAsync("lfs", "find", "/found", "-L", "mdt")).ShouldSucceed().Lines));
        Assert.Equal(["/found/both", "/found/plain"], Sorted((await cluster.RunAsync("lfs", "find", "/found", "-type", "f", "-L", "raid0")).ShouldSucceed().Lines));

        (await cluster.RunAsync("lfs", "migrate", "-c", "2", "/found/only")).ShouldSucceed();

        var lines = (await cluster.RunAsync("lfs", "getstripe", "/found/only")).ShouldSucceed().Lines;
        Assert.Contains("lmm_stripe_count:  2", lines);
        Assert.Contains("lmm_pattern:       raid0", lines);
        Assert.Equal(["/found/both"], Sorted((await cluster.RunAsync("lfs", "find", "/found", "-L", "mdt")).ShouldSucceed().Lines));
    }

    private static string[] Sorted(string[] lines) => [.. lines.Order(StringComparer.Ordinal)];
}
