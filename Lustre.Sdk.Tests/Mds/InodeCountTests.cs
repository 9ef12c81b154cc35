using Lustre.Protocol;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>The MDT's inode count behind <c>lfs df -i</c>: kept in each create's and delete's batch, counted once for an MDT made before it.</summary>
public sealed class InodeCountTests : IDisposable
{
    private readonly TempFolder _directory = new("lustre-inodes-");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task The_count_follows_creates_and_deletes_survives_a_reopen_and_ignores_failed_changes()
    {
        using (var store = new MdtStore(_directory.Path))
        {
            Assert.Equal(0UL, store.InodeCount);
            for (uint i = 1; i <= 5; i++)
            {
                await store.ChangeAsync(tx => Create(tx, i));
            }

            await store.ChangeAsync(tx =>
            {
                tx.Delete(MdtKeys.InodeKey(Fid(2)));
                store.CountInode(tx, -1);
                return true;
            });

            // A change that fails after counting writes nothing, the count included.
            await Assert.ThrowsAsync<InvalidOperationException>(() => store.ChangeAsync<bool>(tx =>
            {
                Create(tx, 9);
                throw new InvalidOperationException("refused");
            }).AsTask());
            Assert.Equal(4UL, store.InodeCount);
        }

        using var reopened = new MdtStore(_directory.Path);
        Assert.Equal(4UL, reopened.InodeCount);
    }

    [Fact]
    public async Task An_MDT_without_a_count_is_counted_when_it_opens_and_keeps_its_next_fid()
    {
        LustreFid before;
        using (var store = new MdtStore(_directory.Path))
        {
            before = await store.ChangeAsync(store.AllocateFid);
            await store.ChangeAsync(tx =>
            {
                // Inodes as an older MDS wrote them: no count kept, the FID counter alone in its record.
                for (uint i = 1; i <= 7; i++)
                {
                    tx.Put(MdtKeys.InodeKey(Fid(i)), [1]);
                }

                tx.Put(MdtKeys.CountersKey, BitConverter.GetBytes(41UL));
                return true;
            });
        }

        using var reopened = new MdtStore(_directory.Path);
        Assert.Equal(7UL, reopened.InodeCount);
        Assert.Equal(41UL, reopened.Database.Get(MdtKeys.CountersKey) is { Length: 16 } counters ? BitConverter.ToUInt64(counters) : 0);
        var after = await reopened.ChangeAsync(reopened.AllocateFid);
        Assert.Equal(new LustreFid(before.Sequence, 41, 0), after);
    }

    [Fact]
    public async Task A_count_kept_in_a_key_of_its_own_moves_into_the_counters_record()
    {
        using (var store = new MdtStore(_directory.Path))
        {
            await store.ChangeAsync(tx =>
            {
                // As the MDS wrote its counters before they shared one record: 12 inodes counted, under a key of their own.
                tx.Put(MdtKeys.InodeKey(Fid(1)), [1]);
                tx.Put(MdtKeys.CountersKey, BitConverter.GetBytes(9UL));
                tx.Put(MdtKeys.InodeCountKey, BitConverter.GetBytes(12UL));
                return true;
            });
        }

        using (var reopened = new MdtStore(_directory.Path))
        {
            Assert.Equal(12UL, reopened.InodeCount);
            Assert.Null(reopened.Get(MdtKeys.InodeCountKey));
            await reopened.ChangeAsync(tx => Create(tx, 2));
        }

        using var again = new MdtStore(_directory.Path);
        Assert.Equal(13UL, again.InodeCount);
    }

    private static LustreFid Fid(uint n) => new(0x200000400, n, 0);

    private static bool Create(MdtTransaction tx, uint n)
    {
        tx.Put(MdtKeys.InodeKey(Fid(n)), [1]);
        tx.Store.CountInode(tx, 1);
        return true;
    }
}
