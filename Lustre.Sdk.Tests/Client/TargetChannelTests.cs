using System.Net;
using Lustre.Client;
using NSubstitute;

namespace Lustre.Tests.Client;

/// <summary>One target's channel on its own, over a connection double.</summary>
public sealed class TargetChannelTests
{
    [Theory]
    [InlineData(1 << 20, 1 << 20)]
    [InlineData(16 << 20, 4 << 20)]
    public async Task The_bulk_limit_is_the_clients_own_until_connected_then_capped_at_what_the_server_advertised(int advertised, int expected)
    {
        var connection = Substitute.For<IRpcConnection>();
        connection.IsHealthy.Returns(true);
        connection.MaxBulkLength.Returns(advertised);
        await using var server = new ServerConnections(new IPEndPoint(IPAddress.Loopback, 1), _ => Task.FromResult(connection), connectionCount: 1);
        var channel = new TargetChannel("OST0000", server, limits: new OstLimits(8, 4 << 20), maxBulkSize: 4 << 20, idle: null);

        Assert.Equal(4 << 20, channel.MaxBulkLength);
        await server.GetAsync(CancellationToken.None);

        Assert.Equal(expected, channel.MaxBulkLength);
    }

    [Fact]
    public void A_retired_channel_is_disposed_when_its_last_lease_returns_and_takes_no_new_one()
    {
        var idle = 0;
        var server = new ServerConnections(new IPEndPoint(IPAddress.Loopback, 1), _ => Task.FromResult(Substitute.For<IRpcConnection>()), connectionCount: 1);
        var channel = new TargetChannel("OST0000", server, limits: new OstLimits(8, 4 << 20), maxBulkSize: 4 << 20, idle: _ => idle++);
        Assert.True(channel.TryEnter());

        channel.Exit(); // the owner retires it while a call is in flight
        Assert.Equal(0, idle);
        channel.Exit(); // the call finishes

        Assert.Equal(1, idle);
        Assert.False(channel.TryEnter());
    }
}
