using System.Net.Sockets;
using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// The small-RPC ceiling: a tiny in-process server answers each 64-byte request with a reply (4 KiB unless asked
/// otherwise), over the same number of connections our client uses, with a fixed number of requests in flight spread
/// over them. Each reply and each request is its own send (what any RPC engine does per message); receives take
/// whatever has arrived.
/// </summary>
internal static class LoopbackRequestReplyBaseline
{
    public const int RequestSize = 64;
    public const int ReplySize = 4096;

    /// <param name="local">Over Unix-domain sockets (<see cref="LoopbackPair"/>) instead of loopback TCP.</param>
    public static async Task<PhaseResult> MeasureAsync(int connections, int inFlight, TimeSpan warmup, TimeSpan duration, int replySize = ReplySize, bool local = false)
    {
        var pairs = await LoopbackPair.ConnectAsync(connections, local);
        using var stop = new CancellationTokenSource();
        long completed = 0;
        try
        {
            var tasks = new List<Task>(connections * 2);
            for (var i = 0; i < connections; i++)
            {
                var share = inFlight / connections + (i < inFlight % connections ? 1 : 0);
                tasks.Add(ServeAsync(pairs[i].Server, replySize));
                tasks.Add(ClientAsync(pairs[i].Client, share, replySize, () => stop.IsCancellationRequested, n => Interlocked.Add(ref completed, n)));
            }

            await Task.Delay(warmup);
            var meter = new PhaseMeter();
            var before = Interlocked.Read(ref completed);
            await Task.Delay(duration);
            var after = Interlocked.Read(ref completed);
            var cost = meter.Stop();
            stop.Cancel();
            await Task.WhenAll(tasks);
            var name = local ? "local socket request/response" : "loopback request/response";
            return PhaseMeter.Operations($"{name}, {inFlight} in flight over {connections} connections, {replySize} B replies", after - before, cost);
        }
        finally
        {
            LoopbackPair.Dispose(pairs);
        }
    }

    /// <summary>Reads requests and sends one reply per whole request, until the client shuts its side down.</summary>
    private static async Task ServeAsync(Socket socket, int replySize)
    {
        await Task.Yield();
        var input = new byte[64 * 1024];
        var reply = GC.AllocateArray<byte>(replySize, pinned: true);
        Random.Shared.NextBytes(reply);
        var partial = 0;
        while (true)
        {
            var read = await socket.ReceiveAsync(input.AsMemory(), SocketFlags.None);
            if (read == 0)
            {
                socket.Shutdown(SocketShutdown.Send);
                return;
            }

            partial += read;
            for (; partial >= RequestSize; partial -= RequestSize)
            {
                await SendAllAsync(socket, reply);
            }
        }
    }

    /// <summary>Keeps <paramref name="inFlight"/> requests outstanding: one new request per reply received, until stopped.</summary>
    private static async Task ClientAsync(Socket socket, int inFlight, int replySize, Func<bool> stopping, Action<long> count)
    {
        await Task.Yield();
        var request = GC.AllocateArray<byte>(RequestSize, pinned: true);
        var input = GC.AllocateArray<byte>(64 * 1024, pinned: true);
        for (var i = 0; i < inFlight; i++)
        {
            await SendAllAsync(socket, request);
        }

        var outstanding = inFlight;
        var partial = 0;
        while (outstanding > 0)
        {
            var read = await socket.ReceiveAsync(input.AsMemory(), SocketFlags.None);
            if (read == 0)
            {
                throw new EndOfStreamException($"The baseline server closed with {outstanding} replies outstanding.");
            }

            partial += read;
            var replies = 0;
            for (; partial >= replySize; partial -= replySize)
            {
                replies++;
                outstanding--;
                if (!stopping())
                {
                    await SendAllAsync(socket, request);
                    outstanding++;
                }
            }

            count(replies);
        }

        // Only now: a request sent after a shutdown would fail.
        socket.Shutdown(SocketShutdown.Send);
    }

    private static async ValueTask SendAllAsync(Socket socket, ReadOnlyMemory<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var sent = await socket.SendAsync(bytes, SocketFlags.None);
            bytes = bytes[sent..];
        }
    }
}
