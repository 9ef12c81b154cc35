using System.Net.Sockets;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Server.Cluster;
using Lustre.Server.Oss;

namespace Lustre.Tests.Oss;

/// <summary>
/// A cached range of an object sent with sendfile (<see cref="FileRegion"/>) through the frame sender: exact bytes in
/// their place among other frames, through a send buffer far smaller than the range (sendfile finds the socket full
/// again and again), clipped to the object, and a clear failure when the object is cut under the send.
/// </summary>
public sealed class FileRegionTests : IDisposable
{
    private const int ObjectBytes = 8 << 20;
    private readonly TempFolder _root = new("lustre-filerange-");

    public void Dispose() => _root.Dispose();

    /// <summary>A local socket pair whose sending end has a 64 KiB send buffer, far smaller than the ranges sent.</summary>
    private static async Task<(Socket Sending, Socket Receiving)> LocalPairAsync()
    {
        var (sending, receiving) = await LoopbackPair.ConnectAsync(local: true);
        sending.SendBufferSize = 64 * 1024;
        return (sending, receiving);
    }

    private async Task<(ObjectStore Store, byte[] Data)> StoreWithObjectAsync()
    {
        var store = new ObjectStore(0, _root.Path);
        var data = new byte[ObjectBytes];
        new Random(21).NextBytes(data);
        await store.WriteAsync(7, 0, data, CancellationToken.None);
        return (store, data);
    }

    [Fact]
    public async Task A_range_goes_out_whole_and_in_its_place_through_a_send_buffer_far_smaller_than_it()
    {
        var (store, data) = await StoreWithObjectAsync();
        using var owner = store;
        const int offset = 4_000;
        using var region = store.TryCachedFileRange(7, offset, ObjectBytes);
        Assert.NotNull(region);
        Assert.Equal(ObjectBytes - offset, region.Memory.Length); // clipped to the object's end

        var (sending, receiving) = await LocalPairAsync();
        using (sending)
        using (receiving)
        using (var sender = new FrameSender(sending))
        {
            var received = ReceiveAsync(receiving, 3);
            await SendAsync(sender, 1, default);
            await SendAsync(sender, 2, region.Memory);
            await SendAsync(sender, 3, default);
            var frames = await received;

            Assert.Equal([1UL, 2UL, 3UL], frames.Select(f => f.Header.Xid));
            Assert.Empty(frames[0].Bulk);
            Assert.True(frames[1].Bulk.AsSpan().SequenceEqual(data.AsSpan(offset)), "the range's bytes differ");
            Assert.Empty(frames[2].Bulk);
            Assert.False(region.Copied, "the range was read into an array, not sent with sendfile");
        }

        Assert.Null(store.TryCachedFileRange(7, ObjectBytes, 4096)); // past the end
        Assert.Null(store.TryCachedFileRange(8, 0, 4096)); // no such object
    }

    [Fact]
    public async Task Its_memory_still_gives_the_bytes_where_they_cannot_go_with_sendfile()
    {
        var (store, data) = await StoreWithObjectAsync();
        using var owner = store;
        using var region = store.TryCachedFileRange(7, 1_000, 300_000);
        Assert.NotNull(region);
        Assert.True(region.Memory.Span.SequenceEqual(data.AsSpan(1_000, 300_000)));
    }

    [Fact]
    public async Task An_object_cut_under_the_send_fails_the_send_and_the_connection_with_a_clear_error()
    {
        var (store, _) = await StoreWithObjectAsync();
        using var owner = store;
        using var region = store.TryCachedFileRange(7, 0, ObjectBytes);
        Assert.NotNull(region);
        store.Punch(7, 1 << 20);

        var (sending, receiving) = await LocalPairAsync();
        using (receiving)
        using (sending)
        using (var sender = new FrameSender(sending))
        {
            var drain = DrainAsync(receiving);
            var failure = await Assert.ThrowsAsync<IOException>(async () => await SendAsync(sender, 1, region.Memory));
            Assert.Contains("cut", failure.Message, StringComparison.Ordinal);
            var again = await Assert.ThrowsAsync<IOException>(async () => await SendAsync(sender, 2, default));
            Assert.Contains("earlier send", again.Message, StringComparison.Ordinal);
            sending.Shutdown(SocketShutdown.Both);
            await drain;
        }
    }

    [Theory]
    [InlineData(true, null, true)] // the default: a local socket, no checksum
    [InlineData(true, true, false)] // checksums forced on: the bytes must be hashed, so read into a buffer
    [InlineData(false, null, false)] // loopback TCP
    public async Task A_client_on_the_local_socket_gets_large_cached_reads_from_the_file_with_the_right_bytes(bool localSockets, bool? checksums, bool fromFile)
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 });
        await using var client = new LustreClient(cluster.Address, new LustreClientOptions { LocalSockets = localSockets, BulkChecksums = checksums });
        var data = new byte[(6 << 20) + 777];
        new Random(5).NextBytes(data);
        await using (var file = await client.OpenFileAsync("/f", FileMode.Create, layout: FileLayout.Raid0(1 << 20, 2)))
        {
            await file.WriteAtAsync(0, data);
        }

        // Large aligned writes may go past the page cache (direct writes): the first read brings the bytes into it.
        var read = new byte[data.Length];
        await using (var file = await client.OpenFileAsync("/f", FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(data.Length, await file.ReadAtAsync(0, read));
        }

        Array.Clear(read);
        var before = cluster.Node.Oss!.Targets.Sum(t => t.FileRangeCount);
        await using (var file = await client.OpenFileAsync("/f", FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(data.Length, await file.ReadAtAsync(0, read));
        }

        Assert.True(data.AsSpan().SequenceEqual(read), "the bytes read differ");
        var sent = cluster.Node.Oss.Targets.Sum(t => t.FileRangeCount) - before;
        Assert.Equal(fromFile, sent > 0);
    }

    private static async Task SendAsync(FrameSender sender, ulong xid, ReadOnlyMemory<byte> bulk)
    {
        using var frame = FrameBuffer.Rent();
        frame.Body.WriteUInt64(xid);
        await sender.SendAsync(frame, new FrameHeader(Opcode.OstRead, FrameFlags.Reply, 0, xid, frame.BodyLength, bulk.Length, 0), bulk, CancellationToken.None);
    }

    private static async Task<List<(FrameHeader Header, byte[] Bulk)>> ReceiveAsync(Socket socket, int count)
    {
        using var stream = new NetworkStream(socket, ownsSocket: false);
        var frames = new List<(FrameHeader, byte[])>();
        var header = new byte[FrameHeader.Size];
        for (var i = 0; i < count; i++)
        {
            await stream.ReadExactlyAsync(header);
            Assert.Equal(FrameError.None, FrameHeader.TryRead(header, ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, out var parsed));
            await stream.ReadExactlyAsync(new byte[parsed.BodyLength]);
            var bulk = new byte[parsed.BulkLength];
            await stream.ReadExactlyAsync(bulk);
            frames.Add((parsed, bulk));
        }

        return frames;
    }

    private static async Task DrainAsync(Socket socket)
    {
        var buffer = new byte[1 << 20];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }
}
