using System.Collections.Concurrent;
using System.Diagnostics;
using Lustre.Client;
using Lustre.Protocol;
using Lustre.Server.Rpc;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Tests.Rpc;

/// <summary>
/// What a cancelled call does on the wire: a read is abandoned at once, while a change already sent is waited for and
/// its reply returned, so it can never be applied after its caller has moved on; a call whose token is already
/// cancelled sends nothing. Against a server whose handlers hold each request until the test lets it go.
/// </summary>
public sealed class CancelledRequestTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_sent_write_is_waited_for_a_read_is_abandoned_and_a_cancelled_token_sends_nothing()
    {
        var service = new HeldService();
        await using var server = new RpcServer(new RpcServerOptions { Name = "held" }, [service], NullLogger.Instance);
        server.Start();
        var settings = new RpcConnectionSettings("cancel-test", new XidGenerator(), TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), null, NullLogger.Instance);
        await using var connection = await RpcConnection.ConnectAsync(server.LocalEndPoint, settings, CancellationToken.None);

        using var readCancel = new CancellationTokenSource();
        var read = CallAsync(connection, settings, Opcode.OstRead, readCancel.Token);
        await service.Arrived(Opcode.OstRead).WaitAsync(Timeout);
        var timer = Stopwatch.StartNew();
        await readCancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => read.WaitAsync(Timeout));
        Assert.True(timer.Elapsed < CancellationLatency.Bound, $"the read took {timer.ElapsedMilliseconds} ms to be abandoned");

        using var writeCancel = new CancellationTokenSource();
        var write = CallAsync(connection, settings, Opcode.OstWrite, writeCancel.Token);
        await service.Arrived(Opcode.OstWrite).WaitAsync(Timeout);
        await writeCancel.CancelAsync();
        await Task.Delay(200);
        Assert.False(write.IsCompleted, "a write the server was applying was abandoned by its cancellation");
        service.Release(Opcode.OstWrite);
        Assert.Equal(0, await write.WaitAsync(Timeout));

        // Not sent at all: the punch that follows it on the same connection is the next request the server sees.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CallAsync(connection, settings, Opcode.OstWrite, writeCancel.Token));
        service.Release(Opcode.OstPunch);
        Assert.Equal(0, await CallAsync(connection, settings, Opcode.OstPunch, CancellationToken.None).WaitAsync(Timeout));
        Assert.Equal([Opcode.OstRead, Opcode.OstWrite, Opcode.OstPunch], service.Order);
        Assert.Equal(0, connection.PendingCount);
        service.Release(Opcode.OstRead);
    }

    private static async Task<int> CallAsync(RpcConnection connection, RpcConnectionSettings settings, Opcode opcode, CancellationToken cancellationToken)
    {
        using var frame = FrameBuffer.Rent();

        // An OST index no queue serves: the dispatcher runs the request on its control queue.
        frame.Body.WriteInt32(77);
        using var reply = await connection.CallAsync(opcode, frame, opcode == Opcode.OstWrite ? new byte[4096] : default, default, settings.Xids.Next(), resend: false, cancellationToken);
        return reply.Status;
    }

    /// <summary>Answers OstRead, OstWrite and OstPunch with success, each only once the test releases that opcode.</summary>
    private sealed class HeldService : IRpcService
    {
        private readonly ConcurrentDictionary<Opcode, TaskCompletionSource> _arrived = new();
        private readonly ConcurrentDictionary<Opcode, TaskCompletionSource> _released = new();
        private readonly ConcurrentQueue<Opcode> _order = new();

        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers => [(Opcode.OstRead, HandleAsync), (Opcode.OstWrite, HandleAsync), (Opcode.OstPunch, HandleAsync)];

        public Opcode[] Order => [.. _order];

        public Task Arrived(Opcode opcode) => Gate(_arrived, opcode).Task;

        public void Release(Opcode opcode) => Gate(_released, opcode).TrySetResult();

        private static TaskCompletionSource Gate(ConcurrentDictionary<Opcode, TaskCompletionSource> gates, Opcode opcode) =>
            gates.GetOrAdd(opcode, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

        private async ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken)
        {
            _order.Enqueue(request.Opcode);
            Gate(_arrived, request.Opcode).TrySetResult();
            await Gate(_released, request.Opcode).Task.WaitAsync(cancellationToken);
            return RpcResponse.Ok();
        }
    }
}
