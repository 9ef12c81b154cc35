using Lustre.Layouts;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>The per-field resolution of a new file's layout: unset values from the nearest plain default that sets them, then the filesystem's.</summary>
public sealed class LayoutInheritanceTests
{
    private const long M = 1 << 20;
    private static readonly FileLayout Filesystem = FileLayout.Raid0(4 * M, 1);

    [Fact]
    public void A_default_with_only_the_stripe_size_takes_the_count_of_the_nearest_default_above_that_sets_one()
    {
        var sub = FileLayout.Raid0(stripeSize: 2 * M, stripeCount: 0);
        var wide = FileLayout.Raid0(stripeSize: M, stripeCount: -1);
        var root = FileLayout.Raid0(stripeSize: 0, stripeCount: 3);

        var resolved = LayoutInheritance.Resolve(sub, [sub, wide, root], Filesystem).Components[0];

        Assert.Equal((2 * M, -1, -1), (resolved.StripeSize, resolved.StripeCount, resolved.StripeOffset));
    }

    [Fact]
    public void Values_no_directory_sets_come_from_the_filesystem_default()
    {
        var resolved = LayoutInheritance.Resolve(FileLayout.Raid0(0, 0), [FileLayout.Raid0(0, 0, 2)], FileLayout.Raid0(8 * M, 2)).Components[0];

        Assert.Equal((8 * M, 2, 2), (resolved.StripeSize, resolved.StripeCount, resolved.StripeOffset));
    }

    [Fact]
    public void A_complete_template_is_returned_as_it_is()
    {
        var template = FileLayout.Raid0(M, 2, 1);

        Assert.Same(template, LayoutInheritance.Resolve(template, [FileLayout.Raid0(2 * M, 4, 3)], Filesystem));
    }

    [Fact]
    public void Composite_and_mirrored_defaults_give_no_values()
    {
        var pfl = FileLayout.Composite([new LayoutComponent(0, M, M, 1), new LayoutComponent(M, LayoutComponent.Eof, 2 * M, 4)]);
        var mirrored = FileLayout.Mirrored(2, FileLayout.Raid0(2 * M, 3));

        var resolved = LayoutInheritance.Resolve(FileLayout.Raid0(0, 0), [pfl, mirrored], Filesystem).Components[0];

        Assert.Equal((4 * M, 1), (resolved.StripeSize, resolved.StripeCount));
    }

    [Fact]
    public void Each_component_of_a_pfl_template_is_filled_in_but_no_stripe_offset_is_inherited()
    {
        var template = FileLayout.Composite([new LayoutComponent(0, M, 0, 1), new LayoutComponent(M, LayoutComponent.Eof, M, 0)]);

        var resolved = LayoutInheritance.Resolve(template, [FileLayout.Raid0(2 * M, 4, 3)], Filesystem);

        Assert.True(resolved.IsComposite);
        Assert.Equal([(2 * M, 1, -1), (M, 4, -1)], resolved.Components.Select(c => (c.StripeSize, c.StripeCount, c.StripeOffset)));
        Assert.Equal([(0L, M), (M, LayoutComponent.Eof)], resolved.Components.Select(c => (c.Start, c.End)));
    }

    [Fact]
    public void Every_mirror_is_filled_in()
    {
        var template = FileLayout.Mirrored([FileLayout.Raid0(0, 2), FileLayout.Raid0(M, 0)]);

        var resolved = LayoutInheritance.Resolve(template, [], Filesystem);

        Assert.Equal([(4 * M, 2), (M, 1)], resolved.Mirrors.Select(m => (m.Layout.Components[0].StripeSize, m.Layout.Components[0].StripeCount)));
        Assert.All(resolved.Mirrors, m => Assert.Equal(-1, m.Layout.Components[0].StripeOffset));
    }

    [Fact]
    public void A_plain_default_that_sets_nothing_means_no_default()
    {
        Assert.True(LayoutInheritance.SetsNothing(FileLayout.Raid0(0, 0, -1)));
        Assert.False(LayoutInheritance.SetsNothing(FileLayout.Raid0(0, 0, 1)));
        Assert.False(LayoutInheritance.SetsNothing(FileLayout.Raid0(M, 0)));
        Assert.False(LayoutInheritance.SetsNothing(FileLayout.Composite([new LayoutComponent(0, LayoutComponent.Eof, 0, 0)])));
    }

    [Fact]
    public void A_component_without_a_pool_takes_the_nearest_default_pool_and_keeps_its_own()
    {
        var pooled = FileLayout.Raid0(M, 2, pool: "flash");
        var nearer = FileLayout.Raid0(0, 0, pool: "disk");
        var template = FileLayout.Composite([new LayoutComponent(0, M, M, 1), new LayoutComponent(M, LayoutComponent.Eof, M, 2) { Pool = "mine" }]);

        Assert.Equal("flash", LayoutInheritance.Resolve(FileLayout.Raid0(M, 1, 0), [pooled], Filesystem).Components[0].Pool);
        Assert.Equal("disk", LayoutInheritance.Resolve(FileLayout.Raid0(M, 1, 0), [nearer, pooled], Filesystem).Components[0].Pool);
        Assert.Equal(["flash", "mine"], LayoutInheritance.Resolve(template, [pooled], Filesystem).Components.Select(c => c.Pool));
        Assert.Null(LayoutInheritance.Resolve(FileLayout.Raid0(M, 1, 0), [FileLayout.Raid0(M, 4)], Filesystem).Components[0].Pool);
    }

    [Fact]
    public void A_data_on_mdt_component_is_kept_as_it_is()
    {
        var template = FileLayout.Composite([LayoutComponent.DataOnMdt(64 * 1024), new LayoutComponent(64 * 1024, LayoutComponent.Eof, 0, 0)]);

        var resolved = LayoutInheritance.Resolve(template, [FileLayout.Raid0(M, 3, pool: "flash")], Filesystem);

        Assert.Same(template.Components[0], resolved.Components[0]);
        Assert.Equal((M, 3, "flash"), (resolved.Components[1].StripeSize, resolved.Components[1].StripeCount, resolved.Components[1].Pool));
    }

    [Fact]
    public void A_default_that_names_only_a_pool_sets_something()
    {
        Assert.False(LayoutInheritance.SetsNothing(FileLayout.Raid0(0, 0, -1, pool: "flash")));
    }
}
