using System.Diagnostics;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>
/// The MDT's statahead leases on their own: a change waits for every lease granted before it, and no lease is granted
/// over a read that a change overlapped, nor while the MDT is busy.
/// </summary>
public sealed class StatAheadLeasesTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromMilliseconds(300);

    /// <summary>Leases past the hold every new instance starts with.</summary>
    private static async Task<StatAheadLeases> StartedAsync(TimeSpan quiet)
    {
        var leases = new StatAheadLeases(Lease, quiet);
        await leases.BeginChangeAsync();
        leases.EndChange();
        await Task.Delay(quiet);
        return leases;
    }

    [Fact]
    public async Task A_new_instance_holds_its_first_change_for_a_lease_one_before_it_may_have_granted()
    {
        var started = Stopwatch.StartNew();
        var leases = new StatAheadLeases(Lease, TimeSpan.Zero);

        await leases.BeginChangeAsync();
        leases.EndChange();

        Assert.True(started.Elapsed >= Lease, $"the first change went ahead after {started.Elapsed}");
        Assert.Equal(1, leases.Waited);
    }

    [Fact]
    public async Task A_change_waits_until_the_lease_granted_before_it_has_ended()
    {
        var leases = await StartedAsync(TimeSpan.Zero);
        Assert.True(leases.MayGrant);
        var sequence = leases.Sequence;
        Assert.Equal(Lease, leases.TryGrant(sequence).Duration);
        var granted = Stopwatch.StartNew();

        var change = leases.BeginChangeAsync();
        Assert.False(change.IsCompleted);

        // No lease while a change waits or runs.
        Assert.False(leases.MayGrant);
        Assert.Equal(TimeSpan.Zero, leases.TryGrant(leases.Sequence).Duration);
        await change;
        Assert.True(granted.Elapsed >= Lease, $"the change went ahead {granted.Elapsed} after a lease of {Lease}");
        leases.EndChange();
        Assert.True(leases.MayGrant);
    }

    [Fact]
    public async Task A_released_lease_lets_a_waiting_change_go_at_once_and_an_unknown_id_changes_nothing()
    {
        var leases = await StartedAsync(TimeSpan.Zero);
        var (_, first) = leases.TryGrant(leases.Sequence);
        var (_, second) = leases.TryGrant(leases.Sequence);
        Assert.NotEqual(first, second);
        Assert.Equal(2, leases.Active);

        var waiting = Stopwatch.StartNew();
        var change = leases.BeginChangeAsync();
        leases.Release(first);
        leases.Release(first + 1);
        Assert.False(change.IsCompleted);
        leases.Release(second);
        await change;
        leases.EndChange();

        Assert.True(waiting.Elapsed < Lease / 2, $"the change waited {waiting.Elapsed} with both leases released");
        Assert.Equal(0, leases.Active);
    }

    [Fact]
    public async Task No_lease_is_granted_over_a_read_a_change_overlapped()
    {
        var leases = await StartedAsync(TimeSpan.Zero);
        var sequence = leases.Sequence;

        // A change that began and ended while the batch read.
        await leases.BeginChangeAsync();
        leases.EndChange();

        Assert.Equal(TimeSpan.Zero, leases.TryGrant(sequence).Duration);
        Assert.Equal(0, leases.Granted);

        // Nor over one that began before the read and still runs.
        await leases.BeginChangeAsync();
        Assert.Equal(TimeSpan.Zero, leases.TryGrant(leases.Sequence).Duration);
        leases.EndChange();
        Assert.Equal(Lease, leases.TryGrant(leases.Sequence).Duration);
    }

    [Fact]
    public async Task A_busy_MDT_grants_none_until_it_has_been_quiet()
    {
        var quiet = TimeSpan.FromMilliseconds(200);
        var leases = await StartedAsync(quiet);
        await leases.BeginChangeAsync();
        leases.EndChange();

        Assert.False(leases.MayGrant);
        Assert.Equal(TimeSpan.Zero, leases.TryGrant(leases.Sequence).Duration);
        await Task.Delay(quiet + TimeSpan.FromMilliseconds(20));
        Assert.True(leases.MayGrant);
        Assert.Equal(Lease, leases.TryGrant(leases.Sequence).Duration);
    }

    [Fact]
    public async Task The_MDT_s_bookkeeping_neither_waits_for_a_lease_nor_refuses_one_and_a_change_waits()
    {
        using var folder = new TempFolder("lustre-leases-");
        var leases = await StartedAsync(TimeSpan.Zero);
        using var store = new MdtStore(folder.Path, leases: leases);
        var (granted, id) = leases.TryGrant(leases.Sequence);
        Assert.Equal(Lease, granted);
        var sequence = leases.Sequence;

        // The destroy queue's entries: no getattr, open or listing reads them.
        var started = Stopwatch.StartNew();
        await store.BookkeepingAsync(tx =>
        {
            Span<byte> key = stackalloc byte[MdtKeys.DestroyKeyLength];
            MdtKeys.WriteDestroyKey(key, 0, 42);
            tx.Put(key, []);
            return true;
        });
        Assert.True(started.Elapsed < Lease / 2, $"the bookkeeping waited {started.Elapsed} for a lease of {Lease}");
        Assert.Equal(sequence, leases.Sequence);
        Assert.True(leases.MayGrant);

        // A change waits for the lease, until it is released.
        var change = store.ChangeAsync(tx =>
        {
            tx.Put([0xEE], [1]);
            return true;
        }).AsTask();
        await Task.Delay(Lease / 3);
        Assert.False(change.IsCompleted);
        leases.Release(id);
        Assert.True(await change);
    }

    [Fact]
    public async Task A_lease_of_zero_grants_none_and_holds_no_change()
    {
        var leases = new StatAheadLeases(TimeSpan.Zero, TimeSpan.Zero);

        Assert.False(leases.MayGrant);
        Assert.Equal(TimeSpan.Zero, leases.TryGrant(leases.Sequence).Duration);
        Assert.True(leases.BeginChangeAsync().IsCompletedSuccessfully);
        leases.EndChange();
        Assert.Equal(0, leases.Waited);
    }

    [Fact]
    public void A_lease_longer_than_the_limit_or_negative_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new StatAheadLeases(StatAheadLeases.MaxDuration + TimeSpan.FromTicks(1), TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StatAheadLeases(TimeSpan.FromTicks(-1), TimeSpan.Zero));
        Assert.Throws<ArgumentOutOfRangeException>(() => new StatAheadLeases(Lease, TimeSpan.FromTicks(-1)));
    }
}
