using Lustre.Protocol;
using Lustre.Server.Mds;
using static Lustre.Tests.Mirrors.MirrorFiles;

namespace Lustre.Tests.Mds;

/// <summary>
/// Reads of Data-on-MDT chunks through one iterator, as a batched read makes them (on a real MDT, RocksDB in a temp
/// folder): the bytes of each range, and that a read stops at the last chunk its range can touch instead of stepping
/// on to the next file's chunk, a block read the batch's next seek would make again.
/// </summary>
public sealed class DataOnMdtReadTests : IDisposable
{
    private static readonly LustreFid First = new(0x200000400, 10, 0);
    private static readonly LustreFid Second = new(0x200000400, 11, 0);
    private static readonly LustreFid Third = new(0x200000400, 12, 0);
    private readonly TempFolder _directory = new("lustre-dom-read-");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task A_read_returns_its_range_and_stops_at_the_last_chunk_it_can_touch()
    {
        using var store = new MdtStore(_directory.Path);
        var first = RandomBytes(40_000, 1);
        var second = RandomBytes(DataOnMdt.ChunkSize, 2);
        var third = RandomBytes(100_000, 3);
        await store.ChangeAsync(tx =>
        {
            DataOnMdt.Write(tx, First, 0, first, 0);
            DataOnMdt.Write(tx, Second, 0, second, 0);
            DataOnMdt.Write(tx, Third, 0, third, 0);
            return true;
        });

        using var iterator = store.NewIterator();

        // A whole one-chunk file: its bytes, and the iterator still on its chunk, not on the next file's.
        var destination = new byte[first.Length];
        DataOnMdt.Read(iterator, First, 0, destination);
        Assert.Equal(first, destination);
        Assert.Equal(MdtKeys.DataKey(First, 0), iterator.Key());

        // A file exactly one chunk long, read whole.
        destination = new byte[second.Length];
        DataOnMdt.Read(iterator, Second, 0, destination);
        Assert.Equal(second, destination);
        Assert.Equal(MdtKeys.DataKey(Second, 0), iterator.Key());

        // A range across the two chunks of a longer file ends on its second chunk.
        destination = new byte[20_000];
        DataOnMdt.Read(iterator, Third, 60_000, destination);
        Assert.Equal(third.AsSpan(60_000, 20_000).ToArray(), destination);
        Assert.Equal(MdtKeys.DataKey(Third, 1), iterator.Key());

        // A range within the first chunk of that file stops on the first.
        destination = new byte[1_000];
        DataOnMdt.Read(iterator, Third, 5_000, destination);
        Assert.Equal(third.AsSpan(5_000, 1_000).ToArray(), destination);
        Assert.Equal(MdtKeys.DataKey(Third, 0), iterator.Key());

        // Past a file's bytes: zeros (the next file's chunk is not read into it).
        destination = new byte[2 * DataOnMdt.ChunkSize];
        DataOnMdt.Read(iterator, First, 0, destination);
        Assert.Equal(first, destination.AsSpan(0, first.Length).ToArray());
        Assert.All(destination.AsSpan(first.Length).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public async Task Holes_and_bytes_past_the_chunks_read_as_zeros_over_a_dirty_buffer()
    {
        using var store = new MdtStore(_directory.Path);
        var head = RandomBytes(1_000, 4);
        var tail = RandomBytes(1_000, 5);
        await store.ChangeAsync(tx =>
        {
            // Chunk 0 holds 1,000 bytes, chunk 1 none (a hole), chunk 2 1,000 bytes at 5,000 into it.
            DataOnMdt.Write(tx, First, 0, head, 0);
            DataOnMdt.Write(tx, First, (2 * DataOnMdt.ChunkSize) + 5_000, tail, head.Length);
            return true;
        });

        using var iterator = store.NewIterator();
        foreach (var (offset, length) in new[] { (0L, 3 * DataOnMdt.ChunkSize), (500L, 2 * DataOnMdt.ChunkSize + 6_000), ((long)DataOnMdt.ChunkSize, 10_000) })
        {
            // A pooled buffer holds old bytes: every byte of the range must be written.
            var destination = new byte[length];
            Array.Fill(destination, (byte)0xA5);
            DataOnMdt.Read(iterator, First, offset, destination);

            var expected = new byte[length];
            for (var i = 0; i < length; i++)
            {
                var position = offset + i;
                expected[i] = position < head.Length ? head[position]
                    : position - (2 * DataOnMdt.ChunkSize) - 5_000 is >= 0 and < 1_000 and var t ? tail[t] : (byte)0;
            }

            Assert.Equal(expected, destination);
        }
    }

    [Fact]
    public async Task A_range_within_one_chunk_is_a_point_read_and_one_across_chunks_is_left_to_the_iterator()
    {
        using var store = new MdtStore(_directory.Path);
        var small = RandomBytes(3_901, 6);
        var large = RandomBytes(DataOnMdt.ChunkSize + 20_000, 7);
        await store.ChangeAsync(tx =>
        {
            DataOnMdt.Write(tx, First, 0, small, 0);
            DataOnMdt.Write(tx, Second, 0, large, 0);
            return true;
        });

        using var snapshot = store.Database.CreateSnapshot();
        var read = new RocksDbSharp.ReadOptions().SetSnapshot(snapshot);
        var buffer = new byte[3 * DataOnMdt.ChunkSize];

        // A whole small file, at an offset into a dirty buffer, asked past its bytes: its bytes, then zeros, nothing else touched.
        Array.Fill(buffer, (byte)0xA5);
        Assert.True(DataOnMdt.TryReadOneChunk(store.Database, read, First, 0, buffer, 100, 5_000));
        Assert.Equal(small, buffer.AsSpan(100, small.Length).ToArray());
        Assert.All(buffer.AsSpan(100 + small.Length, 5_000 - small.Length).ToArray(), b => Assert.Equal(0, b));
        Assert.Equal(0xA5, buffer[99]);
        Assert.Equal(0xA5, buffer[5_100]);

        // Within the second chunk of a larger file, from inside it.
        Assert.True(DataOnMdt.TryReadOneChunk(store.Database, read, Second, DataOnMdt.ChunkSize + 1_000, buffer, 0, 10_000));
        Assert.Equal(large.AsSpan(DataOnMdt.ChunkSize + 1_000, 10_000).ToArray(), buffer.AsSpan(0, 10_000).ToArray());

        // A chunk never written (a hole, or no such file): zeros.
        Array.Fill(buffer, (byte)0xA5);
        Assert.True(DataOnMdt.TryReadOneChunk(store.Database, read, Third, 0, buffer, 0, 4_096));
        Assert.All(buffer.AsSpan(0, 4_096).ToArray(), b => Assert.Equal(0, b));

        // Across the chunk boundary: not a point read, nothing read.
        Array.Fill(buffer, (byte)0xA5);
        Assert.False(DataOnMdt.TryReadOneChunk(store.Database, read, Second, DataOnMdt.ChunkSize - 10, buffer, 0, 20));
        Assert.Equal(0xA5, buffer[0]);

        // The whole-file read picks either way and gives the same bytes.
        DataOnMdt.Read(store.Database, read, Second, 0, buffer, large.Length);
        Assert.Equal(large, buffer.AsSpan(0, large.Length).ToArray());
        DataOnMdt.Read(store.Database, read, First, 0, buffer, small.Length);
        Assert.Equal(small, buffer.AsSpan(0, small.Length).ToArray());
    }
}
