using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Tests.Cli;

/// <summary><c>lfs setstripe --component-add</c> and <c>--component-del</c> on existing files, with lfs's checks and messages.</summary>
public sealed class ComponentCommandTests(CliClusterFixture cluster) : IClassFixture<CliClusterFixture>
{
    private async Task AssertEndsAsync(string path, params long[] ends) =>
        Assert.Equal(ends, (await cluster.Client.GetInfoAsync(path)).Layout!.Components.Select(c => c.End));

    [Fact]
    public async Task Comp_add_appends_after_the_last_component_and_comp_del_removes_from_the_end()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "-E", "64M", "-c", "2", "/grow")).ShouldSucceed();
        await AssertEndsAsync("/grow", 1L << 20, 64L << 20);

        (await cluster.RunAsync("lfs", "setstripe", "--component-add", "-E", "256M", "-c", "3", "-E", "-1", "-c", "-1", "/grow")).ShouldSucceed();
        await AssertEndsAsync("/grow", 1L << 20, 64L << 20, 256L << 20, long.MaxValue);
        var listing = (await cluster.RunAsync("lfs", "getstripe", "/grow")).ShouldSucceed().Lines;
        Assert.Equal(["    lcme_id:             1", "    lcme_id:             2", "    lcme_id:             3", "    lcme_id:             4"], listing.Where(l => l.Contains("lcme_id", StringComparison.Ordinal)));
        Assert.Equal(["init", "0", "0", "0"], listing.Where(l => l.Contains("lcme_flags", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]));

        (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "4", "/grow")).ShouldSucceed();
        await AssertEndsAsync("/grow", 1L << 20, 64L << 20, 256L << 20);
        (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "--comp-flags", "^init", "/grow")).ShouldSucceed();
        await AssertEndsAsync("/grow", 1L << 20);
        (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "eof", "-c", "2", "/grow")).ShouldSucceed();
        await AssertEndsAsync("/grow", 1L << 20, long.MaxValue);
    }

    [Fact]
    public async Task Refusals_are_worded_as_lfs_and_change_nothing()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "-E", "8M", "-c", "2", "/short")).ShouldSucceed();
        (await cluster.RunAsync("lfs", "setstripe", "-c", "1", "/plain")).ShouldSucceed();
        (await cluster.RunAsync("mkdir", "/comps")).ShouldSucceed();

        var instantiated = await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "1", "/short");
        Assert.Equal(1, instantiated.ExitCode);
        Assert.StartsWith("lfs: setstripe: cannot delete component 0x1 from '/short': Invalid argument (", instantiated.Error, StringComparison.Ordinal);
        Assert.Contains("would leave a hole", instantiated.Error, StringComparison.Ordinal);

        var init = await cluster.RunAsync("lfs", "setstripe", "--comp-del", "--comp-flags", "init", "/short");
        Assert.Equal(1, init.ExitCode);
        Assert.Contains("only components without objects can be deleted", init.Error, StringComparison.Ordinal);

        var plain = await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "-1", "/plain");
        Assert.Equal("lfs: setstripe: '/plain' not a composite file", plain.Error.Trim());

        (await cluster.RunAsync("lfs", "setstripe", "-N2", "-c", "1", "/mirrored")).ShouldSucceed();
        Assert.StartsWith("lfs: setstripe: Add layout component(s) to /mirrored failed. Device or resource busy", (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "-1", "/mirrored")).Error, StringComparison.Ordinal);
        Assert.StartsWith("lfs: setstripe: cannot delete component 0x1 from '/mirrored': Device or resource busy (", (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "1", "/mirrored")).Error, StringComparison.Ordinal);

        var directory = await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "1", "/comps");
        Assert.Equal((2, "lfs: setstripe: cannot use --component-add or --component-del for directory"), (directory.ExitCode, directory.Error.Trim()));

        // Usage errors, exit 2, before any file is looked at.
        Assert.Equal("lfs: setstripe: option -E must be specified with --component-add", (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-c", "2", "/short")).Error.Trim());
        Assert.Equal("lfs: setstripe: neither flags nor component ID is specified", (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "/short")).Error.Trim());
        Assert.Equal("lfs: setstripe: option -I can only be used with --component-del", (await cluster.RunAsync("lfs", "setstripe", "-I", "1", "/short")).Error.Trim());
        Assert.Equal("lfs: setstripe: options --component-del, --component-add and -d are mutually exclusive", (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "--comp-del", "-E", "-1", "/short")).Error.Trim());
        Assert.Equal("lfs: setstripe: invalid component ID 'x'", (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "x", "/short")).Error.Trim());
        Assert.Equal(2, (await cluster.RunAsync("lfs", "setstripe", "--comp-del", "-I", "2", "-c", "1", "/short")).ExitCode);

        (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "-1", "-c", "1", "/short")).ShouldSucceed();
        var full = await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "-1", "-c", "1", "/short");
        Assert.StartsWith("lfs: setstripe: Add layout component(s) to /short failed. Invalid argument", full.Error, StringComparison.Ordinal);
        await AssertEndsAsync("/short", 1L << 20, 8L << 20, long.MaxValue);
    }

    [Fact]
    public async Task A_write_past_a_layout_that_stops_short_fails_until_a_component_is_added()
    {
        (await cluster.RunAsync("lfs", "setstripe", "-E", "1M", "-c", "1", "/stop")).ShouldSucceed();
        await using var file = await cluster.Client.OpenFileAsync("/stop");

        var refused = await Assert.ThrowsAsync<LustreServerException>(async () => await file.WriteAtAsync(1 << 20, new byte[10]));
        Assert.Equal(LustreErrno.ENODATA, refused.Errno);

        (await cluster.RunAsync("lfs", "setstripe", "--comp-add", "-E", "-1", "-c", "2", "/stop")).ShouldSucceed();
        await file.WriteAtAsync(1 << 20, new byte[10]);
        await file.FlushAsync();
        Assert.Equal((1 << 20) + 10, (await cluster.Client.GetInfoAsync("/stop")).Length);
        Assert.True((await cluster.Client.GetInfoAsync("/stop")).Layout!.IsInstantiated);
    }
}
