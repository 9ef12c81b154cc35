using System.Diagnostics;
using System.Security.Cryptography;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// Server dispatch: a request that blocks in the kernel (an fsync of a large object) holds one worker of its own
/// target, not the connection it came on, nor the OSS's other targets.
/// </summary>
[Collection(TimingCollection.Name)]
public sealed class DispatchTests
{
    private const int ReadSize = 4096;
    private const int SmallObjectSize = 1 << 20;
    private const int BigChunk = 4 << 20;
    private const long BigObjectSize = 1L << 30;

    /// <summary>Reads that must run while the fsync does, or the fsync was too short to tell a stall from none.</summary>
    private const int MinimumOverlappingReads = 200;

    private readonly ITestOutputHelper _output;

    public DispatchTests(ITestOutputHelper output) => _output = output;

    [Fact]
    public async Task Cached_reads_on_the_connection_of_an_fsync_are_answered_while_it_runs()
    {
        // Buffered OST writes: with direct writes (the default) the 1 GiB below would reach the disk as it is written and
        // leave the fsync next to nothing to do (2 ms on a fast disk), so no read could overlap it.
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, DirectWrites = false });
        // One connection carries everything below; a long request timeout, as the fsync of 1 GiB may take seconds.
        var settings = new RpcConnectionSettings(
            "dispatch-test-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(10), TimeSpan.FromMinutes(2), null, NullLogger.Instance, BulkChecksums: false);
        await using var connection = await RpcConnection.ConnectAsync(cluster.Endpoint, settings, CancellationToken.None);

        // A small object on the fsync's OST and one on the other OST, written and read once: cached and open.
        ObjectRef[] cached = [new(0, 0x5001), new(1, 0x5002)];
        var data = RandomNumberGenerator.GetBytes(BigChunk);
        foreach (var target in cached)
        {
            await WriteAsync(connection, settings, target, 0, data.AsMemory(0, SmallObjectSize));
            var all = new byte[SmallObjectSize];
            Assert.Equal(SmallObjectSize, await ReadAsync(connection, settings, target, 0, all));
            Assert.Equal(data.AsMemory(0, SmallObjectSize).ToArray(), all);
        }

        // 1 GiB on OST 0 without a sync: its pages stay dirty in the page cache until the OstSync below.
        var big = new ObjectRef(0, 0x5003);
        for (long offset = 0; offset < BigObjectSize; offset += 4L * BigChunk)
        {
            var writes = new Task[4];
            for (var i = 0; i < writes.Length; i++)
            {
                writes[i] = WriteAsync(connection, settings, big, offset + ((long)i * BigChunk), data);
            }

            await Task.WhenAll(writes);
        }

        var sync = SyncAsync(connection, settings, big);
        var started = Stopwatch.GetTimestamp();
        var latencies = new List<double>();
        var readers = new Task[4];
        for (var r = 0; r < readers.Length; r++)
        {
            var target = cached[r % cached.Length];
            var seed = r;
            readers[r] = Task.Run(async () =>
            {
                var random = new Random(seed);
                var buffer = new byte[ReadSize];
                while (!sync.IsCompleted)
                {
                    var offset = (long)random.Next(SmallObjectSize / ReadSize) * ReadSize;
                    var begin = Stopwatch.GetTimestamp();
                    Assert.Equal(ReadSize, await ReadAsync(connection, settings, target, offset, buffer));
                    var elapsed = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
                    Assert.Equal(data.AsSpan((int)offset, ReadSize).ToArray(), buffer);
                    lock (latencies)
                    {
                        latencies.Add(elapsed);
                    }
                }
            });
        }

        await sync;
        var syncMilliseconds = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        await Task.WhenAll(readers);

        latencies.Sort();
        var p50 = latencies.Count == 0 ? 0 : latencies[latencies.Count / 2];
        var p99 = latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, latencies.Count * 99 / 100)];
        var summary = $"fsync of 1 GiB took {syncMilliseconds:0} ms; {latencies.Count} reads of 4 KiB ran meanwhile: p50 {p50:0.000} ms, p99 {p99:0.000} ms, max {(latencies.Count == 0 ? 0 : latencies[^1]):0.000} ms";
        _output.WriteLine(summary);
        Assert.True(latencies.Count >= MinimumOverlappingReads, $"too few reads overlapped the fsync to judge: {summary}");
        // Stalled reads wait for the whole fsync (383–518 ms before reads left the reader loop). The bound scales with
        // the fsync so a loaded machine's scheduling noise (p99 up to ~7 ms at load 40) does not read as a stall.
        Assert.True(p99 < Math.Max(5, syncMilliseconds / 10), $"reads stalled behind the fsync: {summary}");
    }

    private static async Task WriteAsync(RpcConnection connection, RpcConnectionSettings settings, ObjectRef target, long offset, ReadOnlyMemory<byte> data)
    {
        using var reply = await CallAsync(connection, settings, Opcode.OstWrite, w => new OstWriteRequest(target, offset).Write(w), data);
    }

    private static async Task SyncAsync(RpcConnection connection, RpcConnectionSettings settings, ObjectRef target)
    {
        using var reply = await CallAsync(connection, settings, Opcode.OstSync, w => target.Write(w), default);
    }

    private static async Task<int> ReadAsync(RpcConnection connection, RpcConnectionSettings settings, ObjectRef target, long offset, Memory<byte> destination)
    {
        using var frame = FrameBuffer.Rent();
        new OstReadRequest(target, offset, destination.Length).Write(frame.Body);
        using var reply = await connection.CallAsync(Opcode.OstRead, frame, default, destination, settings.Xids.Next(), resend: false, CancellationToken.None);
        Assert.Equal(0, reply.Status);
        return reply.BulkLength;
    }

    private static async Task<RpcReply> CallAsync(RpcConnection connection, RpcConnectionSettings settings, Opcode opcode, Action<BodyWriter> body, ReadOnlyMemory<byte> bulk)
    {
        using var frame = FrameBuffer.Rent();
        body(frame.Body);
        var reply = await connection.CallAsync(opcode, frame, bulk, default, settings.Xids.Next(), resend: false, CancellationToken.None);
        Assert.True(reply.Status == 0, $"{opcode} failed: {reply.ErrorMessage}");
        return reply;
    }
}
