using System.Net;
using System.Net.Sockets;
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

    [Fact]
    public async Task Small_reads_of_cached_objects_are_exact_at_the_end_and_past_it()
    {
        using var store = new ObjectStore(0, _root);
        var data = new byte[10_000];
        new Random(5).NextBytes(data);
        await store.WriteAsync(4, 0, data, CancellationToken.None);

        // Just written, so cached: read inline; and the same answers as the async path at and past the end.
        var buffer = new byte[4096];
        Assert.Equal(4096, await store.ReadAsync(4, 1000, buffer, CancellationToken.None));
        Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan(1000, 4096)));
        Assert.Equal(10_000 - 8000, await store.ReadAsync(4, 8000, buffer, CancellationToken.None));
        Assert.True(buffer.AsSpan(0, 2000).SequenceEqual(data.AsSpan(8000)));
        Assert.Equal(0, await store.ReadAsync(4, 10_000, buffer, CancellationToken.None));
        Assert.Equal(0, await store.ReadAsync(4, 50_000, buffer, CancellationToken.None));
        Assert.Equal(0, await store.ReadAsync(99, 0, buffer, CancellationToken.None));
    }

    [Fact]
    public void The_cache_only_read_returns_cached_bytes_and_flags_the_end_of_the_file()
    {
        var path = Path.Combine(_root, "cached");
        var data = new byte[8192];
        new Random(6).NextBytes(data);
        File.WriteAllBytes(path, data);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var buffer = new byte[4096];

        Assert.Equal(4096, CachedRead.TryRead(handle, buffer, 100));
        Assert.True(buffer.AsSpan().SequenceEqual(data.AsSpan(100, 4096)));
        Assert.Equal(92, CachedRead.TryRead(handle, buffer, 8100));
        Assert.Equal(-1, CachedRead.TryRead(handle, buffer, 8192));
    }

    [Fact]
    public async Task A_mapped_region_is_clipped_to_the_object_and_reads_its_bytes()
    {
        using var store = new ObjectStore(0, _root);
        var data = new byte[300_000];
        new Random(3).NextBytes(data);
        await store.WriteAsync(9, 0, data, CancellationToken.None);

        using (var region = store.MapRegion(9, 5_000, 1 << 20))
        {
            Assert.NotNull(region);
            Assert.Equal(data.Length - 5_000, region.Length);
            Assert.True(region.Memory.Span.SequenceEqual(data.AsSpan(5_000)));
        }

        Assert.Null(store.MapRegion(9, data.Length, 4096));
        Assert.Null(store.MapRegion(10, 0, 4096));
    }

    [Fact]
    public async Task Sending_a_mapped_region_of_an_object_truncated_meanwhile_fails_the_send_and_the_process_lives()
    {
        using var store = new ObjectStore(0, _root);
        await store.WriteAsync(7, 0, new byte[8 << 20], CancellationToken.None);
        using var region = store.MapRegion(7, 0, 8 << 20)!;
        store.Punch(7, 0);

        // Only the kernel touches the mapping: the pages past the new end fault inside the send (EFAULT), not in
        // user code (SIGBUS), so the send fails and the connection can be closed.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await sender.ConnectAsync(listener.LocalEndPoint!);
        using var receiver = await accept;
        var drain = Task.Run(async () =>
        {
            var buffer = new byte[1 << 20];
            while (await receiver.ReceiveAsync(buffer) > 0)
            {
            }
        });

        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            for (var sent = 0; sent < region.Length;)
            {
                var n = await sender.SendAsync(region.Memory[sent..], SocketFlags.None);
                if (n == 0)
                {
                    throw new IOException("send made no progress");
                }

                sent += n;
            }
        });
        Assert.True(ex is SocketException or IOException, ex.ToString());
        sender.Shutdown(SocketShutdown.Both);
        await drain.WaitAsync(TimeSpan.FromSeconds(10));
    }
}
