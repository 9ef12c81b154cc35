using Lustre.Layouts;
using static Lustre.Tests.Layouts.LayoutModel;

namespace Lustre.Tests.Layouts;

/// <summary>A component's OST pool: Lustre's name rules, and its place in the layout codec.</summary>
public class LayoutPoolTests
{
    private static byte[] Encode(FileLayout layout) => LayoutCodec.Encode(layout);

    [Theory]
    [InlineData("a")]
    [InlineData("flash")]
    [InlineData("ssd_tier-2")]
    [InlineData("fifteen_chars_x")]
    public void Lustre_pool_names_are_accepted(string name) =>
        Assert.Equal(name, FileLayout.Raid0(pool: name).Components[0].Pool);

    [Theory]
    [InlineData("")]
    [InlineData("sixteen_chars_xx")]
    [InlineData("lustre.flash")]
    [InlineData("a b")]
    [InlineData("flásh")]
    [InlineData("ignore")]
    [InlineData("inherit")]
    [InlineData("none")]
    public void Names_Lustre_refuses_are_refused_naming_the_pool(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new LayoutComponent(0, LayoutComponent.Eof, K64, 1) { Pool = name });

        Assert.Equal("Pool", error.ParamName);
        Assert.Contains("pool name", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Instantiating_a_component_keeps_its_pool()
    {
        var template = new LayoutComponent(0, LayoutComponent.Eof, K64, 2) { Pool = "flash" };

        var placed = template.WithObjects([new OstObject(1, 7), new OstObject(2, 9)]);

        Assert.Equal("flash", placed.Pool);
        Assert.EndsWith("stripe_offset=1 pool=flash objects=[1:0x7, 2:0x9]", placed.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_layout_without_pools_is_written_byte_for_byte_as_before_pools()
    {
        var bytes = Encode(ThreeComponentPfl());

        Assert.Equal(1, bytes[1]);
        Assert.Equal(8 + (3 * 36), bytes.Length);
    }

    [Fact]
    public void Pools_set_their_flag_and_each_component_carries_one_byte_of_length_and_the_name()
    {
        var layout = FileLayout.Composite(
        [
            new LayoutComponent(0, 2 * K64, K64, 1) { Pool = "flash" },
            new LayoutComponent(2 * K64, LayoutComponent.Eof, K64, -1),
        ]);

        var bytes = Encode(layout);

        Assert.Equal(0x05, bytes[1]);
        Assert.Equal(8 + (2 * 36) + (1 + 5) + 1, bytes.Length);
        var decoded = LayoutCodec.Decode(bytes);
        Assert.Equal(["flash", null], decoded.Components.Select(c => c.Pool));
        Assert.Equal(bytes, Encode(decoded));
    }

    [Fact]
    public void Pools_round_trip_in_plain_instantiated_and_mirrored_layouts()
    {
        var plain = FileLayout.Raid0(K64, 2, pool: "flash");
        var instantiated = plain.WithComponents([plain.Components[0].WithObjects([new OstObject(3, 1), new OstObject(1, 2)])]);
        var mirrored = FileLayout.Mirrored([FileLayout.Raid0(K64, 1), FileLayout.Raid0(K64, 1, pool: "disk")]);

        Assert.Equal("flash", LayoutCodec.Decode(Encode(plain)).Components[0].Pool);
        var placed = LayoutCodec.Decode(Encode(instantiated));
        Assert.Equal("flash", placed.Components[0].Pool);
        Assert.Equal(instantiated.Components[0].Objects, placed.Components[0].Objects);
        var mirrors = LayoutCodec.Decode(Encode(mirrored)).Mirrors;
        Assert.Equal([null, "disk"], mirrors.Select(m => m.Layout.Components[0].Pool));
        Assert.Equal(0x07, Encode(mirrored)[1]);
    }

    [Fact]
    public void A_pool_length_over_the_limit_is_refused_before_reading_it()
    {
        var bytes = Encode(FileLayout.Raid0(pool: "flash"));
        bytes[8 + 36] = 16;

        var error = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));

        Assert.Contains("'pool length' is 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_pool_name_Lustre_refuses_is_invalid_data_naming_the_component()
    {
        var bytes = Encode(FileLayout.Raid0(pool: "flash"));
        bytes[8 + 36 + 3] = (byte)'.';

        var error = Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes));

        Assert.Contains("component 0", error.Message, StringComparison.Ordinal);
        Assert.Contains("fl.sh", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_truncation_of_a_layout_with_pools_is_refused()
    {
        var bytes = Encode(FileLayout.Raid0(K64, 1, pool: "flash"));
        for (var length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<InvalidDataException>(() => LayoutCodec.Decode(bytes.AsSpan(0, length)));
        }
    }
}
