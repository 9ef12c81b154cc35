using Lustre.Protocol;

namespace Lustre.Client;

/// <summary>One connection as <see cref="ServerConnections"/> hands it out (a real <see cref="RpcConnection"/>, or a double in unit tests).</summary>
internal interface IRpcConnection : IAsyncDisposable
{
    bool IsHealthy { get; }

    /// <summary>The largest bulk the server accepts, as it said at connect (0: unknown).</summary>
    int MaxBulkLength { get; }

    ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken);
}
