using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>One connection as <see cref="RpcClient"/> uses it (a real <see cref="RpcConnection"/>, or a double in unit tests).</summary>
internal interface IRpcConnection : IAsyncDisposable
{
    bool IsHealthy { get; }

    ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, ulong xid, bool resend, CancellationToken cancellationToken);
}
