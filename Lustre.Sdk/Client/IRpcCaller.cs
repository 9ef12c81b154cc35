using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>Something that sends a request and returns its reply: a server's <see cref="RpcClient"/>, or a fault-injecting double in tests.</summary>
internal interface IRpcCaller
{
    string Target { get; }

    ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, CancellationToken cancellationToken);
}
