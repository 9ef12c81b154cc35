using System.Net;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Tests.Cluster;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// Clients that pipeline large reads and never read the replies: the server sets each request's bulk aside from a
/// memory budget before reading it (per connection and in all), so they hold a bounded share, the server's memory
/// stays within its budget and other clients go on; after the send timeout their connections are closed.
/// </summary>
public sealed class SlowReaderTests(ITestOutputHelper output) : IDisposable
{
    private const int Budget = 256 << 20;
    private readonly TempFolder _data = new("lustre-slow-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task Connections_that_never_read_their_replies_stay_within_the_memory_budget_and_others_are_served()
    {
        await using var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "1", "--memory-budget", "256M");
        var address = await server.WaitForAddressAsync();
        var data = new byte[64 << 20];
        new Random(7).NextBytes(data);
        ObjectRef obj;
        await using (var writer = new LustreClient(address))
        await using (var file = await writer.OpenFileAsync("/big", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1)))
        {
            await file.WriteAtAsync(0, data);
            await file.FlushAsync();
            var o = file.Layout.Components[0].Objects[0];
            obj = new ObjectRef(o.OstIndex, o.ObjectId);
        }

        var baseline = server.ResidentBytes();

        // Four connections, each asking for 64 reads of 16 MiB (4 GiB in all) and reading nothing back.
        var endpoint = IPEndPoint.Parse(address[..address.IndexOf('/', StringComparison.Ordinal)]);
        var peers = new List<RawPeer>();
        try
        {
            for (var p = 0; p < 4; p++)
            {
                var peer = await RawPeer.ConnectAsync(endpoint);
                peers.Add(peer);
                await peer.ConnectAsync($"slow-reader-{p}");
                var frames = new List<byte>();
                for (var i = 0; i < 64; i++)
                {
                    frames.AddRange(RawPeer.Frame(Opcode.OstRead, peer.NextXid(), w => new OstReadRequest(obj, (i % 4) * (16L << 20), 16 << 20).Write(w)));
                }

                await peer.SendAsync(frames.ToArray());
            }

            // Another client reads the whole file meanwhile, byte for byte.
            var started = System.Diagnostics.Stopwatch.StartNew();
            await using (var reader = new LustreClient(address))
            await using (var file = await reader.OpenFileAsync("/big", FileMode.Open, FileAccess.Read))
            {
                var back = new byte[data.Length];
                Assert.Equal(back.Length, await file.ReadAtAsync(0, back).AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
                Assert.True(back.AsSpan().SequenceEqual(data));
            }

            var served = started.Elapsed;
            long peak = 0;
            for (var i = 0; i < 30; i++)
            {
                peak = Math.Max(peak, server.ResidentBytes());
                await Task.Delay(100);
            }

            output.WriteLine($"server RSS {baseline >> 20} MiB before, peak {peak >> 20} MiB with 4 connections holding 4 GiB of unread reads (budget {Budget >> 20} MiB); the other client read 64 MiB in {served.TotalMilliseconds:0} ms");
            Assert.True(peak - baseline <= Budget, $"server RSS grew by {(peak - baseline) >> 20} MiB, over its budget of {Budget >> 20} MiB");
        }
        finally
        {
            foreach (var peer in peers)
            {
                await peer.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_connection_whose_replies_go_unread_for_the_send_timeout_is_closed()
    {
        await using var node = await LustreNode.StartAsync(
            new NodeOptions
            {
                DataDirectory = _data.Path,
                RunMgs = true,
                RunMds = true,
                RunOss = true,
                OstCount = 1,
                MemoryBudget = 64 << 20,
                SendTimeout = TimeSpan.FromSeconds(1),
            },
            NullLoggerFactory.Instance,
            CancellationToken.None);
        var address = $"{node.Endpoint}/{node.FsName}";
        ObjectRef obj;
        await using (var client = new LustreClient(address))
        await using (var file = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, stripeCount: 1)))
        {
            await file.WriteAtAsync(0, new byte[16 << 20]);
            var o = file.Layout.Components[0].Objects[0];
            obj = new ObjectRef(o.OstIndex, o.ObjectId);
        }

        await using var peer = await RawPeer.ConnectAsync(node.Endpoint);
        await peer.ConnectAsync("never-reads");
        var frames = new List<byte>();
        for (var i = 0; i < 16; i++)
        {
            frames.AddRange(RawPeer.Frame(Opcode.OstRead, peer.NextXid(), w => new OstReadRequest(obj, 0, 16 << 20).Write(w)));
        }

        await peer.SendAsync(frames.ToArray());

        // Not reading for well past the timeout; then what is left to read ends in a close, not in more replies.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await peer.AssertClosedByServerAsync();

        // The server goes on for everyone else.
        await using var other = new LustreClient(address);
        Assert.Equal(16 << 20, (await other.GetInfoAsync("/f")).Length);
    }
}
