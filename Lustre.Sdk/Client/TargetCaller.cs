using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Client;

/// <summary>
/// Calls one target (the MDT or an OST) at whatever address the configuration gives for it now. When its server
/// cannot be reached after the <see cref="RpcClient"/>'s own attempts, the configuration is fetched from the MGS
/// again: a server restarted on another port has re-registered there, and the call is sent once more to its new
/// address (as Lustre clients follow a target to its new NID through the MGS config log).
/// </summary>
internal sealed class TargetCaller(TargetDirectory targets, TargetKind kind, int index) : IRpcCaller
{
    public string Target => targets.HasConfig ? targets.ClientForTarget(kind, index).Target : $"{kind} {index}";

    public async ValueTask<RpcReply> CallAsync(
        Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, CancellationToken cancellationToken)
    {
        var client = targets.ClientForTarget(kind, index);
        try
        {
            return await client.CallAsync(opcode, frame, bulkOut, bulkIn, cancellationToken).ConfigureAwait(false);
        }
        catch (LustreException ex) when (ex.IsTransient && ex is not BulkChecksumException && !cancellationToken.IsCancellationRequested)
        {
            RpcClient moved;
            try
            {
                await targets.RefreshAsync(cancellationToken).ConfigureAwait(false);
                moved = targets.ClientForTarget(kind, index);
            }
            catch (LustreException)
            {
                // The MGS is away too: report the target's own failure, which names it.
                throw ex;
            }

            if (ReferenceEquals(moved, client))
            {
                throw;
            }

            return await moved.CallAsync(opcode, frame, bulkOut, bulkIn, cancellationToken).ConfigureAwait(false);
        }
    }
}
