using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Cluster;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Client;

/// <summary>
/// One retry policy per operation: however many times the target is re-resolved through the MGS on the way, an
/// operation sends its request at most <see cref="LustreClientOptions.MaxAttempts"/> times, always with one xid.
/// </summary>
public sealed class RetryPolicyTests
{
    private const int MaxAttempts = 3;

    [Fact]
    public async Task A_read_from_an_OST_that_fails_at_its_old_and_its_new_address_is_sent_MaxAttempts_times_with_one_xid()
    {
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1 });
        var options = new LustreClientOptions { MaxAttempts = MaxAttempts, ConnectTimeout = TimeSpan.FromSeconds(2), RequestTimeout = TimeSpan.FromSeconds(2) };
        await using var client = new LustreClient(cluster.Address, options);
        var data = new byte[100_000];
        Random.Shared.NextBytes(data);
        await using (var file = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1)))
        {
            await file.WriteAtAsync(0, data);
        }

        // The OST's server goes down on receipt of every read, first at one address and then, after re-registering
        // with the MGS, at another: the client learns the second address only by re-resolving mid-operation.
        await using var before = new FrameProxy(cluster.Endpoint) { DropRequestsOf = Opcode.OstRead };
        await using var after = new FrameProxy(cluster.Endpoint) { DropRequestsOf = Opcode.OstRead };
        await using var registrar = new TargetTable([cluster.Endpoint], Settings(), connectionsPerServer: 1);
        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, before.Endpoint.ToString(), true), CancellationToken.None);
        await client.RefreshConfigurationAsync();
        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, after.Endpoint.ToString(), true), CancellationToken.None);
        await using var open = await client.OpenFileAsync("/f", access: FileAccess.Read);

        var ex = await Assert.ThrowsAnyAsync<LustreException>(async () => await open.ReadAtAsync(0, new byte[data.Length]));

        FrameHeader[] sent = [.. before.Dropped, .. after.Dropped];
        Assert.True(sent.Length == MaxAttempts, $"{sent.Length} attempts ({before.Dropped.Count} at the old address, {after.Dropped.Count} at the new), expected {MaxAttempts}: {ex.Message}");
        Assert.NotEmpty(after.Dropped);
        Assert.Single(sent.Select(h => h.Xid).Distinct());
        Assert.Equal([FrameFlags.None, .. Enumerable.Repeat(FrameFlags.Resend, MaxAttempts - 1)], sent.Select(h => h.Flags & FrameFlags.Resend));
        Assert.True(ex.IsTransient);
        Assert.Contains("OST0000", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Concurrent_reads_failing_together_share_their_lookups_at_the_MGS()
    {
        const int readers = 8;
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 1 });
        await using var mgs = new FrameProxy(cluster.Endpoint);
        var options = new LustreClientOptions { MaxAttempts = MaxAttempts, ConnectionsPerServer = 1 };
        await using var client = new LustreClient($"{mgs.Endpoint}/{cluster.Address.Split('/')[1]}", options);
        await using (var file = await client.OpenFileAsync("/f", FileMode.CreateNew, layout: FileLayout.Raid0(1 << 20, 1)))
        {
            await file.WriteAtAsync(0, new byte[readers << 20]);
        }

        await using var dropping = new FrameProxy(cluster.Endpoint) { DropRequestsOf = Opcode.OstRead };
        await using var registrar = new TargetTable([cluster.Endpoint], Settings(), connectionsPerServer: 1);
        await registrar.RegisterAsync(new TargetRecord(TargetKind.Ost, 0, dropping.Endpoint.ToString(), true), CancellationToken.None);
        await client.RefreshConfigurationAsync();
        await using var open = await client.OpenFileAsync("/f", access: FileAccess.Read);
        var before = mgs.Replies.Count(h => h.Opcode == Opcode.MgsGetConfig);

        var reads = Enumerable.Range(0, readers).Select(i => Assert.ThrowsAnyAsync<LustreException>(async () => await open.ReadAtAsync((long)i << 20, new byte[1 << 20])));
        await Task.WhenAll(reads);

        // Each reader re-resolves after each of its MaxAttempts - 1 failures; unshared that would be 8 x 2 lookups.
        var lookups = mgs.Replies.Count(h => h.Opcode == Opcode.MgsGetConfig) - before;
        Assert.InRange(lookups, 1, 2 * (MaxAttempts - 1));

        // Reads that shared a connection with a dropped one fail with it unseen, so the proxy sees at most this many.
        Assert.InRange(dropping.Dropped.Count, readers, readers * MaxAttempts);
    }

    private static RpcConnectionSettings Settings() => new(
        "registrar-" + Guid.NewGuid().ToString("N"), new XidGenerator(), TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(2), null, NullLogger.Instance);
}
