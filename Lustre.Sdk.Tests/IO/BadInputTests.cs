using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>Absurd offsets, sizes and stripe settings: a clear error that names the problem, and nothing written.</summary>
[Collection(ClusterCollection.Name)]
public sealed class BadInputTests
{
    private readonly ClusterFixture _fixture;

    public BadInputTests(ClusterFixture fixture) => _fixture = fixture;

    [Fact]
    public async Task Negative_and_absurd_offsets_are_rejected_naming_the_parameter()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var file = await _fixture.Client.OpenFileAsync($"{dir}/f", FileMode.CreateNew);

        var negative = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await file.ReadAtAsync(-1, new byte[10]));
        Assert.Equal("offset", negative.ParamName);
        var negativeWrite = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await file.WriteAtAsync(-5, new byte[10]));
        Assert.Equal("offset", negativeWrite.ParamName);
        var pastMax = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await file.WriteAtAsync(ProtocolLimits.MaxFileSize - 5, new byte[10]));
        Assert.Contains("maximum file size", pastMax.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => file.SetLengthAsync(-1));
        Assert.Equal(0, file.Length);
    }

    // 0 (size or count) is "the default", filled in at create (DefaultLayoutTests).
    [Theory]
    [InlineData(100_000L, 1, "stripeSize")]
    [InlineData(-65536L, 1, "stripeSize")]
    [InlineData(4L << 30, 1, "stripeSize")]
    [InlineData(65536L, -2, "stripeCount")]
    [InlineData(65536L, 2001, "stripeCount")]
    public void Invalid_stripe_settings_are_rejected_naming_the_parameter(long stripeSize, int stripeCount, string parameter)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() => FileLayout.Raid0(stripeSize, stripeCount));
        Assert.Equal(parameter, ex.ParamName);
    }

    [Fact]
    public async Task A_stripe_offset_beyond_the_OSTs_is_refused_by_the_MDS_and_creates_nothing()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var ex = await Assert.ThrowsAsync<LustreServerException>(() => _fixture.Client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(65536, 1, stripeOffset: 9)));
        Assert.Equal(LustreErrno.EINVAL, ex.Errno);
        Assert.Contains("stripe offset 9", ex.Message, StringComparison.Ordinal);
        Assert.False(await _fixture.Client.ExistsAsync($"{dir}/f"));
    }

    [Fact]
    public void PFL_extents_that_overlap_or_leave_a_hole_are_rejected()
    {
        var overlap = Assert.ThrowsAny<ArgumentException>(() => FileLayout.Composite([
            new LayoutComponent(0, 4 << 20, 1 << 20, 1),
            new LayoutComponent(2 << 20, LayoutComponent.Eof, 1 << 20, 2),
        ]));
        Assert.Contains("component 1", overlap.Message, StringComparison.Ordinal);
        var hole = Assert.ThrowsAny<ArgumentException>(() => FileLayout.Composite([
            new LayoutComponent(0, 4 << 20, 1 << 20, 1),
            new LayoutComponent(8 << 20, LayoutComponent.Eof, 1 << 20, 2),
        ]));
        Assert.Contains("component 1", hole.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stripe_count_above_the_OST_count_is_capped_not_refused()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var file = await _fixture.Client.OpenFileAsync($"{dir}/wide", FileMode.CreateNew, layout: FileLayout.Raid0(65536, 50));
        Assert.Equal(ClusterFixture.OstCount, file.Layout.Components[0].Objects.Count);
    }
}
