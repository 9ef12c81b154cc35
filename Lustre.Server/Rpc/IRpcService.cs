using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>A role (MGS, MDS, OSS) that answers some opcodes on a shared listener.</summary>
internal interface IRpcService
{
    bool Handles(Opcode opcode);

    /// <summary>
    /// Whether <paramref name="request"/> can run on the session's reader loop: it never blocks the thread (no
    /// fsync, truncate, stat, open or disk wait) until its first asynchronous wait. Everything else goes to its
    /// target's queue (<see cref="RpcDispatcher"/>).
    /// </summary>
    bool CanRunInline(RpcRequest request) => false;

    /// <summary>Answers one request. Throw <see cref="RpcStatusException"/> for an error reply.</summary>
    ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken);
}
