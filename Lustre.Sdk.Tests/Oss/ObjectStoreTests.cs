using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>The object store's own bookkeeping (what statfs reports) matches the object files on disk.</summary>
public sealed class ObjectStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("lustre-ost-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private int FilesOnDisk() => Directory.EnumerateFiles(Path.Combine(_root, "objects"), "*", SearchOption.AllDirectories).Count();

    [Fact]
    public async Task Concurrent_first_writes_to_one_new_object_count_it_once()
    {
        using var store = new ObjectStore(0, _root);
        var data = new byte[4096];
        for (ulong id = 1; id <= 200; id++)
        {
            // Sixteen stripe pieces of a new object arrive at once, as a striped write sends them.
            var objectId = id;
            await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(async () => await store.WriteAsync(objectId, i * 4096L, data, CancellationToken.None))));
        }

        Assert.Equal(200, FilesOnDisk());
        Assert.Equal(200, store.ObjectCount);
        for (ulong id = 1; id <= 200; id++)
        {
            store.Destroy(id);
        }

        Assert.Equal(0, FilesOnDisk());
        Assert.Equal(0, store.ObjectCount);
    }
}
