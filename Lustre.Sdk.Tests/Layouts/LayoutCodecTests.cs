using System.Buffers.Binary;
using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

public class LayoutCodecTests
{
    [Fact]
    public void Plain_template_round_trips()
    {
        AssertRoundTrips(FileLayout.Raid0(LayoutDefaults.MaxStripeSize, -1, 5).WithGeneration(uint.MaxValue));
    }

    [Fact]
    public void Composite_template_round_trips()
    {
        AssertRoundTrips(ThreeComponentPfl().WithGeneration(2));
    }

    [Fact]
    public void Single_component_composite_round_trips_as_composite()
    {
        var decoded = AssertRoundTrips(FileLayout.Composite([new LayoutComponent(0, LayoutComponent.Eof, K64, 1)]));
        Assert.True(decoded.IsComposite);
    }

    [Fact]
    public void Partly_instantiated_composite_round_trips()
    {
        AssertRoundTrips(Instantiate(ThreeComponentPfl(), upToComponent: 1));
    }

    [Fact]
    public void Instantiated_layout_with_the_most_objects_round_trips()
    {
        var objects = new OstObject[LayoutDefaults.MaxStripeCount];
        for (var i = 0; i < objects.Length; i++)
        {
            objects[i] = new OstObject(i, ulong.MaxValue - (ulong)i);
        }

        var layout = FileLayout.Raid0(K64, -1);
        layout = layout.WithComponents([layout.Components[0].WithObjects(objects)]);

        var decoded = AssertRoundTrips(layout);
        Assert.Equal(2000, decoded.Components[0].Objects.Count);
    }

    [Fact]
    public void Encoding_is_little_endian_with_version_and_flags_first()
    {
        var bytes = Encode(ThreeComponentPfl().WithGeneration(0x01020304));

        Assert.Equal(1, bytes[0]);
        Assert.Equal(1, bytes[1]);
        Assert.Equal(0x01020304u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(2)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(6)));
        Assert.Equal(8 + (3 * 36), bytes.Length);
        Assert.Equal(0, Encode(FileLayout.Raid0())[1]);
    }

    [Fact]
    public void Encode_rejects_a_destination_that_is_too_small()
    {
        var layout = FileLayout.Raid0();
        var ex = Assert.Throws<ArgumentException>(() => LayoutCodec.Encode(layout, new byte[LayoutCodec.GetEncodedLength(layout) - 1]));
        Assert.Equal("destination", ex.ParamName);
    }

    [Fact]
    public void Every_truncation_is_rejected()
    {
        var bytes = Encode(Instantiate(ThreeComponentPfl()));
        for (var length = 0; length < bytes.Length; length++)
        {
            var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes.AsSpan(0, length)));
            Assert.Contains("Layout", ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Trailing_bytes_are_rejected()
    {
        var bytes = Encode(FileLayout.Raid0());
        var longer = new byte[bytes.Length + 1];
        bytes.CopyTo(longer, 0);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(longer));
        Assert.Contains("trailing", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(65)]
    [InlineData(ushort.MaxValue)]
    public void Component_count_out_of_range_is_rejected(int count)
    {
        var bytes = Encode(FileLayout.Raid0());
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), (ushort)count);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'component count'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Component_count_beyond_the_bytes_is_rejected_before_reading()
    {
        var bytes = Encode(FileLayout.Raid0());
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(6), 64);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'component count' is 64", ex.Message, StringComparison.Ordinal);
        Assert.Contains("remain", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(2001)]
    [InlineData(ushort.MaxValue)]
    public void Object_count_over_the_stripe_limit_is_rejected(int count)
    {
        var bytes = Encode(FileLayout.Raid0());
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8 + 34), (ushort)count);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'object count'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Object_count_beyond_the_bytes_is_rejected()
    {
        var bytes = Encode(FileLayout.Raid0());
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8 + 34), 1);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'object count' is 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_version_is_rejected()
    {
        var bytes = Encode(FileLayout.Raid0());
        bytes[0] = 3;

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'version'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_flag_is_rejected()
    {
        var bytes = Encode(FileLayout.Raid0());
        bytes[1] = 0x02;

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'flags'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Nonzero_reserved_pattern_is_rejected()
    {
        var bytes = Encode(FileLayout.Raid0());
        bytes[8 + 32] = 1;

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("'pattern'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_component_values_are_rejected_as_invalid_data()
    {
        var bytes = Encode(FileLayout.Raid0());
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + 16), 100_000);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("component 0", ex.Message, StringComparison.Ordinal);
        Assert.Equal("stripeSize", Assert.IsAssignableFrom<ArgumentException>(ex.InnerException).ParamName);
    }

    [Fact]
    public void Plain_layout_with_two_components_is_rejected_as_invalid_data()
    {
        var bytes = Encode(ThreeComponentPfl());
        bytes[1] = 0;

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("exactly one component", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_contiguous_components_are_rejected_as_invalid_data()
    {
        var bytes = Encode(ThreeComponentPfl());
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + 36), 4 * K64);

        var ex = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));
        Assert.Contains("contiguous", ex.Message, StringComparison.Ordinal);
    }

    private static byte[] Encode(FileLayout layout)
    {
        var bytes = new byte[LayoutCodec.GetEncodedLength(layout)];
        LayoutCodec.Encode(layout, bytes);
        return bytes;
    }

    private static FileLayout AssertRoundTrips(FileLayout layout)
    {
        var decoded = LayoutCodec.Decode(Encode(layout));

        Assert.Equal(layout.IsComposite, decoded.IsComposite);
        Assert.Equal(layout.Generation, decoded.Generation);
        Assert.Equal(layout.IsInstantiated, decoded.IsInstantiated);
        Assert.Equal(layout.Components.Count, decoded.Components.Count);
        for (var i = 0; i < layout.Components.Count; i++)
        {
            var expected = layout.Components[i];
            var actual = decoded.Components[i];
            Assert.Equal(expected.Start, actual.Start);
            Assert.Equal(expected.End, actual.End);
            Assert.Equal(expected.StripeSize, actual.StripeSize);
            Assert.Equal(expected.StripeCount, actual.StripeCount);
            Assert.Equal(expected.StripeOffset, actual.StripeOffset);
            Assert.Equal(expected.Objects, actual.Objects);
            Assert.Equal(expected.Pool, actual.Pool);
        }

        Assert.Equal(layout.ToString(), decoded.ToString());
        Assert.Equal(Encode(layout), Encode(decoded));
        return decoded;
    }
}
