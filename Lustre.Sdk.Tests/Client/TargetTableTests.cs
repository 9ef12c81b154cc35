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

    [Fact]
    public async Task A_refresh_that_finds_the_same_configuration_keeps_the_snapshot_and_one_that_finds_a_change_replaces_it()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2 });
        await using var proxy = new FrameProxy(cluster.Endpoint);
        await using var registrar = new TargetTable([cluster.Endpoint], Settings(), connectionsPerServer: 1);
        await using var targets = new TargetTable([cluster.Endpoint], Settings(), connectionsPerServer: 1);
        var first = await targets.RefreshAsync(CancellationToken.None);
        var channel = targets.Ost(0);
        var epoch = targets.Epoch;

        // Unchanged: the same configuration object, the same channels; the lookup is still counted.
        Assert.Same(first, await targets.RefreshAsync(CancellationToken.None));
        Assert.Same(first, targets.Config);
        Assert.Same(channel, targets.Ost(0));
        Assert.True(targets.Epoch > epoch);

        // Changed on the MGS: decoded and applied.
        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, proxy.Endpoint.ToString(), true), CancellationToken.None);
        var moved = await targets.RefreshAsync(CancellationToken.None);
        Assert.NotSame(first, moved);
        Assert.True(moved.Generation > first.Generation);
        Assert.Equal(proxy.Endpoint.ToString(), moved.Targets.Single(t => t.Kind == TargetKind.Ost && t.Index == 0).Address);
        Assert.NotSame(channel, targets.Ost(0));
        Assert.Same(moved, await targets.RefreshAsync(CancellationToken.None));
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
