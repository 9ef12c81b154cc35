using Lustre.Layouts;

namespace Lustre.Server.Mds;

/// <summary>
/// Chooses the OSTs of a new file's objects the way Lustre's LOD does: round robin while the
/// usable OSTs are about equally full, and a random choice weighted by free space ("QOS") once
/// they are not, so new data drifts towards the emptier OSTs. An inactive or full OST never gets
/// an object, and no OST gets two objects of one component.
/// </summary>
internal sealed class OstAllocator
{
    /// <summary>An OST with less free space than this counts as full.</summary>
    public const long MinimumFreeBytes = 1L << 20;

    private readonly Random _random;
    private readonly double _balanceThreshold;
    private readonly Lock _lock = new();
    private uint _cursor;

    // The usable OSTs of the last list asked about, and a copy of that list: every create asks about the same
    // placement snapshot, so its usable list is made once per snapshot rather than once per create.
    private OstUsage[] _usableOf = [];
    private List<OstUsage> _usable = [];

    /// <param name="random">The source of randomness for weighted choices (seed it in tests).</param>
    /// <param name="balanceThreshold">
    /// The largest difference between the most and least free OST (as fractions of their capacity)
    /// for which OSTs count as balanced; 0.17 is Lustre's default <c>qos_threshold_rr</c> of 17%.
    /// </param>
    public OstAllocator(Random random, double balanceThreshold = 0.17)
    {
        ArgumentNullException.ThrowIfNull(random);
        ArgumentOutOfRangeException.ThrowIfNegative(balanceThreshold);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(balanceThreshold, 1.0);
        _random = random;
        _balanceThreshold = balanceThreshold;
    }

    /// <summary>Chooses the OSTs for one layout component.</summary>
    /// <param name="osts">Every OST the MDS knows, in any order; indexes must be distinct.</param>
    /// <param name="stripeCount">-1 for every usable OST, or 1 to <see cref="LayoutDefaults.MaxStripeCount"/>.</param>
    /// <param name="stripeOffset">The OST index of the first object, or -1 to choose freely. When that OST is unusable, round robin starts at the next usable one and QOS ignores it.</param>
    /// <param name="capped">True when <paramref name="stripeCount"/> was more than the usable OSTs and was reduced to them, as Lustre does.</param>
    /// <returns>The OST indexes of the objects, in stripe order, all different.</returns>
    /// <exception cref="IOException">No OST is both active and has free space (ENOSPC).</exception>
    public IReadOnlyList<int> Choose(IReadOnlyList<OstUsage> osts, int stripeCount, int stripeOffset, out bool capped)
    {
        ArgumentNullException.ThrowIfNull(osts);
        StripeCount.ThrowIfInvalid(stripeCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(stripeOffset, -1);

        var offsetKnown = stripeOffset == -1;
        for (var i = 0; i < osts.Count && !offsetKnown; i++)
        {
            offsetKnown = osts[i].Index == stripeOffset;
        }

        if (!offsetKnown)
        {
            throw new ArgumentOutOfRangeException(nameof(stripeOffset), stripeOffset, $"Stripe offset {stripeOffset} is not the index of any of the {osts.Count} known OSTs.");
        }

        var usable = Usable(osts);
        if (usable.Count == 0)
        {
            throw new IOException($"Cannot allocate objects (ENOSPC): no OST has space or is active among the {osts.Count} known OSTs.");
        }

        var count = StripeCount.Resolve(stripeCount, usable.Count, out capped);
        var chosen = new int[count];
        lock (_lock)
        {
            if (IsBalanced(usable))
            {
                ChooseRoundRobin(usable, stripeOffset, chosen);
            }
            else
            {
                ChooseWeighted(usable, stripeOffset, chosen);
            }
        }

        return chosen;
    }

    /// <summary>
    /// The active OSTs with space among <paramref name="osts"/>, by index; the list of the last call while
    /// <paramref name="osts"/> holds the same OSTs with the same figures. Never changed once returned.
    /// </summary>
    private List<OstUsage> Usable(IReadOnlyList<OstUsage> osts)
    {
        lock (_lock)
        {
            if (SameAs(osts, _usableOf))
            {
                return _usable;
            }
        }

        var usable = new List<OstUsage>(osts.Count);
        for (var i = 0; i < osts.Count; i++)
        {
            if (IsUsable(osts[i]))
            {
                usable.Add(osts[i]);
            }
        }

        usable.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        for (var i = 1; i < usable.Count; i++)
        {
            if (usable[i].Index == usable[i - 1].Index)
            {
                throw new ArgumentException($"OST index {usable[i].Index} is listed twice.", nameof(osts));
            }
        }

        lock (_lock)
        {
            _usableOf = [.. osts];
            _usable = usable;
        }

        return usable;
    }

    private static bool SameAs(IReadOnlyList<OstUsage> osts, OstUsage[] seen)
    {
        if (osts.Count != seen.Length)
        {
            return false;
        }

        for (var i = 0; i < seen.Length; i++)
        {
            if (osts[i] != seen[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when an OST may get new objects: active, with at least <see cref="MinimumFreeBytes"/> free.</summary>
    public static bool IsUsable(OstUsage ost) => ost.Active && ost.AvailableBytes >= MinimumFreeBytes;

    /// <summary>
    /// The OSTs one more mirror of a file may use: none the file's other mirrors use, and none on their servers when
    /// the other servers have usable OSTs enough for <paramref name="stripeCount"/> stripes (or as many as remain).
    /// </summary>
    /// <param name="osts">Every OST the MDS knows.</param>
    /// <param name="usedOsts">The OSTs of the file's other mirrors.</param>
    /// <param name="stripeCount">The mirror's stripe count; -1 (all) wants one at least.</param>
    public static List<OstUsage> MirrorPool(IReadOnlyList<OstUsage> osts, IReadOnlySet<int> usedOsts, int stripeCount)
    {
        var usedServers = osts.Where(u => usedOsts.Contains(u.Index)).Select(u => u.Server).ToHashSet(StringComparer.Ordinal);
        var free = osts.Where(u => !usedOsts.Contains(u.Index)).ToList();
        var otherServers = free.Where(u => !usedServers.Contains(u.Server)).ToList();
        var wanted = Math.Min(Math.Max(1, stripeCount), free.Count(IsUsable));
        return otherServers.Count(IsUsable) >= wanted ? otherServers : free;
    }

    private bool IsBalanced(List<OstUsage> usable)
    {
        var min = double.MaxValue;
        var max = double.MinValue;
        foreach (var ost in usable)
        {
            var free = ost.TotalBytes > 0 ? Math.Min(1.0, (double)ost.AvailableBytes / ost.TotalBytes) : 0.0;
            min = Math.Min(min, free);
            max = Math.Max(max, free);
        }

        return max - min <= _balanceThreshold;
    }

    private void ChooseRoundRobin(List<OstUsage> usable, int stripeOffset, int[] chosen)
    {
        int start;
        if (stripeOffset >= 0)
        {
            // The first usable OST at or after the requested one, wrapping around.
            start = 0;
            while (start < usable.Count && usable[start].Index < stripeOffset)
            {
                start++;
            }

            start %= usable.Count;
        }
        else
        {
            // Each new file starts one OST further on, so single-stripe files spread evenly. The cursor is not reduced
            // modulo this call's OST count: the mirrors of one file choose from different subsets, and must still rotate.
            start = (int)(_cursor % (uint)usable.Count);
            _cursor++;
        }

        for (var i = 0; i < chosen.Length; i++)
        {
            chosen[i] = usable[(start + i) % usable.Count].Index;
        }
    }

    private void ChooseWeighted(List<OstUsage> usable, int stripeOffset, int[] chosen)
    {
        var weights = new double[usable.Count];
        var total = 0.0;
        for (var i = 0; i < usable.Count; i++)
        {
            weights[i] = usable[i].AvailableBytes;
            total += weights[i];
        }

        var next = 0;
        if (stripeOffset >= 0)
        {
            for (var i = 0; i < usable.Count; i++)
            {
                if (usable[i].Index == stripeOffset)
                {
                    chosen[next++] = stripeOffset;
                    total -= weights[i];
                    weights[i] = 0;
                    break;
                }
            }
        }

        // Draw without replacement: a chosen OST's weight drops to 0.
        for (; next < chosen.Length; next++)
        {
            var target = _random.NextDouble() * total;
            var pick = -1;
            for (var i = 0; i < weights.Length; i++)
            {
                if (weights[i] == 0)
                {
                    continue;
                }

                pick = i;
                target -= weights[i];
                if (target < 0)
                {
                    break;
                }
            }

            // Rounding can leave target just above 0 after the last weight; pick stays the last candidate then.
            chosen[next] = usable[pick].Index;
            total -= weights[pick];
            weights[pick] = 0;
        }
    }
}
