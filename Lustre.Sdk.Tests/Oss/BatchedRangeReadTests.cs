using System.Runtime.InteropServices;
using Lustre.Protocol.Messages;
using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>
/// The ranges of one batched read on an OST (<see cref="ObjectStore.ReadRangesAsync"/>), on real object files: ranges
/// in the page cache and ranges that must come from the disk, in one batch, each get exactly their bytes, with zeros
/// past an object's end and for a missing object.
/// </summary>
public sealed class BatchedRangeReadTests : IDisposable
{
    private readonly TempFolder _root = new("lustre-ost-batch-");

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Cached_and_uncached_ranges_of_one_batch_read_their_own_bytes_and_zeros_past_each_end()
    {
        using var store = new ObjectStore(0, _root.Path);
        var objects = new Dictionary<ulong, byte[]>();
        for (ulong id = 1; id <= 6; id++)
        {
            var data = new byte[(int)(id * 23_000)];
            new Random((int)id).NextBytes(data);
            await store.WriteAsync(id, 0, data, CancellationToken.None);
            store.Sync(id);
            objects[id] = data;
        }

        // Objects 1 to 4 leave the page cache: their ranges must come from the disk. 5 and 6 stay cached.
        for (ulong id = 1; id <= 4; id++)
        {
            DropCached(id);
        }

        ObjectRange[] ranges =
        [
            new(1, 0, objects[1].Length),
            new(5, 1_000, 50_000),
            new(2, 7_777, 20_000),
            new(99, 0, 4_096),                              // no such object
            new(3, objects[3].Length - 5_000, 12_000),      // runs past the end
            new(6, 0, objects[6].Length),
            new(4, objects[4].Length + 10, 3_000),          // wholly past the end
            new(1, 100, 4_000),                             // the same object again
        ];
        var buffer = new byte[ranges.Sum(r => r.Length)];
        Array.Fill(buffer, (byte)0xEE);

        await store.ReadRangesAsync(ranges, buffer, CancellationToken.None);

        var at = 0;
        foreach (var range in ranges)
        {
            var expected = new byte[range.Length];
            if (objects.TryGetValue(range.ObjectId, out var data) && range.Offset < data.Length)
            {
                var count = (int)Math.Min(range.Length, data.Length - range.Offset);
                data.AsSpan((int)range.Offset, count).CopyTo(expected);
            }

            Assert.True(buffer.AsSpan(at, range.Length).SequenceEqual(expected), $"object {range.ObjectId}, {range.Length} bytes at {range.Offset}: wrong bytes");
            at += range.Length;
        }
    }

    /// <summary>Drops the object's pages from the page cache and checks that they are gone (a read from the cache alone gets nothing).</summary>
    private void DropCached(ulong id)
    {
        var path = Directory.EnumerateFiles(Path.Combine(_root.Path, "objects"), id.ToString("x"), SearchOption.AllDirectories).Single();
        using var handle = File.OpenHandle(path);
        Assert.Equal(0, PosixFadvise((int)handle.DangerousGetHandle(), 0, 0, PosixFadvDontNeed));
        Assert.Equal(0, CachedRead.TryRead(handle, new byte[4096], 0));
    }

    private const int PosixFadvDontNeed = 4;

    [DllImport("libc", EntryPoint = "posix_fadvise")]
    private static extern int PosixFadvise(int fd, long offset, long length, int advice);
}
