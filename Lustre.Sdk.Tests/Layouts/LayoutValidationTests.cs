using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

public class LayoutValidationTests
{
    [Fact]
    public void Raid0_defaults_are_4_MiB_one_stripe_allocator_chooses()
    {
        var layout = FileLayout.Raid0();

        var component = Assert.Single(layout.Components);
        Assert.Equal(4L << 20, component.StripeSize);
        Assert.Equal(1, component.StripeCount);
        Assert.Equal(-1, component.StripeOffset);
        Assert.Equal(0, component.Start);
        Assert.Equal(LayoutComponent.Eof, component.End);
        Assert.False(layout.IsComposite);
        Assert.False(layout.IsInstantiated);
        Assert.Empty(component.Objects);
    }

    [Theory]
    [InlineData(-K64)]
    [InlineData(100_000)]
    [InlineData(K64 + 1)]
    [InlineData(4L << 30)]
    [InlineData(8L << 30)]
    public void Stripe_size_not_0_or_a_multiple_of_64_KiB_below_4_GiB_is_rejected(long stripeSize)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => FileLayout.Raid0(stripeSize));
        Assert.Equal("stripeSize", ex.ParamName);
    }

    [Fact]
    public void Stripe_size_just_below_4_GiB_is_accepted()
    {
        Assert.Equal(LayoutDefaults.MaxStripeSize, FileLayout.Raid0(LayoutDefaults.MaxStripeSize).Components[0].StripeSize);
    }

    [Fact]
    public void Unaligned_stripe_size_message_names_the_alignment()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Raid0(100_000));
        Assert.Contains("multiple of 65536", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-2)]
    [InlineData(2001)]
    public void Stripe_count_below_minus_one_or_above_2000_is_rejected(int stripeCount)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => FileLayout.Raid0(stripeCount: stripeCount));
        Assert.Equal("stripeCount", ex.ParamName);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2000)]
    public void Stripe_count_all_default_or_1_to_2000_is_accepted(int stripeCount)
    {
        Assert.Equal(stripeCount, FileLayout.Raid0(stripeCount: stripeCount).Components[0].StripeCount);
    }

    [Fact]
    public void A_template_may_leave_count_size_and_offset_to_the_default()
    {
        var component = Assert.Single(FileLayout.Raid0(stripeSize: 0, stripeCount: 0, stripeOffset: -1).Components);

        Assert.Equal((0L, 0, -1), (component.StripeSize, component.StripeCount, component.StripeOffset));
        Assert.False(component.IsInstantiated);
    }

    [Fact]
    public void An_instantiated_component_needs_a_stripe_size()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, 0, 1, 0, [new OstObject(0, 1)]));
        Assert.Equal("stripeSize", ex.ParamName);
        Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, 0, 1).WithObjects([new OstObject(0, 1)]));
    }

    [Fact]
    public void Stripe_offset_below_minus_one_is_rejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => FileLayout.Raid0(stripeOffset: -2));
        Assert.Equal("stripeOffset", ex.ParamName);
    }

    [Theory]
    [InlineData(-K64, K64, "start")]
    [InlineData(1, K64, "start")]
    [InlineData(K64, K64, "end")]
    [InlineData(2 * K64, K64, "end")]
    [InlineData(0, K64 + 7, "end")]
    public void Component_extent_must_be_aligned_and_not_empty(long start, long end, string parameter)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => new LayoutComponent(start, end, K64, 1));
        Assert.Equal(parameter, ex.ParamName);
    }

    [Fact]
    public void Objects_must_match_the_stripe_count()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, K64, 2, 0, [new OstObject(0, 1)]));
        Assert.Equal("objects", ex.ParamName);
        Assert.Contains("stripe count is 2", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Objects_with_a_stripe_count_of_all_are_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, K64, -1, -1, [new OstObject(0, 1)]));
        Assert.Equal("objects", ex.ParamName);
    }

    [Fact]
    public void The_same_object_twice_in_a_component_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, K64, 2, 0, [new OstObject(3, 9), new OstObject(3, 9)]));
        Assert.Contains("appears twice", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_object_in_two_components_is_rejected()
    {
        var first = new LayoutComponent(0, K64, K64, 1, 0, [new OstObject(0, 7)]);
        var second = new LayoutComponent(K64, LayoutComponent.Eof, K64, 1, 0, [new OstObject(0, 7)]);
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite([first, second]));
        Assert.Contains("component 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WithObjects_instantiates_with_count_and_offset_from_the_objects()
    {
        var template = new LayoutComponent(0, LayoutComponent.Eof, K64, -1);

        var component = template.WithObjects([new OstObject(5, 1), new OstObject(2, 2), new OstObject(7, 3)]);

        Assert.True(component.IsInstantiated);
        Assert.False(template.IsInstantiated);
        Assert.Equal(3, component.StripeCount);
        Assert.Equal(5, component.StripeOffset);
        Assert.Equal(new OstObject(2, 2), component.Objects[1]);
    }

    [Fact]
    public void Objects_are_copied_so_the_caller_cannot_change_a_layout()
    {
        var objects = new[] { new OstObject(0, 1), new OstObject(1, 2) };
        var component = new LayoutComponent(0, LayoutComponent.Eof, K64, 2, 0, objects);

        objects[0] = new OstObject(9, 9);

        Assert.Equal(new OstObject(0, 1), component.Objects[0]);
        Assert.IsNotType<OstObject[]>(component.Objects);
    }

    [Fact]
    public void Pfl_components_that_overlap_are_rejected_naming_both()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite(
        [
            new LayoutComponent(0, 4 * K64, K64, 1),
            new LayoutComponent(2 * K64, LayoutComponent.Eof, K64, 2),
        ]));
        Assert.Equal("components", ex.ParamName);
        Assert.Contains($"component 1 starts at {2 * K64} but component 0 ends at {4 * K64}: extents must be contiguous", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfl_components_with_a_hole_are_rejected_naming_both()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite(
        [
            new LayoutComponent(0, 4 * K64, K64, 1),
            new LayoutComponent(4 * K64, 8 * K64, K64, 1),
            new LayoutComponent(16 * K64, LayoutComponent.Eof, K64, 2),
        ]));
        Assert.Contains($"component 2 starts at {16 * K64} but component 1 ends at {8 * K64}", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfl_first_component_not_at_zero_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite([new LayoutComponent(K64, LayoutComponent.Eof, K64, 1)]));
        Assert.Contains("component 0 starts at 65536", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfl_may_stop_short_of_eof_and_no_component_holds_the_bytes_past_it()
    {
        var layout = FileLayout.Composite(
        [
            new LayoutComponent(0, 4 * K64, K64, 1),
            new LayoutComponent(4 * K64, 8 * K64, K64, 1),
        ]);

        Assert.Equal(8 * K64, layout.End);
        Assert.Same(layout.Components[1], layout.ComponentAt((8 * K64) - 1));
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => layout.ComponentAt(8 * K64));
        Assert.Contains("the layout ends at 524288", ex.Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => StripeMath.MapRange(Instantiate(layout), 7 * K64, 2 * K64, []));
    }

    [Fact]
    public void Plain_layout_must_reach_eof()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Raid0().WithComponents([new LayoutComponent(0, 4 * K64, K64, 1)]));
        Assert.Contains("a plain layout must extend to EOF", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void InstantiatedEnd_is_the_end_of_the_leading_instantiated_components()
    {
        var template = ThreeComponentPfl();
        var first = template.WithComponents([template.Components[0].WithObjects([new OstObject(0, 1)]), template.Components[1], template.Components[2]]);

        Assert.Equal(0, template.InstantiatedEnd);
        Assert.Equal(template.Components[0].End, first.InstantiatedEnd);
        Assert.Equal(LayoutComponent.Eof, Instantiate(template).InstantiatedEnd);
    }

    [Fact]
    public void Pfl_with_no_components_is_rejected()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite([]));
        Assert.Contains("at least one component", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfl_with_more_than_64_components_is_rejected()
    {
        var components = new List<LayoutComponent>();
        for (var i = 0; i < 64; i++)
        {
            components.Add(new LayoutComponent(i * K64, (i + 1) * K64, K64, 1));
        }

        components.Add(new LayoutComponent(64 * K64, LayoutComponent.Eof, K64, 1));

        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Composite(components));
        Assert.Contains("at most 64 components, got 65", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pfl_with_64_components_is_accepted()
    {
        Assert.Equal(64, FileLayout.Composite(BuildMaxPfl()).Components.Count);
    }

    [Fact]
    public void A_single_component_composite_layout_stays_composite()
    {
        var layout = FileLayout.Composite([new LayoutComponent(0, LayoutComponent.Eof, K64, 2)]);

        Assert.True(layout.IsComposite);
        Assert.True(Instantiate(layout).IsComposite);
        Assert.True(layout.WithGeneration(4).IsComposite);
    }

    [Fact]
    public void A_plain_layout_cannot_take_several_components()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Raid0().WithComponents(ThreeComponentPfl().Components));
        Assert.Contains("exactly one component", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Layout_is_instantiated_only_when_every_component_is()
    {
        Assert.False(Instantiate(ThreeComponentPfl(), upToComponent: 1).IsInstantiated);
        Assert.True(Instantiate(ThreeComponentPfl()).IsInstantiated);
    }

    [Fact]
    public void WithGeneration_changes_only_the_generation()
    {
        var layout = Instantiate(ThreeComponentPfl());

        var next = layout.WithGeneration(7);

        Assert.Equal(7u, next.Generation);
        Assert.Equal(0u, layout.Generation);
        Assert.Equal(layout.Components, next.Components);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(2 * K64 - 1, 0)]
    [InlineData(2 * K64, 1)]
    [InlineData(8 * K64 - 1, 1)]
    [InlineData(8 * K64, 2)]
    [InlineData(long.MaxValue - 1, 2)]
    public void ComponentAt_finds_the_component_holding_the_offset(long offset, int expected)
    {
        var layout = ThreeComponentPfl();
        Assert.Same(layout.Components[expected], layout.ComponentAt(offset));
    }

    [Fact]
    public void ComponentAt_rejects_a_negative_offset()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => ThreeComponentPfl().ComponentAt(-1));
        Assert.Equal("fileOffset", ex.ParamName);
    }

    [Fact]
    public void ToString_shows_kind_generation_extents_and_objects()
    {
        Assert.Equal("raid0 generation=0 [0, EOF) stripe_size=4194304 stripe_count=1 stripe_offset=-1", FileLayout.Raid0().ToString());

        var text = Instantiate(ThreeComponentPfl()).WithGeneration(3).ToString();
        Assert.Equal(
            "composite generation=3 components=3\n"
            + "  0: [0, 131072) stripe_size=65536 stripe_count=1 stripe_offset=0 objects=[0:0x1]\n"
            + "  1: [131072, 524288) stripe_size=65536 stripe_count=2 stripe_offset=0 objects=[0:0x3e9, 1:0x3ea]\n"
            + "  2: [524288, EOF) stripe_size=65536 stripe_count=3 stripe_offset=0 objects=[0:0x7d1, 1:0x7d2, 2:0x7d3]",
            text);
    }

    private static LayoutComponent[] BuildMaxPfl()
    {
        var components = new LayoutComponent[64];
        for (var i = 0; i < 63; i++)
        {
            components[i] = new LayoutComponent(i * K64, (i + 1) * K64, K64, 1);
        }

        components[63] = new LayoutComponent(63 * K64, LayoutComponent.Eof, K64, 1);
        return components;
    }
}
