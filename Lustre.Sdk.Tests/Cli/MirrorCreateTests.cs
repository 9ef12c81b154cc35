using Lustre.Layouts;

namespace Lustre.Tests.Cli;

/// <summary><c>lfs mirror create</c> and <c>lfs setstripe -N</c>: the -N groups, directories, and what is refused.</summary>
public sealed class MirrorCreateTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    [Fact]
    public async Task Each_N_group_has_its_own_options_and_inherits_count_and_size_from_the_one_before()
    {
        (await cluster.RunAsync("lfs", "mirror", "create", "-N", "-c", "2", "-S", "1M", "-N2", "-c", "1", "/groups")).ShouldSucceed();

        var layout = (await cluster.Client.GetInfoAsync("/groups")).Layout!;
        Assert.Equal([1, 2, 3], layout.Mirrors.Select(m => m.Id));
        Assert.Equal([2, 1, 1], layout.Mirrors.Select(m => m.Layout.Components[0].StripeCount));
        Assert.All(layout.Mirrors, m => Assert.Equal(1L << 20, m.Layout.Components[0].StripeSize));
        var osts = layout.Mirrors.SelectMany(m => m.Layout.Components[0].Objects).Select(o => o.OstIndex).ToList();
        Assert.Equal(osts.Count, osts.Distinct().Count());

        // A plain mirror after a PFL one: without its own -S it takes the last stripe size given.
        (await cluster.RunAsync("lfs", "mirror", "create", "-N", "-E", "1M", "-c", "1", "-E", "-1", "-c", "2", "-S", "2M", "-N", "-c", "1", "/pfl-mirror")).ShouldSucceed();
        var pfl = (await cluster.Client.GetInfoAsync("/pfl-mirror")).Layout!;
        Assert.Equal([1L << 20, LayoutComponent.Eof], pfl.Mirrors[0].Layout.Components.Select(c => c.End));
        Assert.False(pfl.Mirrors[1].Layout.IsComposite);
        Assert.Equal((1, 2L << 20), (pfl.Mirrors[1].Layout.Components[0].StripeCount, pfl.Mirrors[1].Layout.Components[0].StripeSize));
        var lines = (await cluster.RunAsync("lfs", "getstripe", "/pfl-mirror")).ShouldSucceed().Lines;
        Assert.Equal(["    lcme_id:             65537", "    lcme_id:             65538", "    lcme_id:             131075"], lines.Where(l => l.Contains("lcme_id", StringComparison.Ordinal)));
        Assert.Contains("  lcm_entry_count:   3", lines);
    }

    [Fact]
    public async Task A_count_that_the_other_mirrors_leave_no_room_for_is_capped_with_a_warning()
    {
        var result = (await cluster.RunAsync("lfs", "mirror", "create", "-N2", "-c", "3", "/capped")).ShouldSucceed();

        Assert.Equal("lfs: mirror create: warning: mirror 2: stripe count 3 is larger than the 1 OSTs that other mirrors do not use: it will be capped at 1", result.Error.Trim());
        var layout = (await cluster.Client.GetInfoAsync("/capped")).Layout!;
        Assert.Equal([3, 1], layout.Mirrors.Select(m => m.Layout.Components[0].Objects.Count));
    }

    [Fact]
    public async Task A_directory_gets_a_mirrored_default_that_new_files_take()
    {
        await cluster.Client.CreateDirectoryAsync("/mirrored-dir");
        (await cluster.RunAsync("lfs", "mirror", "create", "-N2", "-c", "1", "-S", "1M", "/mirrored-dir")).ShouldSucceed();

        var directory = (await cluster.Client.GetInfoAsync("/mirrored-dir")).DefaultLayout!;
        Assert.Equal(2, directory.MirrorCount);
        var shown = (await cluster.RunAsync("lfs", "getstripe", "-d", "/mirrored-dir")).ShouldSucceed().Lines;
        Assert.Contains("  lcm_mirror_count:  2", shown);
        Assert.Equal(["    lcme_flags:          0", "    lcme_flags:          0"], shown.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)));

        var data = await cluster.WriteAsync("/mirrored-dir/child", 3 << 20, layout: null);
        var child = (await cluster.Client.GetInfoAsync("/mirrored-dir/child")).Layout!;
        Assert.Equal(2, child.MirrorCount);
        Assert.All(child.Mirrors, m => Assert.False(m.IsStale));
        Assert.Equal(data, await cluster.ReadAsync("/mirrored-dir/child"));
    }

    [Fact]
    public async Task Setstripe_N_is_mirror_create()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-N3", "-c", "1", "/setstripe-n")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-N", "/setstripe-bare")).ShouldSucceed();

        Assert.Equal(3, (await cluster.Client.GetInfoAsync("/setstripe-n")).Layout!.MirrorCount);
        var bare = (await cluster.Client.GetInfoAsync("/setstripe-bare")).Layout!;
        Assert.True(bare.IsMirrored);
        Assert.Equal(1, bare.MirrorCount);
    }

    [Theory]
    [InlineData("mirror", "create")]
    [InlineData("setstripe")]
    public async Task Mirror_create_refuses_an_existing_file_and_leaves_it_as_it_was(params string[] command)
    {
        var path = $"/existing-{command[^1]}";
        var data = await cluster.WriteAsync(path, 100_000, FileLayout.Raid0(stripeCount: 1));
        var before = (await cluster.Client.GetInfoAsync(path)).Layout!;

        var result = await cluster.RunAsync(["lfs", .. command, "-N2", path]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"lfs: {string.Join(' ', command)}: '{path}': File exists (lfs mirror extend adds mirrors to an existing file)", result.Error.Trim());
        var after = (await cluster.Client.GetInfoAsync(path)).Layout!;
        Assert.False(after.IsMirrored);
        Assert.Equal(before.ToString(), after.ToString());
        Assert.Equal(data, await cluster.ReadAsync(path));
    }

    [Theory]
    [InlineData("bad mirror count: 0: use 1 to 4 (a file has at most 4 mirrors)", "-N0")]
    [InlineData("bad mirror count: 5: use 1 to 4 (a file has at most 4 mirrors)", "-N5")]
    [InlineData("too many mirrors: 5 asked for, a file has at most 4", "-N2", "-c", "1", "-N3")]
    [InlineData("bad mirror count: 2x: use 1 to 4 (a file has at most 4 mirrors)", "-N", "2x")]
    [InlineData("bad mirror count: -1: use 1 to 4 (a file has at most 4 mirrors)", "-N", "-1")]
    public async Task A_bad_mirror_count_is_refused_naming_it_and_creates_nothing(string message, params string[] options)
    {
        var target = $"/bad-count{string.Concat(options)}";

        var result = await cluster.RunAsync(["lfs", "mirror", "create", .. options, target]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"lfs: mirror create: {message}", result.Error.Trim());
        Assert.False(await cluster.Client.ExistsAsync(target));
    }

    [Fact]
    public async Task More_mirrors_than_free_osts_is_refused_and_creates_nothing()
    {
        var result = await cluster.RunAsync("lfs", "mirror", "create", "-N2", "-c", "2", "-N2", "/no-room");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("lfs: mirror create: '/no-room': No space left on device (mirror 3 needs OSTs that no other mirror of the file uses, and none of the 4 OSTs is left (in use by other mirrors, inactive or full))", result.Error.Trim());
        Assert.False(await cluster.Client.ExistsAsync("/no-room"));
    }
}
