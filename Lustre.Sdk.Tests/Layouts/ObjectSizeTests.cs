using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

public class ObjectSizeTests
{
    // (start, end) of components in raw units: one from 0 to EOF, one in the middle of a file.
    public static TheoryData<long, long> Extents => new() { { 0, LayoutComponent.Eof }, { 5, 5 + 37 } };

    [Theory]
    [MemberData(nameof(Extents))]
    public void Object_sizes_for_every_file_size_match_the_model(long start, long end)
    {
        for (var size = 1; size <= 7; size++)
        {
            for (var count = 1; count <= 5; count++)
            {
                var limit = Math.Min(end, start + (4L * size * count) + 3);
                for (var fileSize = 0L; fileSize <= limit + 2; fileSize++)
                {
                    // Object size = highest object offset written + 1, for bytes [start, min(fileSize, end)).
                    var written = Math.Max(0, Math.Min(fileSize, end) - start);
                    var (stripes, offsets) = Walk(written, size, count);
                    var expected = new long[count];
                    for (var b = 0; b < written; b++)
                    {
                        expected[stripes[b]] = Math.Max(expected[stripes[b]], offsets[b] + 1);
                    }

                    for (var stripe = 0; stripe < count; stripe++)
                    {
                        var actual = StripeMath.ObjectSizeForFileSize(fileSize, start, end, size, count, stripe);
                        Assert.True(expected[stripe] == actual, $"size {size} count {count} extent [{start}, {end}) file size {fileSize} stripe {stripe}: got {actual}, model {expected[stripe]}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Extents))]
    public void File_size_from_each_object_size_matches_the_model(long start, long end)
    {
        for (var size = 1; size <= 7; size++)
        {
            for (var count = 1; count <= 5; count++)
            {
                // A bounded component is walked whole; an endless one for more rows than the object sizes tried reach.
                var length = end == LayoutComponent.Eof ? 8L * size * count : end - start;
                var (stripes, offsets) = Walk(length, size, count);
                for (var stripe = 0; stripe < count; stripe++)
                {
                    // The model: the file offset of the object's last byte, + 1; past the component's bytes, the component end.
                    for (var objectSize = 0L; objectSize <= (5L * size) + 2; objectSize++)
                    {
                        var expected = objectSize == 0 ? 0 : end;
                        for (var b = 0; b < length; b++)
                        {
                            if (stripes[b] == stripe && offsets[b] == objectSize - 1)
                            {
                                expected = start + b + 1;
                            }
                        }

                        var actual = StripeMath.FileSizeFromObjectSize(objectSize, start, end, size, count, stripe);
                        Assert.True(expected == actual, $"size {size} count {count} extent [{start}, {end}) stripe {stripe} object size {objectSize}: got {actual}, model {expected}");
                    }
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Extents))]
    public void Glimpse_of_truncated_objects_gives_back_the_file_size(long start, long end)
    {
        for (var size = 1; size <= 7; size++)
        {
            for (var count = 1; count <= 5; count++)
            {
                var limit = Math.Min(end, start + (4L * size * count) + 3);
                for (var fileSize = 0L; fileSize <= limit + 2; fileSize++)
                {
                    long glimpsed = 0;
                    for (var stripe = 0; stripe < count; stripe++)
                    {
                        var objectSize = StripeMath.ObjectSizeForFileSize(fileSize, start, end, size, count, stripe);
                        glimpsed = Math.Max(glimpsed, StripeMath.FileSizeFromObjectSize(objectSize, start, end, size, count, stripe));
                    }

                    // A component only knows the part of the file inside its extent.
                    var expected = fileSize <= start ? 0 : Math.Min(fileSize, end);
                    Assert.True(expected == glimpsed, $"size {size} count {count} extent [{start}, {end}) file size {fileSize}: glimpse {glimpsed}");
                }
            }
        }
    }

    [Fact]
    public void File_size_from_a_huge_object_size_clips_to_the_component_end_instead_of_overflowing()
    {
        Assert.Equal(LayoutComponent.Eof, StripeMath.FileSizeFromObjectSize(long.MaxValue, 0, LayoutComponent.Eof, LayoutDefaults.MaxStripeSize, 2000, 1999));
        Assert.Equal(8 * K64, StripeMath.FileSizeFromObjectSize(long.MaxValue / 2, 2 * K64, 8 * K64, K64, 2, 1));
    }

    [Fact]
    public void Layout_object_sizes_for_a_file_size_glimpse_back_to_that_size()
    {
        var layout = Instantiate(ThreeComponentPfl());
        Assert.Equal(1 + 2 + 3, layout.ObjectCount);
        var sizes = new long[layout.ObjectCount];
        var points = new List<long>();
        for (var p = 0L; p <= 20 * K64; p += K64)
        {
            points.AddRange([p, p + 1, Math.Max(0, p - 1), p + 12345]);
        }

        foreach (var fileSize in points)
        {
            StripeMath.ObjectSizesForFileSize(layout, fileSize, sizes);
            Assert.Equal(fileSize, StripeMath.FileSizeFromObjectSizes(layout, sizes));
        }
    }

    [Fact]
    public void Layout_object_sizes_put_the_first_component_bytes_on_its_object_only()
    {
        var layout = Instantiate(ThreeComponentPfl());
        var sizes = new long[layout.ObjectCount];

        StripeMath.ObjectSizesForFileSize(layout, (2 * K64) + 100, sizes);

        Assert.Equal([2 * K64, 100, 0, 0, 0, 0], sizes);
    }

    [Fact]
    public void Layout_object_sizes_reaching_an_uninstantiated_component_throw()
    {
        var layout = Instantiate(ThreeComponentPfl(), upToComponent: 0);
        var sizes = new long[layout.ObjectCount];

        StripeMath.ObjectSizesForFileSize(layout, 2 * K64, sizes);
        Assert.Equal([2 * K64], sizes);

        var ex = Assert.Throws<InvalidOperationException>(() => StripeMath.ObjectSizesForFileSize(layout, (2 * K64) + 1, sizes));
        Assert.Contains("component 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Layout_object_sizes_need_one_entry_per_object()
    {
        var layout = Instantiate(ThreeComponentPfl());
        var ex = Assert.Throws<ArgumentException>(() => StripeMath.FileSizeFromObjectSizes(layout, new long[5]));
        Assert.Equal("objectSizes", ex.ParamName);
    }
}
