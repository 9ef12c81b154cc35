using System.Net.Sockets;
using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>The object store's own bookkeeping (what statfs reports) matches the object files on disk.</summary>
public sealed class ObjectStoreTests : IDisposable
{
    private readonly TempFolder _root = new("lustre-ost-");

    public void Dispose() => _root.Dispose();

    private int FilesOnDisk() => Directory.EnumerateFiles(Path.Combine(_root.Path, "objects"), "*", SearchOption.AllDirectories).Count();

    [Fact]
    public async Task Concurrent_first_writes_to_one_new_object_count_it_once()
    {
        using var store = new ObjectStore(0, _root.Path);
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
        using var store = new ObjectStore(0, _root.Path);
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
        var path = Path.Combine(_root.Path, "cached");
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
        using var store = new ObjectStore(0, _root.Path);
        var data = new byte[300_000];
        new Random(3).NextBytes(data);
        await store.WriteAsync(9, 0, data, CancellationToken.None);

        using (var region = await store.ReadRegionAsync(9, 5_000, 1 << 20))
        {
            Assert.IsType<MappedRegion>(region);
            Assert.Equal(data.Length - 5_000, region.Memory.Length);
            Assert.True(region.Memory.Span.SequenceEqual(data.AsSpan(5_000)));
        }

        Assert.Null(await store.ReadRegionAsync(9, data.Length, 4096));
        Assert.Null(await store.ReadRegionAsync(10, 0, 4096));
    }

    [Fact]
    public async Task With_direct_reads_a_range_not_all_in_the_page_cache_is_read_past_it_and_a_cached_one_is_mapped()
    {
        using var direct = new DirectReader(threads: 3);
        using var store = new ObjectStore(0, _root.Path, directReads: direct);

        // Bytes at [8 MiB, 11 MiB) only: [0, 8 MiB) is a hole that no read has brought into the page cache.
        var data = new byte[3 << 20];
        new Random(5).NextBytes(data);
        await store.WriteAsync(4, 8 << 20, data, CancellationToken.None);
        var expected = new byte[11 << 20];
        data.CopyTo(expected, 8 << 20);

        // Unaligned, across the hole and the written bytes, across 1 MiB pieces, and clipped at the object's end.
        foreach (var (offset, length) in new[] { (1_000_003L, 1 << 20), ((7L << 20) + 5, 8 << 20), ((10L << 20) - 4097, 3 << 20) })
        {
            using var region = await store.ReadRegionAsync(4, offset, length);
            var end = Math.Min(offset + length, expected.Length);
            Assert.Equal(end - offset, region!.Memory.Length);
            Assert.True(region.Memory.Span.SequenceEqual(expected.AsSpan((int)offset, (int)(end - offset))), $"bytes at {offset}");
        }

        Assert.True(store.DirectReadCount >= 2, $"{store.DirectReadCount} direct reads");

        // The written bytes are in the page cache: mapped, not read again from the disk.
        var before = store.DirectReadCount;
        using (var cached = await store.ReadRegionAsync(4, 8 << 20, 2 << 20))
        {
            Assert.IsType<MappedRegion>(cached);
            Assert.True(cached.Memory.Span.SequenceEqual(data.AsSpan(0, 2 << 20)));
        }

        Assert.Equal(before, store.DirectReadCount);
    }

    [Fact]
    public async Task A_direct_read_after_the_reader_stopped_fails_and_does_not_hang()
    {
        var path = Path.Combine(_root.Path, "file");
        await File.WriteAllBytesAsync(path, new byte[3 << 20]);
        using var handle = File.OpenHandle(path);
        var direct = new DirectReader(threads: 1);
        direct.Dispose();
        var read = direct.ReadAsync(handle, 0, 3 << 20).AsTask();
        Assert.Same(read, await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(30))));
        var ex = await Assert.ThrowsAsync<IOException>(() => read);
        Assert.Contains("stopped", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_direct_read_gives_the_files_bytes_at_any_offset_and_stops_at_its_end()
    {
        var path = Path.Combine(_root.Path, "file");
        var bytes = new byte[(5 << 20) + 1234];
        new Random(8).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        using var direct = new DirectReader(threads: 2);
        using var handle = File.OpenHandle(path);
        foreach (var (offset, length) in new[] { (0L, 1 << 20), (4095L, (3 << 20) + 2), ((4L << 20) + 17, 2 << 20), ((long)bytes.Length, 1 << 20) })
        {
            using var region = await direct.ReadAsync(handle, offset, length);
            var expected = bytes.AsSpan((int)Math.Min(offset, bytes.Length))[..(int)Math.Min(length, bytes.Length - offset)];
            Assert.Equal(expected.Length, region!.Length);
            Assert.True(region.Memory.Span.SequenceEqual(expected), $"bytes at {offset}");
        }
    }

    [Fact]
    public async Task Sending_a_mapped_region_of_an_object_truncated_meanwhile_fails_the_send_and_the_process_lives()
    {
        using var store = new ObjectStore(0, _root.Path);
        await store.WriteAsync(7, 0, new byte[8 << 20], CancellationToken.None);
        using var region = (await store.ReadRegionAsync(7, 0, 8 << 20))!;
        store.Punch(7, 0);

        // Only the kernel touches the mapping: the pages past the new end fault inside the send (EFAULT), not in
        // user code (SIGBUS), so the send fails and the connection can be closed.
        var (receiver, sender) = await LoopbackPair.ConnectAsync();
        using var _ = receiver;
        using var __ = sender;
        var drain = Task.Run(async () =>
        {
            var buffer = new byte[1 << 20];
            while (await receiver.ReceiveAsync(buffer) > 0)
            {
            }
        });

        var ex = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            for (var sent = 0; sent < region.Memory.Length;)
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
