using System.Net;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Protocol;
using Lustre.Tests.Cluster;
using Lustre.Tests.Rpc;
using Microsoft.Extensions.Logging.Abstractions;
using NSubstitute;

namespace Lustre.Tests.IO;

/// <summary>Faults injected under the parallel data path: a failing OST, a timing-out OST, corrupt bulk data.</summary>
[Collection(ClusterCollection.Name)]
public sealed class StripedIoFaultTests
{
    private const int Stripe = 64 * 1024;
    private readonly ClusterFixture _fixture;

    public StripedIoFaultTests(ClusterFixture fixture) => _fixture = fixture;

    public static TheoryData<string> Failures() => ["lost", "timeout"];

    [Theory]
    [MemberData(nameof(Failures))]
    public async Task An_OST_failing_mid_write_surfaces_as_an_IOException_naming_the_OST_and_offset_and_no_flush_claims_success(string kind)
    {
        var failure = kind == "timeout"
            ? new LustreException("no reply within 60 s", LustreErrno.ETIMEDOUT, isTransient: true)
            : new LustreException("connection lost", LustreErrno.ENOTCONN, isTransient: true);
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = _fixture.ClientWithFaultyOst2(failure);
        var file = await client.OpenFileAsync($"{dir}/f", FileMode.CreateNew, layout: FileLayout.Raid0(Stripe, -1, stripeOffset: 0));
        Assert.Equal(2, file.Layout.Components[0].Objects[2].OstIndex);

        var write = await Assert.ThrowsAnyAsync<IOException>(async () => await file.WriteAtAsync(0, new byte[4 * Stripe]));
        Assert.Contains("OST0002", write.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {2 * Stripe}", write.Message, StringComparison.Ordinal);

        var flush = await Assert.ThrowsAnyAsync<IOException>(() => file.FlushAsync());
        Assert.Contains("earlier write failed", flush.Message, StringComparison.Ordinal);
        await file.DisposeAsync();
        Assert.Equal(0, (await _fixture.Client.GetInfoAsync($"{dir}/f")).Length);
    }

    [Fact]
    public async Task A_stream_over_a_failing_OST_never_reports_a_successful_flush()
    {
        var dir = await _fixture.NewDirectoryAsync();
        await using var client = _fixture.ClientWithFaultyOst2(new LustreException("connection lost", LustreErrno.ENOTCONN, isTransient: true));
        var stream = await client.OpenStreamAsync($"{dir}/s", FileMode.CreateNew, FileAccess.Write, FileLayout.Raid0(Stripe, -1, stripeOffset: 0));
        await stream.WriteAsync(new byte[8 * Stripe]);
        var ex = await Assert.ThrowsAnyAsync<IOException>(() => stream.FlushAsync());
        Assert.Contains("OST0002", ex.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<IOException>(() => stream.FlushAsync());
        await Assert.ThrowsAnyAsync<IOException>(async () => await stream.DisposeAsync());
    }

    private static ServerCaller ClientOver(IRpcConnection connection, int maxAttempts) => new(
        new ServerConnections(new IPEndPoint(IPAddress.Loopback, 1), _ => Task.FromResult(connection), connectionCount: 1),
        new RpcConnectionSettings("unit", new XidGenerator(), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1), null, NullLogger.Instance),
        maxAttempts);

    [Fact]
    public async Task A_checksum_mismatch_on_read_is_retried_with_the_same_xid_and_the_good_copy_returned()
    {
        var connection = Substitute.For<IRpcConnection>();
        connection.IsHealthy.Returns(true);
        var xids = new List<(ulong Xid, bool Resend)>();
        var attempts = 0;
        connection.CallAsync(Opcode.OstRead, Arg.Any<FrameBuffer>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReplyBulk>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>())
            .Returns(call =>
            {
                xids.Add((call.ArgAt<ulong>(4), call.ArgAt<bool>(5)));
                return ++attempts < 3
                    ? ValueTask.FromException<RpcReply>(new BulkChecksumException("ost", 1, 4096))
                    : ValueTask.FromResult(new RpcReply(0, null, 0, 4096));
            });
        await using var rpc = ClientOver(connection, maxAttempts: 4);
        using var frame = FrameBuffer.Rent();

        using var reply = await rpc.CallAsync(Opcode.OstRead, frame, default, new byte[4096], CancellationToken.None);

        Assert.Equal(0, reply.Status);
        Assert.Equal(4096, reply.BulkLength);
        Assert.Equal(3, xids.Count);
        Assert.Single(xids.Select(x => x.Xid).Distinct());
        Assert.Equal([false, true, true], xids.Select(x => x.Resend));
    }

    [Fact]
    public async Task A_checksum_mismatch_on_every_attempt_is_reported_not_returned_as_data()
    {
        var connection = Substitute.For<IRpcConnection>();
        connection.IsHealthy.Returns(true);
        connection.CallAsync(Arg.Any<Opcode>(), Arg.Any<FrameBuffer>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReplyBulk>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>())
            .Returns(_ => ValueTask.FromException<RpcReply>(new BulkChecksumException("ost", 1, 4096)));
        await using var rpc = ClientOver(connection, maxAttempts: 3);
        using var frame = FrameBuffer.Rent();

        await Assert.ThrowsAsync<BulkChecksumException>(async () => await rpc.CallAsync(Opcode.OstRead, frame, default, new byte[4096], CancellationToken.None));

        await connection.Received(3).CallAsync(Opcode.OstRead, Arg.Any<FrameBuffer>(), Arg.Any<ReadOnlyMemory<byte>>(), Arg.Any<ReplyBulk>(), Arg.Any<ulong>(), Arg.Any<bool>(), Arg.Any<CancellationToken>());
    }
}
