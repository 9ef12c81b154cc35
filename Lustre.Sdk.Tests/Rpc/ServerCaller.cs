using System.Net;
using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Tests.Rpc;

/// <summary>
/// One server at a fixed address, called under the client's <see cref="RetryPolicy"/> and nothing else: no MGS, no
/// target table, no path checks. What the engine tests drive, so they see exactly the policy's sends.
/// </summary>
internal sealed class ServerCaller : IAsyncDisposable
{
    private readonly FailoverTarget _server;
    private readonly RetryPolicy _policy;

    public ServerCaller(EndPoint endpoint, RpcConnectionSettings settings, int maxAttempts)
        : this(new ServerConnections(endpoint, settings, connectionCount: 1), settings, maxAttempts)
    {
    }

    public ServerCaller(ServerConnections server, RpcConnectionSettings settings, int maxAttempts)
    {
        _server = new FailoverTarget(server.Address, [server]);
        _policy = new RetryPolicy(settings, maxAttempts);
    }

    public ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, CancellationToken cancellationToken) =>
        _policy.CallAsync(_server, default, 0, opcode, frame, bulkOut, bulkIn, cancellationToken);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
