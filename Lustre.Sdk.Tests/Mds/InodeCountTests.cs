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
    public async Task An_MDT_without_a_count_is_counted_when_it_opens()
    {
        using (var store = new MdtStore(_directory.Path))
        {
            await store.ChangeAsync(tx =>
            {
                // Inodes as an older MDS wrote them: no count kept.
                for (uint i = 1; i <= 7; i++)
                {
                    tx.Put(MdtKeys.InodeKey(Fid(i)), [1]);
                }

                tx.Delete(MdtKeys.InodeCountKey);
                return true;
            });
        }

        using var reopened = new MdtStore(_directory.Path);
        Assert.Equal(7UL, reopened.InodeCount);
    }

    private static LustreFid Fid(uint n) => new(0x200000400, n, 0);

    private static bool Create(MdtTransaction tx, uint n)
    {
        tx.Put(MdtKeys.InodeKey(Fid(n)), [1]);
        tx.Store.CountInode(tx, 1);
        return true;
    }
}
