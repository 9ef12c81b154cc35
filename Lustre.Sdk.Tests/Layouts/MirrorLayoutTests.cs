using Lustre.Layouts;

namespace Lustre.Tests.Layouts;

/// <summary>Mirrored (FLR) layouts: their rules, and their binary form next to version 1.</summary>
public class MirrorLayoutTests
{
    private static FileLayout Instantiated(params int[] osts) =>
        FileLayout.Raid0(1L << 20, osts.Length).WithComponents(
            [FileLayout.Raid0(1L << 20, osts.Length).Components[0].WithObjects([.. osts.Select((o, i) => new OstObject(o, 100 + (ulong)o))])]);

    [Fact]
    public void A_mirrored_layout_round_trips_with_ids_flags_and_objects()
    {
        var layout = FileLayout.Create(
            [
                new LayoutMirror(1, Instantiated(0, 1), MirrorFlags.Prefer),
                new LayoutMirror(3, FileLayout.Composite([new LayoutComponent(0, 1L << 20, 1L << 16, 1, -1, [new OstObject(2, 7)]), new LayoutComponent(1L << 20, LayoutComponent.Eof, 1L << 20, 1, -1, [new OstObject(3, 8)])]), MirrorFlags.Stale),
            ],
            generation: 9);
        var bytes = LayoutCodec.Encode(layout);
        Assert.Equal(LayoutCodec.MirroredFormatVersion, bytes[0]);

        var decoded = LayoutCodec.Decode(bytes);
        Assert.True(decoded.IsMirrored);
        Assert.Equal(9u, decoded.Generation);
        Assert.Equal([1, 3], decoded.Mirrors.Select(m => m.Id));
        Assert.Equal([MirrorFlags.Prefer, MirrorFlags.Stale], decoded.Mirrors.Select(m => m.Flags));
        Assert.Equal(layout.AllObjects(), decoded.AllObjects());
        Assert.Equal(layout.ToString(), decoded.ToString());
    }

    [Fact]
    public void A_layout_without_mirrors_is_still_written_as_version_1()
    {
        var bytes = LayoutCodec.Encode(FileLayout.Raid0());
        Assert.Equal(LayoutCodec.FormatVersion, bytes[0]);
        Assert.False(LayoutCodec.Decode(bytes).IsMirrored);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void A_mirror_count_outside_1_to_4_is_refused(int count)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FileLayout.Mirrored(count, FileLayout.Raid0()));
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Mirrored(Enumerable.Repeat(FileLayout.Raid0(), count)));
        Assert.Contains("1 to 4 mirrors", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mirrors_on_a_shared_ost_are_refused_naming_it()
    {
        var ex = Assert.Throws<ArgumentException>(() => FileLayout.Mirrored([Instantiated(0, 1), Instantiated(1, 2)]));
        Assert.Contains("OST 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Mirror_ids_must_be_unique_and_a_mirror_cannot_be_mirrored()
    {
        Assert.Throws<ArgumentException>(() => FileLayout.Create([new LayoutMirror(2, Instantiated(0)), new LayoutMirror(2, Instantiated(1))], 0));
        Assert.Throws<ArgumentException>(() => new LayoutMirror(1, FileLayout.Mirrored(2, FileLayout.Raid0())));
        Assert.Throws<ArgumentOutOfRangeException>(() => new LayoutMirror(0, FileLayout.Raid0()));
    }

    [Fact]
    public void A_mirror_template_must_not_name_objects()
    {
        Assert.Throws<ArgumentException>(() => FileLayout.Mirrored(2, Instantiated(0)));
    }

    [Fact]
    public void Stripe_math_refuses_a_mirrored_layout_until_a_mirror_is_chosen()
    {
        var layout = FileLayout.Mirrored([Instantiated(0), Instantiated(1)]);
        var extents = new List<StripeExtent>();
        Assert.Throws<ArgumentException>(() => StripeMath.MapRange(layout, 0, 10, extents));
        StripeMath.MapRange(layout.Mirrors[1].Layout, 0, 10, extents);
        Assert.Equal(1, Assert.Single(extents).Object.OstIndex);
    }

    [Fact]
    public void A_truncated_or_lying_mirror_count_is_rejected()
    {
        var layout = FileLayout.Mirrored([Instantiated(0), Instantiated(1)]);
        var bytes = LayoutCodec.Encode(layout);
        Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes.AsSpan(0, bytes.Length - 1)));
        bytes[6] = 5;
        Assert.Contains("mirror count", Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes)).Message, StringComparison.Ordinal);
        bytes[6] = 2;
        bytes[1] = 0x01;
        Assert.Contains("mirrored", Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes)).Message, StringComparison.Ordinal);
    }
}
