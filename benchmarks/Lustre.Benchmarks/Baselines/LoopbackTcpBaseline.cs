using System.Net.Sockets;
using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Baselines;

/// <summary>
/// The network ceiling of a bulk read: the same bytes pushed server → client over the same number of loopback
/// connections our client opens to the OSS, in large sends, received into a reused buffer. No disk, no protocol.
/// </summary>
internal static class LoopbackTcpBaseline
{
    /// <param name="local">Over Unix-domain sockets (<see cref="LoopbackPair"/>) instead of loopback TCP.</param>
    public static async Task<PhaseResult> MeasureAsync(int connections, long totalBytes, int sendSize, bool local = false)
    {
        var pairs = await LoopbackPair.ConnectAsync(connections, local);
        try
        {
            return await MeasureAsync(pairs, totalBytes, sendSize);
        }
        finally
        {
            LoopbackPair.Dispose(pairs);
        }
    }

    /// <summary>The same over connections made before (and warmed up, as a long-running client's are), which stay open.</summary>
    public static async Task<PhaseResult> MeasureAsync((Socket Server, Socket Client)[] pairs, long totalBytes, int sendSize)
    {
        var connections = pairs.Length;
        var tasks = new List<Task>(connections * 2);
        var meter = new PhaseMeter();
        for (var i = 0; i < connections; i++)
        {
            var share = totalBytes / connections + (i == 0 ? totalBytes % connections : 0);
            tasks.Add(SendAsync(pairs[i].Server, share, sendSize));
            tasks.Add(ReceiveAsync(pairs[i].Client, share, sendSize));
        }

        await Task.WhenAll(tasks);
        return PhaseMeter.Bytes($"raw {LoopbackPair.Transport(pairs)}, {connections} connections, {sendSize >> 20} MiB sends", totalBytes, meter.Stop());
    }

    private static async Task SendAsync(Socket socket, long bytes, int sendSize)
    {
        await Task.Yield();
        var buffer = GC.AllocateArray<byte>(sendSize, pinned: true);
        Random.Shared.NextBytes(buffer);
        while (bytes > 0)
        {
            var chunk = buffer.AsMemory(0, (int)Math.Min(sendSize, bytes));
            while (!chunk.IsEmpty)
            {
                var sent = await socket.SendAsync(chunk, SocketFlags.None);
                chunk = chunk[sent..];
                bytes -= sent;
            }
        }
    }

    private static async Task ReceiveAsync(Socket socket, long bytes, int receiveSize)
    {
        await Task.Yield();
        var buffer = GC.AllocateArray<byte>(receiveSize, pinned: true);
        while (bytes > 0)
        {
            var read = await socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(receiveSize, bytes)), SocketFlags.None);
            if (read == 0)
            {
                throw new EndOfStreamException($"Loopback peer closed with {bytes} bytes still to come.");
            }

            bytes -= read;
        }
    }
}
