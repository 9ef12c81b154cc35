using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>A role (MGS, MDS, OSS) that answers some opcodes on a shared listener.</summary>
internal interface IRpcService
{
    bool Handles(Opcode opcode);

    /// <summary>Answers one request. Throw <see cref="RpcStatusException"/> for an error reply.</summary>
    ValueTask<RpcResponse> HandleAsync(RpcRequest request, CancellationToken cancellationToken);
}
