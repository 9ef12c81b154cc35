using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>
/// The MDS's cache of the directories a path walk passes through: what it keeps, and that no value read before a
/// change can be served after it (the generation and the bracket around the writer's apply), unit by unit and on a
/// real MDT (RocksDB in a temp folder).
/// </summary>
public sealed class WalkCacheTests : IDisposable
{
    private static readonly LustreFid Parent = new(0x200000400, 7, 0);
    private static readonly LustreFid Child = new(0x200000400, 8, 0);
    private static readonly InodeAccess DirectoryAccess = new(EntryType.Directory, 0x1ED, 0, 0);
    private readonly TempFolder _directory = new("lustre-walks-");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_value_read_before_a_change_is_not_kept_after_it()
    {
        var cache = new WalkCache();
        var before = cache.Generation;
        cache.BeginChange();
        cache.EndChange();

        cache.AddDirectory(before, Parent, "d", Child);
        cache.AddAccess(before, Child, DirectoryAccess);

        Assert.False(cache.TryGetDirectory(Parent, "d", out _));
        Assert.False(cache.TryGetAccess(Child, out _));

        // Read again after the change: kept.
        var after = cache.Generation;
        cache.AddDirectory(after, Parent, "d", Child);
        cache.AddAccess(after, Child, DirectoryAccess);
        Assert.True(cache.TryGetDirectory(Parent, "d", out var child));
        Assert.Equal(Child, child);
        Assert.True(cache.TryGetAccess(Child, out var access));
        Assert.Equal(DirectoryAccess, access);
    }

    [Fact]
    public void While_a_change_is_applied_lookups_miss_and_nothing_is_added()
    {
        var cache = new WalkCache();
        cache.AddDirectory(cache.Generation, Parent, "d", Child);
        Assert.True(cache.TryGetDirectory(Parent, "d", out _));

        cache.BeginChange();
        Assert.False(cache.TryGetDirectory(Parent, "d", out _));
        cache.AddDirectory(cache.Generation, Parent, "d", Child);
        cache.AddAccess(cache.Generation, Child, DirectoryAccess);
        Assert.Equal((0, 0), cache.Count);

        cache.EndChange();
        Assert.False(cache.TryGetDirectory(Parent, "d", out _));
        Assert.Equal((0, 0), cache.Count);
    }

    [Fact]
    public void Names_are_compared_ordinally_and_only_directories_access_is_kept()
    {
        var cache = new WalkCache();
        cache.AddDirectory(cache.Generation, Parent, "Data", Child);
        cache.AddAccess(cache.Generation, Child, new InodeAccess(EntryType.File, 0x1A4, 0, 0));

        Assert.True(cache.TryGetDirectory(Parent, "Data/x".AsSpan(0, 4), out _));
        Assert.False(cache.TryGetDirectory(Parent, "data", out _));
        Assert.False(cache.TryGetDirectory(Child, "Data", out _));
        Assert.False(cache.TryGetAccess(Child, out _));
    }

    [Fact]
    public void A_full_cache_starts_over_instead_of_growing()
    {
        var cache = new WalkCache();
        for (uint i = 0; i <= WalkCache.MaxCount; i++)
        {
            cache.AddDirectory(cache.Generation, Parent, $"d{i}", new LustreFid(0x200000400, 100 + i, 0));
        }

        Assert.Equal(1, cache.Count.Entries);
        Assert.True(cache.TryGetDirectory(Parent, $"d{WalkCache.MaxCount}", out _));
    }

    [Fact]
    public async Task The_MDT_keeps_directory_entries_it_read_and_forgets_them_when_a_directory_goes()
    {
        using var store = new MdtStore(_directory.Path);
        var file = new LustreFid(0x200000400, 9, 0);
        await store.ChangeAsync(tx =>
        {
            tx.PutEntry(Parent, "d", Child, EntryType.Directory);
            tx.PutEntry(Parent, "f", file, EntryType.File);
            return true;
        });

        Assert.Equal((Child, EntryType.Directory), store.GetEntry(Parent, "d")!.Value);
        Assert.Equal((file, EntryType.File), store.GetEntry(Parent, "f")!.Value);
        Assert.Equal((1, 0), store.Walks.Count);

        // Unlinking a file leaves what the walk keeps.
        await store.ChangeAsync(tx =>
        {
            tx.DeleteEntry(Parent, "f", EntryType.File);
            tx.DeleteInode(file, EntryType.File);
            return true;
        });
        Assert.Equal((1, 0), store.Walks.Count);
        Assert.Null(store.GetEntry(Parent, "f"));

        // Removing the directory's entry empties it, so the next lookup reads RocksDB and finds nothing.
        await store.ChangeAsync(tx =>
        {
            tx.DeleteEntry(Parent, "d", EntryType.Directory);
            return true;
        });
        Assert.Equal((0, 0), store.Walks.Count);
        Assert.Null(store.GetEntry(Parent, "d"));
    }

    [Fact]
    public async Task A_raw_write_to_the_entry_space_empties_the_cache()
    {
        using var store = new MdtStore(_directory.Path);
        await store.ChangeAsync(tx =>
        {
            tx.PutEntry(Parent, "d", Child, EntryType.Directory);
            return true;
        });
        Assert.NotNull(store.GetEntry(Parent, "d"));
        Assert.Equal((1, 0), store.Walks.Count);

        // Counters and other key spaces leave it.
        await store.ChangeAsync(tx =>
        {
            tx.Put(MdtKeys.CountersKey, new byte[16]);
            return true;
        });
        Assert.Equal((1, 0), store.Walks.Count);

        var key = new byte[MdtKeys.MaxEntryKeyLength];
        var length = MdtKeys.WriteEntryKey(key, Parent, "d");
        await store.ChangeAsync(tx =>
        {
            tx.Delete(key.AsSpan(0, length));
            return true;
        });
        Assert.Equal((0, 0), store.Walks.Count);
        Assert.Null(store.GetEntry(Parent, "d"));
    }
}
