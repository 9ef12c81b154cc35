using Lustre.Layouts;

namespace Lustre.Tests.Layouts;

public class StripeCountTests
{
    [Fact]
    public void All_resolves_to_every_available_ost_without_capping()
    {
        Assert.Equal(7, StripeCount.Resolve(-1, 7, out var capped));
        Assert.False(capped);
    }

    [Fact]
    public void All_resolves_to_at_most_2000_stripes()
    {
        Assert.Equal(2000, StripeCount.Resolve(-1, 5000, out _));
    }

    [Fact]
    public void Count_above_the_available_osts_is_capped_not_failed()
    {
        Assert.Equal(4, StripeCount.Resolve(10, 4, out var capped));
        Assert.True(capped);
    }

    [Fact]
    public void Count_within_the_available_osts_is_kept()
    {
        Assert.Equal(4, StripeCount.Resolve(4, 4, out var capped));
        Assert.False(capped);
    }

    [Fact]
    public void No_available_ost_is_an_IOException()
    {
        var ex = Assert.Throws<IOException>(() => StripeCount.Resolve(1, 0, out _));
        Assert.Contains("no OST available", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    [InlineData(2001)]
    public void Invalid_requested_count_is_rejected(int requested)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => StripeCount.Resolve(requested, 4, out _));
        Assert.Equal("requested", ex.ParamName);
    }
}
