using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Client;

/// <summary>The client's target layer: one channel per target, replaced when the target moves, disposed when idle.</summary>
public sealed class TargetTableTests
{
    [Fact]
    public async Task A_moved_OST_gets_a_new_channel_and_the_old_one_is_disposed_after_its_last_call_with_its_unshared_connections()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 });
        await using var proxy = new FrameProxy(cluster.Endpoint);
        await using var client = new LustreClient(cluster.Address);
        await using var registrar = new TargetTable([cluster.Endpoint], Settings(), connectionsPerServer: 1);
        await client.RefreshConfigurationAsync();
        var targets = client.Session.Targets;
        var old = targets.Ost(0);
        var unmoved = targets.Ost(1);
        await StatFsAsync(targets, 0);
        var inFlight = targets.Acquire(TargetKind.Ost, 0);

        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, proxy.Endpoint.ToString(), true), CancellationToken.None);
        await client.RefreshConfigurationAsync();

        Assert.NotSame(old, targets.Ost(0));
        Assert.Same(unmoved, targets.Ost(1));
        Assert.Same(old.Server, unmoved.Server);
        await StatFsAsync(targets, 0);
        Assert.Contains(proxy.Replies, h => h.Opcode == Opcode.OstStatFs);

        // A call still holding the old channel keeps it open; when it finishes, the channel is gone for good. Its
        // connections stay while OST 1, on the same server, still uses them.
        Assert.True(old.TryEnter());
        old.Exit();
        inFlight.Exit();
        Assert.False(old.TryEnter());
        await StatFsAsync(targets, 1);

        // Back to the cluster's own address: nothing uses the proxy's connections any more, so they are closed.
        var viaProxy = targets.Ost(0);
        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, cluster.Endpoint.ToString(), true), CancellationToken.None);
        await client.RefreshConfigurationAsync();
        Assert.Same(unmoved.Server, targets.Ost(0).Server);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await viaProxy.Server.GetAsync(CancellationToken.None));
        await StatFsAsync(targets, 0);
    }

    private static async Task StatFsAsync(TargetTable targets, int ost)
    {
        using var frame = FrameBuffer.Rent();
        new OstIndexRequest(ost).Write(frame.Body);
        using var reply = await targets.CallAsync(TargetKind.Ost, ost, Opcode.OstStatFs, frame, default, default, CancellationToken.None);
        Assert.Equal(0, reply.Status);
    }

    private static RpcConnectionSettings Settings() => new(
        "registrar-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), null, NullLogger.Instance);
}
