using Lustre.Client;
using Lustre.Layouts;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Namespace;

/// <summary>
/// Directory defaults as Lustre's: copied into new directories, and the values a default (or a create's own layout)
/// leaves unset — stripe count 0, stripe size 0, stripe offset -1 — filled in when a file is created, from the
/// directories above, then the filesystem's default (4 MiB, 1 stripe here).
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class DefaultLayoutTests(ClusterFixture fixture)
{
    private const long M = 1 << 20;

    private LustreClient Client => fixture.Client;

    private async Task<LayoutComponent> FirstComponentOf(string path) => (await Client.GetInfoAsync(path)).Layout!.Components[0];

    [Fact]
    public async Task A_default_with_only_a_stripe_size_gives_new_files_the_stripe_count_of_the_directory_above()
    {
        var wide = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(wide, FileLayout.Raid0(M, -1));
        await Client.CreateDirectoryAsync(wide + "/sub");
        await Client.SetDirectoryLayoutAsync(wide + "/sub", FileLayout.Raid0(stripeSize: 2 * M, stripeCount: 0));

        var file = await Client.CreateFileAsync(wide + "/sub/f");

        var component = Assert.Single(file.Layout!.Components);
        Assert.Equal(2 * M, component.StripeSize);
        Assert.Equal(Enumerable.Range(0, ClusterFixture.OstCount), component.Objects.Select(o => o.OstIndex).Order());

        // The default is kept as set: the count stays "the default", resolved for each new file.
        Assert.Equal(0, (await Client.GetInfoAsync(wide + "/sub")).DefaultLayout!.Components[0].StripeCount);
    }

    [Fact]
    public async Task Values_no_directory_sets_come_from_the_filesystem_default()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(stripeSize: 0, stripeCount: 2));

        var component = Assert.Single((await Client.CreateFileAsync(dir + "/f")).Layout!.Components);

        Assert.Equal((LayoutDefaults.DefaultStripeSize, 2), (component.StripeSize, component.Objects.Count));
    }

    [Fact]
    public async Task An_unset_stripe_index_takes_the_index_a_directory_above_sets()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(M, 2, stripeOffset: 3));
        await Client.CreateDirectoryAsync(dir + "/sub");
        await Client.SetDirectoryLayoutAsync(dir + "/sub", FileLayout.Raid0(2 * M, 0, stripeOffset: -1));

        var component = await FirstComponentOf((await Client.CreateFileAsync(dir + "/sub/f")).Path);

        Assert.Equal(3, component.Objects[0].OstIndex);
        Assert.Equal((2 * M, 2), (component.StripeSize, component.StripeCount));
    }

    [Fact]
    public async Task A_layout_given_at_create_leaving_values_unset_takes_them_from_the_directories()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(M, 3));

        var plain = Assert.Single((await Client.CreateFileAsync(dir + "/p", FileLayout.Raid0(stripeSize: 0, stripeCount: 2))).Layout!.Components);
        var pfl = (await Client.CreateFileAsync(dir + "/c", FileLayout.Composite([new LayoutComponent(0, M, 2 * M, 0), new LayoutComponent(M, LayoutComponent.Eof, 0, 1)]))).Layout!;

        Assert.Equal((M, 2), (plain.StripeSize, plain.StripeCount));
        Assert.Equal([(2 * M, 3), (M, 1)], pfl.Components.Select(c => (c.StripeSize, c.StripeCount)));
    }

    [Fact]
    public async Task A_default_that_sets_nothing_removes_the_directory_default()
    {
        var dir = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(M, 3));

        await Client.SetDirectoryLayoutAsync(dir, FileLayout.Raid0(stripeSize: 0, stripeCount: 0, stripeOffset: -1));

        Assert.Null((await Client.GetInfoAsync(dir)).DefaultLayout);
        Assert.Equal((LayoutDefaults.DefaultStripeSize, 1), await FirstComponentOf((await Client.CreateFileAsync(dir + "/f")).Path) is var c ? (c.StripeSize, c.StripeCount) : default);
    }

    [Fact]
    public async Task A_deep_tree_keeps_a_wide_default_and_a_directory_whose_default_was_removed_takes_the_filesystem_default()
    {
        var wide = await fixture.NewDirectoryAsync();
        await Client.SetDirectoryLayoutAsync(wide, FileLayout.Raid0(M, -1));
        await Client.CreateDirectoryAsync(wide + "/a");
        await Client.CreateDirectoryAsync(wide + "/a/b");
        await Client.CreateDirectoryAsync(wide + "/plain");
        await Client.SetDirectoryLayoutAsync(wide + "/plain", null);

        Assert.Equal(ClusterFixture.OstCount, (await FirstComponentOf((await Client.CreateFileAsync(wide + "/a/b/f")).Path)).Objects.Count);

        // As Lustre: a directory without a default gives its files the root's, else the filesystem's, not its parent's.
        Assert.Single((await FirstComponentOf((await Client.CreateFileAsync(wide + "/plain/f")).Path)).Objects);
    }
}
