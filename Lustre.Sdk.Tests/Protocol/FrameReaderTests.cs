using System.IO.Hashing;
using Lustre.Protocol;

namespace Lustre.Tests.Protocol;

public class FrameReaderTests
{
    [Fact]
    public async Task A_scatter_receive_fills_small_and_large_segments_in_order_and_leaves_the_next_frame_alone()
    {
        var (accepted, connected) = await LoopbackPair.ConnectAsync();
        using var _ = accepted;
        using var __ = connected;
        using var reader = new FrameReader(accepted);

        // Around the size from which a segment is received into directly, an empty one, one partly filled (the bulk
        // ends inside it) and one past the bulk's end.
        int[] sizes = [1, FrameReader.DirectSegment - 1, FrameReader.DirectSegment, 0, 300_000, 5, 7, 40_000, 1000, 64];
        var bulk = new byte[sizes.Sum() - 64 - 600];
        Random.Shared.NextBytes(bulk);
        var next = new byte[100];
        Random.Shared.NextBytes(next);

        // Sent in pieces of an odd size with a pause between them, so receives end inside small segments too.
        var send = Task.Run(async () =>
        {
            var all = bulk.Concat(next).ToArray();
            for (var at = 0; at < all.Length;)
            {
                var piece = Math.Min(all.Length - at, 4999);
                await connected.SendAsync(all.AsMemory(at, piece));
                at += piece;
                await Task.Delay(1);
            }
        });

        var segments = sizes.Select(size => new Memory<byte>(Enumerable.Repeat((byte)0xEE, size).ToArray())).ToArray();
        await reader.ReadSegmentsAsync(segments, bulk.Length, default);

        var at = 0;
        foreach (var segment in segments)
        {
            var filled = Math.Min(segment.Length, bulk.Length - at);
            Assert.True(bulk.AsSpan(at, filled).SequenceEqual(segment.Span[..filled]), $"the segment at {at} holds other bytes");
            Assert.All(segment[filled..].ToArray(), b => Assert.Equal(0xEE, b));
            at += filled;
        }

        var after = new byte[next.Length];
        await reader.ReadExactlyAsync(after, default);
        Assert.Equal(next, after);
        await send;

        // The checksum of the segments is that of the bulk as one buffer.
        Assert.Equal(BulkChecksum.Compute(bulk), BulkChecksum.Compute(segments, bulk.Length, new XxHash3()));
        segments[4].Span[123] ^= 1;
        Assert.NotEqual(BulkChecksum.Compute(bulk), BulkChecksum.Compute(segments, bulk.Length, new XxHash3()));
    }
}
