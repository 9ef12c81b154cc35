using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary>
/// Issue 24's layout cases through the CLI as an administrator types them: a <c>-c -1</c> directory whose copied tree
/// is striped over every OST, defaults that leave values unset, <c>-c 0 -S 0 -i -1</c>, and lazily instantiated PFL
/// components as <c>lfs getstripe</c> shows them.
/// </summary>
public sealed class LayoutInheritanceCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>, IDisposable
{
    private readonly TempFolder _local = new("lustre-inherit-");

    public void Dispose() => _local.Dispose();

    private async Task<FileLayout> LayoutOf(string path) => (await cluster.Client.GetInfoAsync(path)).Layout!;

    [Fact]
    public async Task A_tree_copied_into_a_wide_directory_has_every_file_on_every_OST()
    {
        (await cluster.RunAsync("mkdir", "/wide")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "-1", "/wide")).ShouldSucceed();
        (await cluster.RunAsync("mkdir", "/wide/sub")).ShouldSucceed();
        var tree = Path.Combine(_local.Path, "tree");
        string[] names = ["top.bin", "a/one.bin", "a/b/two.bin", "a/b/c/three.bin"];
        foreach (var name in names)
        {
            var path = Path.Combine(tree, name);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            await File.WriteAllBytesAsync(path, new byte[(5 << 20) + name.Length]);
        }

        (await cluster.RunAsync("cp", "-r", tree, "lustre:/wide")).ShouldSucceed();
        (await cluster.RunAsync("cp", "-r", tree, "lustre:/wide/sub")).ShouldSucceed();

        foreach (var root in new[] { "/wide/tree/", "/wide/sub/tree/" })
        {
            foreach (var name in names)
            {
                var component = Assert.Single((await LayoutOf(root + name)).Components);
                Assert.Equal(Enumerable.Range(0, CliClusterFixture.OstCount), component.Objects.Select(o => o.OstIndex).Order());
            }
        }

        // The copied directories took the default too, so what is created in them later is as wide.
        var deep = (await cluster.RunAsync("lfs", "getstripe", "-d", "/wide/sub/tree/a/b")).ShouldSucceed();
        Assert.Equal(["/wide/sub/tree/a/b", "stripe_count:  -1 stripe_size:   0 pattern:       raid0 stripe_offset: -1"], deep.Lines);
    }

    [Fact]
    public async Task A_default_with_only_a_stripe_size_keeps_the_parents_stripe_count()
    {
        (await cluster.RunAsync("mkdir", "/four")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "4", "-S", "1M", "/four")).ShouldSucceed();
        (await cluster.RunAsync("mkdir", "/four/sub")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-S", "4M", "/four/sub")).ShouldSucceed();
        (await cluster.RunAsync("touch", "/four/sub/f")).ShouldSucceed();

        Assert.Equal(["/four/sub", "stripe_count:  0 stripe_size:   4194304 pattern:       raid0 stripe_offset: -1"], (await cluster.RunAsync("lfs", "getstripe", "-d", "/four/sub")).ShouldSucceed().Lines);
        Assert.Equal("4", (await cluster.RunAsync("lfs", "getstripe", "-c", "/four/sub/f")).ShouldSucceed().Output.Trim());
        Assert.Equal("4194304", (await cluster.RunAsync("lfs", "getstripe", "-S", "/four/sub/f")).ShouldSucceed().Output.Trim());
    }

    [Fact]
    public async Task Count_0_size_0_and_index_minus_1_mean_the_default()
    {
        (await cluster.RunAsync("mkdir", "/zero")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "2", "-S", "256K", "-i", "1", "/zero")).ShouldSucceed();

        // On a new file: every value from the directory.
        (await cluster.RunAsync("lfs", "setstripe", "-c", "0", "-S", "0", "-i", "-1", "/zero/f")).ShouldSucceed();
        var component = Assert.Single((await LayoutOf("/zero/f")).Components);
        Assert.Equal((256L << 10, 2, 1), (component.StripeSize, component.StripeCount, component.Objects[0].OstIndex));

        // On a directory: a default that sets nothing is no default, as in Lustre.
        (await cluster.RunAsync("lfs", "setstripe", "-c", "0", "-S", "0", "-i", "-1", "/zero")).ShouldSucceed();
        Assert.Equal(["/zero"], (await cluster.RunAsync("lfs", "getstripe", "-d", "/zero")).ShouldSucceed().Lines);

        // Still refused: a count below -1 and a size that is not a multiple of 64 KiB.
        Assert.Equal(2, (await cluster.RunAsync("lfs", "setstripe", "-c", "-2", "/zero/g")).ExitCode);
        Assert.Equal(2, (await cluster.RunAsync("lfs", "setstripe", "-S", "100K", "/zero/g")).ExitCode);
    }

    [Fact]
    public async Task Getstripe_shows_init_and_objects_only_for_the_components_a_write_reached()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "-E", "-1", "-c", "-1", "/lazy")).ShouldSucceed();
        await using (var file = await cluster.Client.OpenFileAsync("/lazy"))
        {
            await file.WriteAtAsync(0, new byte[1000]);
        }

        var before = (await cluster.RunAsync("lfs", "getstripe", "/lazy")).ShouldSucceed().Lines;
        Assert.Equal(["    lcme_flags:          init", "    lcme_flags:          0"], before.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));
        Assert.Single(before, l => l.Contains("l_ost_idx", StringComparison.Ordinal));
        Assert.Single(before, l => l.Contains("lmm_objects:", StringComparison.Ordinal));

        await using (var file = await cluster.Client.OpenFileAsync("/lazy"))
        {
            await file.WriteAtAsync(2 << 20, new byte[1000]);
        }

        var after = (await cluster.RunAsync("lfs", "getstripe", "/lazy")).ShouldSucceed().Lines;
        Assert.Equal(["    lcme_flags:          init", "    lcme_flags:          init"], after.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));
        Assert.Equal(1 + CliClusterFixture.OstCount, after.Count(l => l.Contains("l_ost_idx", StringComparison.Ordinal)));
        Assert.Contains("  lcm_layout_gen:    1", after);
    }
}
