using Lustre.Protocol;

namespace Lustre.Tests.Protocol;

public class FrameSenderTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Concurrent_senders_each_frame_arrives_whole_and_once(bool deferWhileBusy)
    {
        const int Senders = 16;
        const int FramesEach = 300;
        var (server, client) = await LoopbackPair.ConnectAsync();
        using var _ = server;
        using var __ = client;
        using var sender = new FrameSender(client);
        using var reader = new FrameReader(server);

        // Bulk sizes cross the inline limit both ways, so gathered and inline frames interleave; every third large
        // bulk is memory that is not an array (as an OSS's mapped page cache), which goes out in a send of its own.
        int BulkSize(ulong xid) => (int)(xid % 5) switch { 0 => 0, 1 => 100, 2 => FrameBuffer.InlineBulkLimit, 3 => FrameBuffer.InlineBulkLimit + 1, _ => 200_000 };
        bool NotAnArray(ulong xid) => xid % 3 == 0;
        byte Fill(ulong xid) => (byte)(xid * 31);

        var sends = Enumerable.Range(0, Senders).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < FramesEach; i++)
            {
                var xid = (ulong)(s * FramesEach + i + 1);
                using var frame = FrameBuffer.Rent();
                frame.Body.WriteUInt64(xid);
                var bulk = new byte[BulkSize(xid)];
                Array.Fill(bulk, Fill(xid));
                ReadOnlyMemory<byte> memory = NotAnArray(xid) ? new HiddenArray(bulk).Memory : bulk;
                // Deferring (a client's connection with calls in flight): frames sent from the pool while it has work
                // queued wait for a flusher queued behind that work.
                await sender.SendAsync(frame, new FrameHeader(Opcode.Ping, FrameFlags.None, 0, xid, frame.BodyLength, bulk.Length, 0), memory, default, othersInFlight: deferWhileBusy);
            }
        })).ToArray();

        var seen = new HashSet<ulong>();
        var body = new byte[8];
        for (var n = 0; n < Senders * FramesEach; n++)
        {
            var (hasFrame, error, header) = await reader.ReadHeaderAsync(ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, default);
            Assert.True(hasFrame);
            Assert.Equal(FrameError.None, error);
            await reader.ReadExactlyAsync(body, default);
            Assert.Equal(header.Xid, BitConverter.ToUInt64(body));
            Assert.Equal(BulkSize(header.Xid), header.BulkLength);
            var bulk = new byte[header.BulkLength];
            await reader.ReadExactlyAsync(bulk, default);
            Assert.True(bulk.AsSpan().IndexOfAnyExcept(Fill(header.Xid)) < 0, $"xid {header.Xid}: a bulk byte differs from what was sent");
            Assert.True(seen.Add(header.Xid), $"xid {header.Xid} arrived twice");
        }

        await Task.WhenAll(sends).WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Send_on_a_closed_socket_fails_and_later_sends_fail_too()
    {
        var (server, client) = await LoopbackPair.ConnectAsync();
        server.Dispose();
        using var sender = new FrameSender(client);
        client.Dispose();
        using var frame = FrameBuffer.Rent();
        var header = new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 1, 0, 0, 0);

        await Assert.ThrowsAnyAsync<Exception>(async () => await sender.SendAsync(frame, header, default, default));
        await Assert.ThrowsAnyAsync<Exception>(async () => await sender.SendAsync(frame, header, default, default));
    }

    [Fact]
    public async Task A_sender_closed_while_a_gathered_send_waits_fails_that_send_and_nothing_throws_on_the_thread_pool()
    {
        var (server, client) = await LoopbackPair.ConnectAsync();
        using var _ = server;
        var sender = new FrameSender(client);
        using var frame = FrameBuffer.Rent();

        // 16 MiB to a peer that reads nothing: more than the socket buffers hold, so the gathered send waits.
        var bulk = new byte[16 << 20];
        var send = sender.SendAsync(frame, new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 1, frame.BodyLength, bulk.Length, 0), bulk, default).AsTask();
        await Task.Delay(100);
        Assert.False(send.IsCompleted, "the send finished: the socket buffers took 16 MiB");

        // As a session closing its connection does: the sender first, then the socket, which ends the waiting send.
        // Its completion then runs on the thread pool on event args already freed; had it thrown there, the process ends.
        sender.Dispose();
        client.Dispose();
        await Assert.ThrowsAnyAsync<Exception>(() => send.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Frames_sent_while_holding_wait_for_SendHeld_and_then_all_arrive_in_order()
    {
        var (server, client) = await LoopbackPair.ConnectAsync();
        using var _ = server;
        using var __ = client;
        using var sender = new FrameSender(client);
        using var reader = new FrameReader(server);
        var frames = Enumerable.Range(0, 5).Select(_ => FrameBuffer.Rent()).ToArray();
        var sends = new ValueTask[frames.Length];

        sender.HoldSends();
        for (var i = 0; i < frames.Length; i++)
        {
            frames[i].Body.WriteUInt64((ulong)i + 1);
            sends[i] = sender.SendAsync(frames[i], new FrameHeader(Opcode.Ping, FrameFlags.None, 0, (ulong)i + 1, frames[i].BodyLength, 0, 0), default, default);
        }

        sender.EndHold();
        await Task.Delay(100);
        Assert.All(sends, send => Assert.False(send.IsCompleted, "a held frame was sent before SendHeld"));
        Assert.Equal(0, server.Available);

        sender.SendHeld();
        foreach (var send in sends)
        {
            await send.AsTask().WaitAsync(TimeSpan.FromSeconds(10));
        }

        await ExpectXidsAsync(reader, 1, 2, 3, 4, 5);
        Array.ForEach(frames, frame => frame.Dispose());
    }

    [Fact]
    public async Task Held_frames_go_out_with_the_next_writer_from_another_thread()
    {
        var (server, client) = await LoopbackPair.ConnectAsync();
        using var _ = server;
        using var __ = client;
        using var sender = new FrameSender(client);
        using var reader = new FrameReader(server);
        using var first = FrameBuffer.Rent();
        using var second = FrameBuffer.Rent();
        using var third = FrameBuffer.Rent();

        sender.HoldSends();
        var held = new[]
        {
            sender.SendAsync(first, new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 1, 0, 0, 0), default, default).AsTask(),
            sender.SendAsync(second, new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 2, 0, 0, 0), default, default).AsTask(),
        };
        sender.EndHold();

        // Not held: this thread is not the holder, so it writes, and takes the held frames along.
        await Task.Run(async () => await sender.SendAsync(third, new FrameHeader(Opcode.Ping, FrameFlags.None, 0, 3, 0, 0, 0), default, default)).WaitAsync(TimeSpan.FromSeconds(10));
        await Task.WhenAll(held).WaitAsync(TimeSpan.FromSeconds(10));
        await ExpectXidsAsync(reader, 3, 1, 2);
    }

    private static async Task ExpectXidsAsync(FrameReader reader, params ulong[] xids)
    {
        foreach (var xid in xids)
        {
            var (hasFrame, error, header) = await reader.ReadHeaderAsync(ProtocolLimits.MaxBodyLength, ProtocolLimits.MaxBulkLength, default).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(hasFrame);
            Assert.Equal(FrameError.None, error);
            Assert.Equal(xid, header.Xid);
            await reader.SkipAsync(header.BodyLength, default);
        }
    }

    /// <summary>Memory over an array that does not admit to being one, so the sender cannot gather it.</summary>
    private sealed class HiddenArray(byte[] array) : System.Buffers.MemoryManager<byte>
    {
        public override Span<byte> GetSpan() => array;

        public override System.Buffers.MemoryHandle Pin(int elementIndex = 0) => array.AsMemory(elementIndex).Pin();

        public override void Unpin()
        {
        }

        protected override void Dispose(bool disposing)
        {
        }
    }
}
