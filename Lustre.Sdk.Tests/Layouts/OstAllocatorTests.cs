using Lustre.Server.Mds;

namespace Lustre.Tests.Layouts;

public class OstAllocatorTests
{
    private const long GiB = 1L << 30;

    [Fact]
    public void A_mirror_goes_to_another_server_while_one_has_room_and_to_another_ost_of_the_same_server_after()
    {
        OstUsage[] osts =
        [
            new(0, true, 100 * GiB, 50 * GiB, "oss-a"),
            new(1, true, 100 * GiB, 50 * GiB, "oss-a"),
            new(2, true, 100 * GiB, 50 * GiB, "oss-b"),
            new(3, true, 100 * GiB, 50 * GiB, "oss-b"),
        ];

        Assert.Equal([2, 3], OstAllocator.MirrorPool(osts, new HashSet<int> { 0 }, 1).Select(o => o.Index));
        Assert.Equal([2, 3], OstAllocator.MirrorPool(osts, new HashSet<int> { 0, 1 }, -1).Select(o => o.Index));

        // Two stripes wanted and only one OST left on the other server: the pool widens to every OST not in use.
        osts[3] = osts[3] with { Active = false };
        Assert.Equal([1, 2, 3], OstAllocator.MirrorPool(osts, new HashSet<int> { 0 }, 2).Select(o => o.Index));

        // The other server gone: another OST of the same server, still never one the other mirror uses.
        osts[2] = osts[2] with { Active = false };
        Assert.Equal([1, 2, 3], OstAllocator.MirrorPool(osts, new HashSet<int> { 0 }, 1).Select(o => o.Index));
        Assert.DoesNotContain(0, OstAllocator.MirrorPool(osts, new HashSet<int> { 0 }, 1).Select(o => o.Index));
    }

    [Fact]
    public void Round_robin_keeps_turning_when_calls_choose_from_different_numbers_of_osts()
    {
        // The mirrors of one file choose from different subsets; the cursor must not reset between them.
        var allocator = new OstAllocator(new Random(1));
        var firsts = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            firsts.Add(allocator.Choose(Balanced(3), 1, -1, out _)[0]);
            allocator.Choose(Balanced(2), 1, -1, out _);
        }

        Assert.Equal([0, 1, 2], firsts.Distinct().Order());
    }

    [Fact]
    public void Balanced_osts_are_used_round_robin_one_further_each_file()
    {
        var allocator = new OstAllocator(new Random(1));
        var osts = Balanced(4);

        var firsts = new List<int>();
        for (var i = 0; i < 8; i++)
        {
            firsts.Add(Assert.Single(allocator.Choose(osts, 1, -1, out _)));
        }

        Assert.Equal([0, 1, 2, 3, 0, 1, 2, 3], firsts);
        Assert.Equal([0, 1], allocator.Choose(osts, 2, -1, out _));
        Assert.Equal([1, 2], allocator.Choose(osts, 2, -1, out _));
        Assert.Equal([2, 3, 0], allocator.Choose(osts, 3, -1, out _));
    }

    [Fact]
    public void Round_robin_spreads_concurrent_creates_evenly()
    {
        var allocator = new OstAllocator(new Random(1));
        var osts = Balanced(4);
        var counts = new int[4];

        Parallel.For(0, 4000, i =>
        {
            var ost = allocator.Choose(osts, 1, -1, out _)[0];
            Interlocked.Increment(ref counts[ost]);
        });

        Assert.Equal([1000, 1000, 1000, 1000], counts);
    }

    [Fact]
    public void Round_robin_starts_at_the_requested_ost()
    {
        var allocator = new OstAllocator(new Random(1));

        Assert.Equal([2, 3, 0], allocator.Choose(Balanced(4), 3, 2, out _));
        Assert.Equal([2, 3, 0], allocator.Choose(Balanced(4), 3, 2, out _));
    }

    [Fact]
    public void Round_robin_starts_after_a_requested_ost_that_is_unusable()
    {
        var allocator = new OstAllocator(new Random(1));
        var osts = Balanced(4);
        osts[1] = osts[1] with { Active = false };
        osts[3] = osts[3] with { AvailableBytes = 0 };

        Assert.Equal([2, 0], allocator.Choose(osts, 2, 1, out _));
        Assert.Equal([0, 2], allocator.Choose(osts, 2, 3, out _));
    }

    [Fact]
    public void Unbalanced_osts_are_chosen_weighted_by_free_space()
    {
        var allocator = new OstAllocator(new Random(42));
        OstUsage[] osts =
        [
            new(0, true, 100 * GiB, 90 * GiB),
            new(1, true, 100 * GiB, 10 * GiB),
            new(2, true, 100 * GiB, 10 * GiB),
            new(3, true, 100 * GiB, 10 * GiB),
        ];

        var counts = new int[4];
        const int draws = 4000;
        for (var i = 0; i < draws; i++)
        {
            counts[allocator.Choose(osts, 1, -1, out _)[0]]++;
        }

        // Expected share of OST 0 is 90 / 120 = 75%; round robin would give 25%.
        Assert.InRange(counts[0], draws * 0.70, draws * 0.80);
        for (var ost = 1; ost < 4; ost++)
        {
            Assert.InRange(counts[ost], draws * 0.05, draws * 0.12);
        }
    }

    [Fact]
    public void Imbalance_within_the_threshold_still_uses_round_robin()
    {
        var allocator = new OstAllocator(new Random(42), balanceThreshold: 0.17);
        OstUsage[] osts =
        [
            new(0, true, 100 * GiB, 60 * GiB),
            new(1, true, 100 * GiB, 45 * GiB),
            new(2, true, 100 * GiB, 50 * GiB),
        ];

        var firsts = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            firsts.Add(allocator.Choose(osts, 1, -1, out _)[0]);
        }

        Assert.Equal([0, 1, 2, 0, 1, 2], firsts);
    }

    [Fact]
    public void Weighted_choice_never_repeats_an_ost_in_one_layout()
    {
        var allocator = new OstAllocator(new Random(7));
        var osts = Unbalanced(12);

        for (var i = 0; i < 500; i++)
        {
            var chosen = allocator.Choose(osts, -1, -1, out var capped);
            Assert.False(capped);
            Assert.Equal(12, chosen.Count);
            Assert.Equal(12, chosen.Distinct().Count());
        }
    }

    [Fact]
    public void Weighted_choice_puts_the_requested_ost_first()
    {
        var allocator = new OstAllocator(new Random(7));
        var osts = Unbalanced(8);

        for (var i = 0; i < 200; i++)
        {
            var chosen = allocator.Choose(osts, 3, 5, out _);
            Assert.Equal(5, chosen[0]);
            Assert.Equal(3, chosen.Distinct().Count());
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Inactive_and_full_osts_are_never_chosen(bool balanced)
    {
        var allocator = new OstAllocator(new Random(3));
        var osts = balanced ? Balanced(6) : Unbalanced(6);
        osts[1] = osts[1] with { Active = false };
        osts[4] = osts[4] with { AvailableBytes = OstAllocator.MinimumFreeBytes - 1 };

        for (var i = 0; i < 300; i++)
        {
            foreach (var stripeCount in new[] { 1, 2, 4, -1 })
            {
                var chosen = allocator.Choose(osts, stripeCount, -1, out _);
                Assert.DoesNotContain(1, chosen);
                Assert.DoesNotContain(4, chosen);
            }
        }

        Assert.Equal([0, 2, 3, 5], allocator.Choose(osts, -1, -1, out _).Order());
    }

    [Fact]
    public void Stripe_count_above_the_usable_osts_is_capped()
    {
        var allocator = new OstAllocator(new Random(3));
        var osts = Balanced(4);
        osts[0] = osts[0] with { Active = false };

        var chosen = allocator.Choose(osts, 5, -1, out var capped);

        Assert.True(capped);
        Assert.Equal([1, 2, 3], chosen.Order());
    }

    [Fact]
    public void Stripe_count_within_the_usable_osts_is_not_capped()
    {
        var chosen = new OstAllocator(new Random(3)).Choose(Balanced(4), 4, -1, out var capped);

        Assert.False(capped);
        Assert.Equal(4, chosen.Count);
    }

    [Fact]
    public void No_usable_ost_is_ENOSPC()
    {
        var osts = Balanced(3);
        osts[0] = osts[0] with { Active = false };
        osts[1] = osts[1] with { AvailableBytes = 0 };
        osts[2] = osts[2] with { Active = false };

        var ex = Assert.Throws<IOException>(() => new OstAllocator(new Random(3)).Choose(osts, 1, -1, out _));
        Assert.Contains("ENOSPC", ex.Message, StringComparison.Ordinal);
        Assert.Contains("no OST has space or is active", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4)]
    [InlineData(-2)]
    public void Stripe_offset_outside_the_known_osts_is_rejected(int stripeOffset)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new OstAllocator(new Random(3)).Choose(Balanced(4), 1, stripeOffset, out _));
        Assert.Equal("stripeOffset", ex.ParamName);
    }

    [Fact]
    public void Invalid_stripe_count_is_rejected()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new OstAllocator(new Random(3)).Choose(Balanced(4), 0, -1, out _));
        Assert.Equal("stripeCount", ex.ParamName);
    }

    private static OstUsage[] Balanced(int count)
    {
        var osts = new OstUsage[count];
        for (var i = 0; i < count; i++)
        {
            osts[i] = new OstUsage(i, true, 100 * GiB, 50 * GiB);
        }

        return osts;
    }

    // Free fractions from 5% to 95%: far beyond the 17% threshold.
    private static OstUsage[] Unbalanced(int count)
    {
        var osts = new OstUsage[count];
        for (var i = 0; i < count; i++)
        {
            osts[i] = new OstUsage(i, true, 100 * GiB, (5 + (90 * i / (count - 1))) * GiB);
        }

        return osts;
    }
}
