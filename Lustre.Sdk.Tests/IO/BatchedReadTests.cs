using System.Buffers;
using Lustre.Client;
using Lustre.IO;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.IO;

/// <summary>
/// <see cref="LustreClient.ReadBatchAsync"/>: many ranges of many files in one call, each compared with the bytes written;
/// the OST requests it makes are counted on a client of its own, so batching and coalescing show as fewer requests.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class BatchedReadTests(ClusterFixture fixture)
{
    private const int Stripe = 64 * 1024;

    [Fact]
    public async Task Overlapping_and_out_of_order_ranges_read_their_own_bytes_and_each_object_byte_crosses_once()
    {
        var dir = await fixture.NewDirectoryAsync();
        var data = await WriteAsync(fixture.Client, $"{dir}/f", 200_000, FileLayout.Raid0(Stripe, 1));
        await using var recorder = RecordingClient.Create(fixture.Address);
        await using var file = await recorder.Client.OpenFileAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
        (long Offset, int Length)[] ranges = [(150_000, 5000), (0, 100), (50, 100), (149_000, 3000), (10, 20), (70_000, 1), (0, 100), (149_999, 6002)];

        var (counts, destinations) = await ReadAsync(recorder.Client, ranges.Select(r => (file, r.Offset, r.Length)).ToArray());

        for (var i = 0; i < ranges.Length; i++)
        {
            Assert.Equal(ranges[i].Length, counts[i]);
            Assert.True(data.AsSpan((int)ranges[i].Offset, ranges[i].Length).SequenceEqual(destinations[i]), $"range {i} ({ranges[i]}) read other bytes");
        }

        // One object: [0, 150) and [70000, 70001) and [149000, 156001) once each, in one batch request.
        Assert.Equal(1, recorder.Count(Opcode.OstReadBatch));
        Assert.Equal(0, recorder.Count(Opcode.OstRead));
        Assert.Equal(150 + 1 + 7001, recorder.BulkBytes(Opcode.OstReadBatch));
    }

    [Fact]
    public async Task Ranges_across_stripe_boundaries_and_past_the_end_of_file_read_what_the_file_holds()
    {
        var dir = await fixture.NewDirectoryAsync();
        const int Size = (6 * Stripe) + 1234;
        var data = await WriteAsync(fixture.Client, $"{dir}/striped", Size, FileLayout.Raid0(Stripe, 4, stripeOffset: 0));
        await using var file = await fixture.Client.OpenFileAsync($"{dir}/striped", FileMode.Open, FileAccess.Read);
        (long Offset, int Length, int Expected)[] ranges =
        [
            (Stripe - 10, 20, 20),                      // two stripes, two OSTs
            ((2 * Stripe) - 5, (2 * Stripe) + 10, (2 * Stripe) + 10), // three OSTs
            (0, 5 * Stripe, 5 * Stripe),                // large: every OST, objects 0 and 1 twice
            (Size - 100, 1000, 100),                    // runs past the end: the tail only
            (Size, 10, 0),                              // at the end: nothing
            (Size + 5000, 10, 0),                       // past it: nothing
            (4 * Stripe, 0, 0),                         // empty
        ];

        var (counts, destinations) = await ReadAsync(fixture.Client, ranges.Select(r => (file, r.Offset, r.Length)).ToArray());

        for (var i = 0; i < ranges.Length; i++)
        {
            Assert.Equal(ranges[i].Expected, counts[i]);
            Assert.True(data.AsSpan((int)Math.Min(ranges[i].Offset, Size), counts[i]).SequenceEqual(destinations[i].AsSpan(0, counts[i])), $"range {i} read other bytes");
            Assert.All(destinations[i][counts[i]..], b => Assert.Equal(0xEE, b)); // past what was read: untouched
        }
    }

    [Fact]
    public async Task Hundreds_of_small_files_in_shuffled_order_are_read_in_a_few_requests_per_OST()
    {
        var dir = await fixture.NewDirectoryAsync();
        var random = new Random(20240611);
        var contents = new List<byte[]>();
        var tasks = new List<Task<byte[]>>();
        for (var i = 0; i < 300; i++)
        {
            tasks.Add(WriteAsync(fixture.Client, $"{dir}/s{i:D3}", random.Next(1, 20_000), FileLayout.Raid0(Stripe, 1)));
        }

        contents.AddRange(await Task.WhenAll(tasks));
        await using var recorder = RecordingClient.Create(fixture.Address);
        var entries = new List<LustreDirectoryEntry>();
        await foreach (var entry in recorder.Client.EnumerateDirectoryAsync(dir))
        {
            entries.Add(entry);
        }

        var files = await recorder.Client.OpenFilesAsync(entries);
        Assert.Equal(contents.Select(c => (long)c.Length), files.Select(f => f.Length));
        var order = Enumerable.Range(0, 300).Concat([17, 17, 250]).OrderBy(_ => random.Next()).ToArray();
        var (counts, destinations) = await ReadAsync(recorder.Client, order.Select(i => (files[i], 0L, contents[i].Length)).ToArray());

        for (var k = 0; k < order.Length; k++)
        {
            Assert.Equal(contents[order[k]].Length, counts[k]);
            Assert.True(contents[order[k]].AsSpan().SequenceEqual(destinations[k]), $"file s{order[k]:D3} read other bytes");
        }

        // About 3 MB over 4 OSTs in batches of at most 1 MiB: a handful of requests, not 303.
        var requests = recorder.Count(Opcode.OstReadBatch) + recorder.Count(Opcode.OstRead);
        Assert.InRange(requests, ClusterFixture.OstCount, 16);
        Assert.Equal(contents.Sum(c => (long)c.Length), recorder.BulkBytes(Opcode.OstReadBatch) + recorder.BulkBytes(Opcode.OstRead));
    }

    [Fact]
    public async Task Small_files_in_one_batch_with_bulk_checksums_on_land_whole_in_their_own_buffers()
    {
        // Sizes around the scatter receive's direct-segment size, and two files asked for twice (their span goes
        // through a buffer); the checksum covers the reply's bulk across every segment it filled.
        var dir = await fixture.NewDirectoryAsync();
        int[] sizes = [1, 100, FrameReader.DirectSegment - 1, FrameReader.DirectSegment, FrameReader.DirectSegment + 1, 4096, 60_000, 3, 90_000, 16_000];
        // All on OST 0, so they travel in one batch whatever the allocator would have chosen.
        var contents = await Task.WhenAll(sizes.Select((size, i) => WriteAsync(fixture.Client, $"{dir}/c{i}", size, FileLayout.Raid0(Stripe, 1, stripeOffset: 0))));
        await using var recorder = RecordingClient.Create(fixture.Address, options: new LustreClientOptions { BulkChecksums = true });
        var files = new LustreFile[sizes.Length];
        for (var i = 0; i < sizes.Length; i++)
        {
            files[i] = await recorder.Client.OpenFileAsync($"{dir}/c{i}", FileMode.Open, FileAccess.Read);
        }

        int[] order = [9, 0, 4, 2, 7, 4, 1, 8, 3, 5, 6, 0];
        var (counts, destinations) = await ReadAsync(recorder.Client, order.Select(i => (files[i], 0L, sizes[i])).ToArray());

        for (var k = 0; k < order.Length; k++)
        {
            Assert.Equal(sizes[order[k]], counts[k]);
            Assert.True(contents[order[k]].AsSpan().SequenceEqual(destinations[k]), $"file c{order[k]} read other bytes");
        }

        Assert.Equal(0, recorder.Count(Opcode.OstRead));
        Assert.Equal(1, recorder.Count(Opcode.OstReadBatch));
        foreach (var file in files)
        {
            await file.DisposeAsync();
        }
    }

    [Fact]
    public async Task Holes_and_mirrored_files_read_in_a_batch_as_they_read_alone()
    {
        var dir = await fixture.NewDirectoryAsync();
        byte[] sparse;
        await using (var file = await fixture.Client.OpenFileAsync($"{dir}/sparse", FileMode.CreateNew, layout: FileLayout.Raid0(Stripe, 2, stripeOffset: 0)))
        {
            await file.WriteAtAsync(0, new byte[] { 1, 2, 3 });
            await file.WriteAtAsync(3 * Stripe, new byte[] { 4, 5 });
            sparse = new byte[(3 * Stripe) + 2];
            sparse[0] = 1;
            sparse[1] = 2;
            sparse[2] = 3;
            sparse[^2] = 4;
            sparse[^1] = 5;
        }

        var mirroredData = await WriteAsync(fixture.Client, $"{dir}/mirrored", 100_000, FileLayout.Mirrored(2, FileLayout.Raid0(Stripe, 1)));
        await using var hole = await fixture.Client.OpenFileAsync($"{dir}/sparse", FileMode.Open, FileAccess.Read);
        await using var mirrored = await fixture.Client.OpenFileAsync($"{dir}/mirrored", FileMode.Open, FileAccess.Read);
        Assert.True(mirrored.Layout.IsMirrored);

        var (counts, destinations) = await ReadAsync(fixture.Client, [(hole, 1, 10), (mirrored, 5000, 20_000), (hole, Stripe - 5, Stripe + 10), (hole, (3 * Stripe) - 3, 100)]);

        Assert.Equal([10, 20_000, Stripe + 10, 5], counts);
        Assert.Equal(sparse.AsSpan(1, 10).ToArray(), destinations[0]);
        Assert.Equal(mirroredData.AsSpan(5000, 20_000).ToArray(), destinations[1]);
        Assert.All(destinations[2], b => Assert.Equal(0, b));
        Assert.Equal(sparse.AsSpan((3 * Stripe) - 3, 5).ToArray(), destinations[3][..5]);
    }

    [Fact]
    public async Task An_OSS_without_batched_reads_is_read_one_range_per_request_and_the_client_remembers()
    {
        var dir = await fixture.NewDirectoryAsync();
        var a = await WriteAsync(fixture.Client, $"{dir}/a", 3000, FileLayout.Raid0(Stripe, 1, stripeOffset: 1));
        var b = await WriteAsync(fixture.Client, $"{dir}/b", 5000, FileLayout.Raid0(Stripe, 1, stripeOffset: 1));
        await using var recorder = RecordingClient.Create(fixture.Address, refuseBatches: true);
        await using var fa = await recorder.Client.OpenFileAsync($"{dir}/a", FileMode.Open, FileAccess.Read);
        await using var fb = await recorder.Client.OpenFileAsync($"{dir}/b", FileMode.Open, FileAccess.Read);

        for (var round = 0; round < 2; round++)
        {
            var (counts, destinations) = await ReadAsync(recorder.Client, [(fa, 0, 3000), (fb, 100, 4900)]);
            Assert.Equal([3000, 4900], counts);
            Assert.Equal(a, destinations[0]);
            Assert.Equal(b.AsSpan(100).ToArray(), destinations[1]);
        }

        // The first round's batch was refused (ENOSYS) and read as two requests; the second round sent no batch.
        Assert.Equal(1, recorder.Count(Opcode.OstReadBatch));
        Assert.Equal(4, recorder.Count(Opcode.OstRead));
    }

    [Fact]
    public async Task Careless_calls_are_refused_naming_the_request_and_a_cancelled_token_cancels()
    {
        var dir = await fixture.NewDirectoryAsync();
        await WriteAsync(fixture.Client, $"{dir}/f", 10, FileLayout.Raid0(Stripe, 1));
        await using var other = new LustreClient(fixture.Address);
        await using var foreign = await other.OpenFileAsync($"{dir}/f", FileMode.Open, FileAccess.Read);
        var mine = await fixture.Client.OpenFileAsync($"{dir}/f", FileMode.Open, FileAccess.Read);

        Assert.Empty(await fixture.Client.ReadBatchAsync([]));
        var wrongClient = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.ReadBatchAsync([new LustreReadRequest(mine, 0, new byte[1]), new LustreReadRequest(foreign, 0, new byte[1])]));
        Assert.Contains("Request 1", wrongClient.Message, StringComparison.Ordinal);
        Assert.Contains("another client", wrongClient.Message, StringComparison.Ordinal);
        Assert.Contains("Request 0", (await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.ReadBatchAsync([default]))).Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => fixture.Client.ReadBatchAsync([new LustreReadRequest(mine, -1, new byte[1])]));

        // Destinations that share bytes, in one array or one memory manager, are refused before anything is read;
        // touching ones, empty ones and the same range of the file twice are fine.
        var shared = Enumerable.Repeat((byte)0xEE, 100).ToArray();
        var overlap = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.ReadBatchAsync(
            [new LustreReadRequest(mine, 0, shared.AsMemory(0, 10)), new LustreReadRequest(mine, 0, new byte[5]), new LustreReadRequest(mine, 2, shared.AsMemory(8, 4))]));
        Assert.Contains("Requests 0 and 2", overlap.Message, StringComparison.Ordinal);
        Assert.Contains("2 bytes in common", overlap.Message, StringComparison.Ordinal);
        Assert.All(shared, b => Assert.Equal(0xEE, b));
        using var owner = MemoryPool<byte>.Shared.Rent(64);
        await Assert.ThrowsAsync<ArgumentException>(() => fixture.Client.ReadBatchAsync(
            [new LustreReadRequest(mine, 0, owner.Memory[..10]), new LustreReadRequest(mine, 0, owner.Memory[9..12])]));
        int[] fine = [10, 3, 0];
        Assert.Equal(fine, await fixture.Client.ReadBatchAsync(
            [new LustreReadRequest(mine, 0, shared.AsMemory(0, 10)), new LustreReadRequest(mine, 7, shared.AsMemory(10, 5)), new LustreReadRequest(mine, 0, shared.AsMemory(15, 0))]));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => fixture.Client.ReadBatchAsync([new LustreReadRequest(mine, 0, new byte[10]), new LustreReadRequest(mine, 2, new byte[3])], cancelled.Token));
        await mine.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(() => fixture.Client.ReadBatchAsync([new LustreReadRequest(mine, 0, new byte[1])]));
    }

    [Fact]
    public async Task Opening_listed_files_in_a_batch_fails_a_deleted_file_or_a_directory_by_name()
    {
        var dir = await fixture.NewDirectoryAsync();
        await WriteAsync(fixture.Client, $"{dir}/keep", 10, FileLayout.Raid0(Stripe, 1));
        await WriteAsync(fixture.Client, $"{dir}/gone", 10, FileLayout.Raid0(Stripe, 1));
        await fixture.Client.CreateDirectoryAsync($"{dir}/sub");
        var entries = new Dictionary<string, LustreDirectoryEntry>();
        await foreach (var entry in fixture.Client.EnumerateDirectoryAsync(dir))
        {
            entries[entry.Name] = entry;
        }

        await fixture.Client.DeleteFileAsync($"{dir}/gone");

        var kept = Assert.Single(await fixture.Client.OpenFilesAsync([entries["keep"]]));
        Assert.Equal((10, $"{dir}/keep", false), (kept.Length, kept.Path, kept.CanWrite));
        var gone = await Assert.ThrowsAsync<FileNotFoundException>(() => fixture.Client.OpenFilesAsync([entries["keep"], entries["gone"]]));
        Assert.Equal($"{dir}/gone", gone.FileName);
        await Assert.ThrowsAsync<UnauthorizedAccessException>(() => fixture.Client.OpenFilesAsync([entries["sub"]]));
        Assert.Empty(await fixture.Client.OpenFilesAsync(Array.Empty<LustreDirectoryEntry>()));
    }

    private static async Task<byte[]> WriteAsync(LustreClient client, string path, int size, FileLayout layout)
    {
        var data = new byte[size];
        Random.Shared.NextBytes(data);
        await using var file = await client.OpenFileAsync(path, FileMode.CreateNew, layout: layout);
        await file.WriteAtAsync(0, data);
        return data;
    }

    /// <summary>Reads the ranges in one batch into destinations pre-filled with 0xEE.</summary>
    private static async Task<(int[] Counts, byte[][] Destinations)> ReadAsync(LustreClient client, (LustreFile File, long Offset, int Length)[] ranges)
    {
        var destinations = ranges.Select(r => Enumerable.Repeat((byte)0xEE, r.Length).ToArray()).ToArray();
        var counts = await client.ReadBatchAsync(ranges.Select((r, i) => new LustreReadRequest(r.File, r.Offset, destinations[i])).ToArray());
        return (counts, destinations);
    }
}
