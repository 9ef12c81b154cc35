using System.Buffers.Binary;
using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

/// <summary>Data-on-MDT components in the layout model, the codec and the stripe math.</summary>
public class DataOnMdtLayoutTests
{
    /// <summary>-E 64K -L mdt -E -1 -c 2, instantiated: the component on MDT 0, the rest on OSTs 0 and 1.</summary>
    private static FileLayout DomThenTwoStripes() => FileLayout.Composite(
    [
        LayoutComponent.DataOnMdt(K64, 0),
        new LayoutComponent(K64, LayoutComponent.Eof, K64, 2, 0, [new OstObject(0, 11), new OstObject(1, 12)]),
    ]);

    [Fact]
    public void A_Data_on_MDT_component_has_its_end_as_stripe_size_no_stripes_and_no_home_until_placed()
    {
        var template = LayoutComponent.DataOnMdt(K64);

        Assert.Equal((LayoutPattern.Mdt, 0L, K64, K64, 0, -1), (template.Pattern, template.Start, template.End, template.StripeSize, template.StripeCount, template.StripeOffset));
        Assert.True(template.IsOnMdt);
        Assert.False(template.IsInstantiated);
        Assert.Empty(template.Objects);
        Assert.True(template.OnMdt(0).IsInstantiated);
        Assert.Equal("[0, 65536) pattern=mdt mdt_index=0", template.OnMdt(0).ToString());
        Assert.Throws<InvalidOperationException>(() => template.WithObjects([new OstObject(0, 1)]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-K64)]
    [InlineData(K64 + 1)]
    [InlineData(LayoutDefaults.MaxDataOnMdtSize + K64)]
    public void A_Data_on_MDT_component_must_end_on_a_64_KiB_boundary_within_1_GiB(long end)
    {
        Assert.ThrowsAny<ArgumentException>(() => LayoutComponent.DataOnMdt(end));
    }

    [Fact]
    public void Only_the_first_component_of_a_composite_layout_can_be_on_the_MDT()
    {
        var second = Assert.Throws<ArgumentException>(() => FileLayout.Composite(
            [new LayoutComponent(0, K64, K64, 1), LayoutComponent.DataOnMdt(2 * K64), new LayoutComponent(2 * K64, LayoutComponent.Eof, K64, 1)]));
        Assert.Contains("only the first component", second.Message, StringComparison.Ordinal);

        // A layout of one Data-on-MDT component ends with it, and one with OST components may stop short too, as any PFL layout.
        Assert.Equal(K64, FileLayout.Composite([LayoutComponent.DataOnMdt(K64)]).End);
        Assert.Equal(4 * K64, FileLayout.Composite([LayoutComponent.DataOnMdt(K64), new LayoutComponent(K64, 4 * K64, K64, 1)]).End);
        Assert.Throws<ArgumentException>(() => FileLayout.Mirrored(2, FileLayout.Composite([LayoutComponent.DataOnMdt(K64)])));
    }

    [Fact]
    public void A_layout_of_the_component_alone_maps_nothing_past_its_end()
    {
        var layout = FileLayout.Composite([LayoutComponent.DataOnMdt(K64, 0)]);

        Assert.Throws<ArgumentOutOfRangeException>(() => layout.ComponentAt(K64));
        Assert.Throws<InvalidOperationException>(() => StripeMath.MapRange(layout, K64 - 1, 2, []));
        Assert.Equal(K64, layout.DataOnMdtEnd);
    }

    [Fact]
    public void Layouts_with_a_Data_on_MDT_component_round_trip_through_the_codec_with_Lustre_s_pattern_value()
    {
        foreach (var layout in new[] { DomThenTwoStripes().WithGeneration(7), FileLayout.Composite([LayoutComponent.DataOnMdt(16 * K64)]) })
        {
            var bytes = LayoutCodec.Encode(layout);
            Assert.Equal(LayoutCodec.MdtPattern, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(8 + 32)));
            var decoded = LayoutCodec.Decode(bytes);
            Assert.Equal(layout.ToString(), decoded.ToString());
            Assert.Equal(layout.DataOnMdtEnd, LayoutCodec.DataOnMdtEnd(bytes));
        }

        Assert.Equal(0, LayoutCodec.DataOnMdtEnd(LayoutCodec.Encode(FileLayout.Raid0())));
        Assert.Equal(0, LayoutCodec.DataOnMdtEnd([]));
    }

    [Theory]
    [InlineData(8 + 0, 1)] // start
    [InlineData(8 + 16, K64 * 2)] // stripe size other than the end
    [InlineData(8 + 24, 1)] // a stripe count
    public void A_stored_Data_on_MDT_component_with_values_it_cannot_have_is_refused(int field, long value)
    {
        var bytes = LayoutCodec.Encode(FileLayout.Composite([LayoutComponent.DataOnMdt(K64)]));
        if (field == 8 + 24)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field), (int)value);
        }
        else
        {
            BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(field), value);
        }

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("component 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapRange_gives_the_Data_on_MDT_part_of_a_range_whole_and_stripes_the_rest_as_a_layout_starting_past_it()
    {
        var layout = DomThenTwoStripes();
        var extents = new List<StripeExtent>();

        StripeMath.MapRange(layout, 100, (3 * K64) + 50, extents);

        Assert.Equal(new StripeExtent(0, 0, default, 100, 100, K64 - 100, OnMdt: true), extents[0]);
        Assert.Equal(new StripeExtent(1, 0, new OstObject(0, 11), 0, K64, K64), extents[1]);
        Assert.Equal(new StripeExtent(1, 1, new OstObject(1, 12), 0, 2 * K64, K64), extents[2]);
        Assert.Equal(new StripeExtent(1, 0, new OstObject(0, 11), K64, 3 * K64, 150), extents[3]);
        Assert.Equal(4, extents.Count);
    }

    [Fact]
    public void Object_sizes_count_only_the_bytes_past_the_Data_on_MDT_component()
    {
        var layout = DomThenTwoStripes();
        var sizes = new long[2];

        StripeMath.ObjectSizesForFileSize(layout, K64 - 1, sizes);
        Assert.Equal([0L, 0L], sizes);
        StripeMath.ObjectSizesForFileSize(layout, (2 * K64) + 3, sizes);
        Assert.Equal([K64, 3L], sizes);
        Assert.Equal((2 * K64) + 3, StripeMath.FileSizeFromObjectSizes(layout, sizes));
        Assert.Equal(0, StripeMath.FileSizeFromObjectSizes(FileLayout.Composite([LayoutComponent.DataOnMdt(K64, 0)]), []));
    }
}
