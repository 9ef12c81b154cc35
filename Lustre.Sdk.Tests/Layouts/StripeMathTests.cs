using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

public class StripeMathTests
{
    public static TheoryData<int> RealStripeCounts => new() { 1, 2, 3, 4 };

    [Fact]
    public void Locate_matches_a_byte_by_byte_walk_for_tiny_stripes()
    {
        for (var size = 1; size <= 7; size++)
        {
            for (var count = 1; count <= 5; count++)
            {
                var length = (5L * size * count) + size + 1;
                var (stripes, offsets) = Walk(length, size, count);
                for (long b = 0; b < length; b++)
                {
                    var (stripe, objectOffset) = StripeMath.Locate(b, size, count);
                    Assert.True(stripe == stripes[b] && objectOffset == offsets[b], $"size {size} count {count} byte {b}: got ({stripe}, {objectOffset}), model ({stripes[b]}, {offsets[b]})");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(RealStripeCounts))]
    public void MapRange_matches_the_model_for_raid0_layouts(int stripeCount)
    {
        var layout = Instantiate(FileLayout.Raid0(K64, stripeCount));
        CheckMapRangeAgainstModel(layout, limit: 4 * K64 * stripeCount);
    }

    [Fact]
    public void MapRange_matches_the_model_for_a_three_component_pfl_layout()
    {
        var layout = Instantiate(ThreeComponentPfl());
        CheckMapRangeAgainstModel(layout, limit: (8 * K64) + (3 * 3 * K64));
    }

    [Fact]
    public void MapRange_uses_offsets_relative_to_each_component_for_its_own_objects()
    {
        var layout = Instantiate(ThreeComponentPfl());
        var result = new List<StripeExtent>();

        StripeMath.MapRange(layout, 8 * K64, 1, result);

        var extent = Assert.Single(result);
        Assert.Equal(new StripeExtent(2, 0, new OstObject(0, 2001), 0, 8 * K64, 1), extent);
    }

    [Fact]
    public void MapRange_never_maps_two_file_bytes_to_the_same_object_byte()
    {
        foreach (var layout in new[] { Instantiate(FileLayout.Raid0(K64, 3)), Instantiate(ThreeComponentPfl()) })
        {
            var result = new List<StripeExtent>();
            StripeMath.MapRange(layout, 0, 40 * K64, result);
            var byObject = new Dictionary<OstObject, List<(long Start, long End)>>();
            foreach (var extent in result)
            {
                if (!byObject.TryGetValue(extent.Object, out var ranges))
                {
                    byObject[extent.Object] = ranges = [];
                }

                ranges.Add((extent.ObjectOffset, extent.ObjectOffset + extent.Length));
            }

            foreach (var (obj, ranges) in byObject)
            {
                ranges.Sort();
                for (var i = 1; i < ranges.Count; i++)
                {
                    Assert.True(ranges[i].Start >= ranges[i - 1].End, $"{layout}: object {obj} gets bytes [{ranges[i].Start}, {ranges[i].End}) twice");
                }
            }
        }
    }

    [Fact]
    public void MapRange_appends_nothing_for_an_empty_range()
    {
        var result = new List<StripeExtent>();
        StripeMath.MapRange(Instantiate(FileLayout.Raid0(K64, 2)), 12345, 0, result);
        Assert.Empty(result);
    }

    [Fact]
    public void MapRange_of_a_template_layout_throws_InvalidOperationException()
    {
        var result = new List<StripeExtent>();
        var ex = Assert.Throws<InvalidOperationException>(() => StripeMath.MapRange(FileLayout.Raid0(), 0, 10, result));
        Assert.Contains("component 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapRange_works_inside_instantiated_components_and_throws_past_them()
    {
        var layout = Instantiate(ThreeComponentPfl(), upToComponent: 0);
        var result = new List<StripeExtent>();

        StripeMath.MapRange(layout, 0, 2 * K64, result);
        Assert.Equal(2, result.Count);

        var ex = Assert.Throws<InvalidOperationException>(() => StripeMath.MapRange(layout, K64, 2 * K64, result));
        Assert.Contains("component 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MapRange_rejects_a_range_past_the_largest_offset()
    {
        var result = new List<StripeExtent>();
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => StripeMath.MapRange(Instantiate(FileLayout.Raid0(K64)), 10, long.MaxValue - 5, result));
        Assert.Equal("length", ex.ParamName);
    }

    [Fact]
    public void MapRange_maps_the_last_bytes_before_eof_without_overflow()
    {
        var layout = Instantiate(FileLayout.Raid0(K64, 4));
        var result = new List<StripeExtent>();
        StripeMath.MapRange(layout, long.MaxValue - 10, 10, result);

        var rel = long.MaxValue - 10;
        var unit = rel / K64;
        var extent = Assert.Single(result);
        Assert.Equal((int)(unit % 4), extent.StripeIndex);
        Assert.Equal((unit / 4 * K64) + (rel % K64), extent.ObjectOffset);
        Assert.Equal(10, extent.Length);
    }

    private static void CheckMapRangeAgainstModel(FileLayout layout, long limit)
    {
        var model = WalkLayout(layout, limit);

        // Every stripe and component boundary, one byte either side, and the ends.
        var points = new SortedSet<long> { 0, 1, limit - 1 };
        for (var p = K64; p < limit; p += K64)
        {
            points.Add(p - 1);
            points.Add(p);
            points.Add(p + 1);
        }

        var rowBytes = K64 * layout.Components[^1].StripeCount;
        long[] lengths = [0, 1, 2, K64 - 1, K64, K64 + 1, rowBytes - 1, rowBytes, rowBytes + 1, (2 * rowBytes) + 7];
        var result = new List<StripeExtent>();
        foreach (var offset in points)
        {
            foreach (var wanted in lengths)
            {
                var length = Math.Min(wanted, limit - offset);
                result.Clear();
                StripeMath.MapRange(layout, offset, length, result);
                CheckExtents(layout, model, offset, length, result);
            }

            // And everything from here to the limit.
            result.Clear();
            StripeMath.MapRange(layout, offset, limit - offset, result);
            CheckExtents(layout, model, offset, limit - offset, result);
        }
    }

    private static void CheckExtents(
        FileLayout layout,
        (int[] Component, int[] Stripe, OstObject[] Object, long[] ObjectOffset) model,
        long offset,
        long length,
        List<StripeExtent> result)
    {
        var position = offset;
        foreach (var extent in result)
        {
            var where = $"{layout} range [{offset}, +{length}) extent {extent}";
            Assert.True(extent.FileOffset == position, $"{where}: not contiguous, expected file offset {position}");
            Assert.True(extent.Length > 0, $"{where}: empty extent");

            var component = layout.Components[extent.ComponentIndex];
            var first = extent.FileOffset - component.Start;
            var last = first + extent.Length - 1;
            Assert.True(extent.FileOffset + extent.Length <= component.End, $"{where}: crosses the component end");
            Assert.True(first / component.StripeSize == last / component.StripeSize, $"{where}: crosses a stripe unit");

            for (long i = 0; i < extent.Length; i++)
            {
                var b = extent.FileOffset + i;
                if (model.Component[b] != extent.ComponentIndex || model.Stripe[b] != extent.StripeIndex
                    || model.Object[b] != extent.Object || model.ObjectOffset[b] != extent.ObjectOffset + i)
                {
                    Assert.Fail($"{where}: byte {b} maps to ({extent.Object}, {extent.ObjectOffset + i}), model says component {model.Component[b]} stripe {model.Stripe[b]} ({model.Object[b]}, {model.ObjectOffset[b]})");
                }
            }

            position += extent.Length;
        }

        Assert.True(position == offset + length, $"{layout} range [{offset}, +{length}): extents end at {position}");
    }
}
