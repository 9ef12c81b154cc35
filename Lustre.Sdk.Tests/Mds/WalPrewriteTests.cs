using System.Text;
using Lustre.Server.Mds;

namespace Lustre.Tests.Mds;

/// <summary>
/// The MDT's WAL files written ahead when it opens (<see cref="MdtStore"/>'s <c>walPrewriteBytes</c>), on a real RocksDB:
/// synced group commits then overwrite a recycled log instead of growing a new one, everything committed is there
/// after a reopen, and the filler is never read back. The crash suite kills MDS processes that run with it on.
/// </summary>
public sealed class WalPrewriteTests : IDisposable
{
    private const long Prewrite = 4L << 20;
    private const int Commits = 200;
    private readonly TempFolder _directory = new("lustre-walprewrite-");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Group_commits_overwrite_the_prewritten_log_and_all_of_them_are_there_after_a_reopen()
    {
        using (var store = new MdtStore(_directory.Path, walPrewriteBytes: Prewrite))
        {
            Assert.True(store.WalPrewritten);
            var before = Logs(_directory.Path);

            // Both: the log being written and the one RocksDB recycles next.
            Assert.Equal(2, before.Values.Count(length => length >= Prewrite));
            await CommitAsync(store);

            // The same log files at the same lengths: each commit's sync wrote over blocks already there.
            Assert.Equal(before, Logs(_directory.Path));
        }

        using (var reopened = new MdtStore(_directory.Path, walPrewriteBytes: Prewrite))
        {
            for (var i = 0; i < Commits; i++)
            {
                Assert.Equal(Value(i), reopened.Get(Key(i)));
            }

            Assert.Null(reopened.Get(MdtKeys.WalPrewriteKey));
        }
    }

    [Fact]
    public async Task A_copy_taken_while_the_store_is_open_recovers_every_commit_over_the_old_records_of_the_recycled_log()
    {
        using var copy = new TempFolder("lustre-walprewrite-copy-");
        using (var store = new MdtStore(_directory.Path, walPrewriteBytes: Prewrite))
        {
            await CommitAsync(store);

            // As a SIGKILL leaves it: the log holds the commits, then the filler of its last use, never closed or trimmed.
            foreach (var file in Directory.GetFiles(_directory.Path))
            {
                File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
            }
        }

        using var recovered = new MdtStore(copy.Path);
        for (var i = 0; i < Commits; i++)
        {
            Assert.Equal(Value(i), recovered.Get(Key(i)));
        }
    }

    [Fact]
    public async Task Without_the_prewrite_the_same_commits_grow_the_log()
    {
        using var store = new MdtStore(_directory.Path);
        Assert.False(store.WalPrewritten);
        var before = Logs(_directory.Path).Values.Sum();
        await CommitAsync(store);
        Assert.True(Logs(_directory.Path).Values.Sum() > before, "the log did not grow: the contrast the other test relies on is gone");
    }

    [Fact]
    public void No_prewrite_when_the_filesystem_lacks_room_for_both_logs_above_the_reserve()
    {
        // A reserve of the whole filesystem: never room above it, whatever other tests free meanwhile.
        var size = new DriveInfo(_directory.Path).TotalSize;
        using var store = new MdtStore(_directory.Path, reserveBytes: size, walPrewriteBytes: Prewrite);
        Assert.False(store.WalPrewritten);
        Assert.DoesNotContain(Logs(_directory.Path).Values, length => length >= Prewrite);
    }

    private static async Task CommitAsync(MdtStore store)
    {
        // One after another, so each is a group commit of its own with its own sync.
        for (var i = 0; i < Commits; i++)
        {
            var key = Key(i);
            var value = Value(i);
            await store.ChangeAsync(tx =>
            {
                tx.Put(key, value);
                return true;
            });
        }
    }

    private static byte[] Key(int i) => Encoding.ASCII.GetBytes($"M/test-{i}");

    private static byte[] Value(int i) => Encoding.ASCII.GetBytes($"value {i} {new string('x', i % 97)}");

    private static Dictionary<string, long> Logs(string directory) =>
        Directory.GetFiles(directory, "*.log").ToDictionary(file => Path.GetFileName(file), file => new FileInfo(file).Length);
}
