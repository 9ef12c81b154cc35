using Lustre.Client;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Namespace;

/// <summary>
/// The MDS keeps the directories path walks pass through (<c>WalkCache</c>); a walk must still see every rename,
/// rmdir and mkdir the moment the change is answered, from the client that made it and from any other. A real
/// client against a real embedded cluster.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class WalkCoherenceTests
{
    private readonly ClusterFixture _fixture;

    public WalkCoherenceTests(ClusterFixture fixture) => _fixture = fixture;

    private LustreClient Client => _fixture.Client;

    [Fact]
    public async Task A_renamed_directory_is_walked_by_its_new_name_at_once_and_its_old_name_can_be_made_again()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/a");
        await Client.CreateDirectoryAsync(dir + "/a/b");
        var file = await Client.CreateFileAsync(dir + "/a/b/f");
        Assert.Equal(file.Fid, (await Client.GetInfoAsync(dir + "/a/b/f")).Fid);
        Assert.True(_fixture.Cluster.Node.Mdt!.Walks.Count.Entries > 0, "the stat's walk kept nothing");

        await Client.RenameAsync(dir + "/a/b", dir + "/a/c");

        await Assert.ThrowsAsync<FileNotFoundException>(() => Client.GetInfoAsync(dir + "/a/b/f"));
        Assert.Equal(file.Fid, (await Client.GetInfoAsync(dir + "/a/c/f")).Fid);

        await Client.CreateDirectoryAsync(dir + "/a/b");
        var other = await Client.CreateFileAsync(dir + "/a/b/g");
        Assert.Equal(other.Fid, (await Client.GetInfoAsync(dir + "/a/b/g")).Fid);
        await Assert.ThrowsAsync<FileNotFoundException>(() => Client.GetInfoAsync(dir + "/a/b/f"));
    }

    [Fact]
    public async Task A_directory_removed_and_made_again_under_the_same_name_is_a_new_directory_to_the_walk()
    {
        var dir = await _fixture.NewDirectoryAsync();
        var first = await Client.CreateDirectoryAsync(dir + "/d");
        await Client.CreateFileAsync(dir + "/d/x");
        await Client.GetInfoAsync(dir + "/d/x");
        await Client.DeleteFileAsync(dir + "/d/x");
        await Client.DeleteDirectoryAsync(dir + "/d");

        await Assert.ThrowsAsync<FileNotFoundException>(() => Client.GetInfoAsync(dir + "/d"));
        var second = await Client.CreateDirectoryAsync(dir + "/d");
        Assert.NotEqual(first.Fid, second.Fid);
        var y = await Client.CreateFileAsync(dir + "/d/y");
        Assert.Equal(y.Fid, (await Client.GetInfoAsync(dir + "/d/y")).Fid);
        Assert.Equal(second.Fid, (await Client.GetInfoAsync(dir + "/d")).Fid);
    }

    [Fact]
    public async Task Stats_racing_renames_never_answer_from_before_a_rename_that_was_answered()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await Client.CreateDirectoryAsync(dir + "/x");
        var file = await Client.CreateFileAsync(dir + "/x/f");
        await using var other = new LustreClient(_fixture.Cluster.Address);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // Another client walks both names all the time, filling and refilling the cache.
        var walker = Task.Run(async () =>
        {
            var seen = 0;
            while (!stop.IsCancellationRequested)
            {
                foreach (var name in (string[])["/x/f", "/y/f"])
                {
                    try
                    {
                        Assert.Equal(file.Fid, (await other.GetInfoAsync(dir + name)).Fid);
                        seen++;
                    }
                    catch (FileNotFoundException)
                    {
                    }
                }
            }

            return seen;
        });

        for (var i = 0; i < 100; i++)
        {
            var (from, to) = i % 2 == 0 ? ("/x", "/y") : ("/y", "/x");
            await Client.RenameAsync(dir + from, dir + to);

            // Answered: every walk from now on, from either client, sees the new name only.
            Assert.Equal(file.Fid, (await Client.GetInfoAsync(dir + to + "/f")).Fid);
            Assert.Equal(file.Fid, (await other.GetInfoAsync(dir + to + "/f")).Fid);
            await Assert.ThrowsAsync<FileNotFoundException>(() => Client.GetInfoAsync(dir + from + "/f"));
            await Assert.ThrowsAsync<FileNotFoundException>(() => other.GetInfoAsync(dir + from + "/f"));
        }

        await stop.CancelAsync();
        Assert.True(await walker > 0, "the racing client never found the file");
    }
}
