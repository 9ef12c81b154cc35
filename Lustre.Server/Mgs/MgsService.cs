using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mgs;

/// <summary>The management service: targets register here at start, clients and the MDS fetch the configuration.</summary>
internal sealed class MgsService : IRpcService
{
    private readonly MgsConfigStore _store;

    public MgsService(MgsConfigStore store) => _store = store;

    public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
    [
        (Opcode.MgsRegisterTarget, RegisterTarget),
        (Opcode.MgsGetConfig, (_, _) => ValueTask.FromResult(ConfigReply())),
        (Opcode.MgsSetTargetState, SetTargetState),
        (Opcode.MgsPool, ChangePool),
    ];

    private ValueTask<RpcResponse> RegisterTarget(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var target = RegisterTargetRequest.Read(ref reader).Target;
        if (target.Index is < 0 or > 0xFFFF)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"target index {target.Index} is outside 0..65535");
        }

        if (!Network.Endpoints.TryParse(target.Address, out _))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"target address '{target.Address}' is not HOST:PORT");
        }

        _store.Register(target);
        return ValueTask.FromResult(ConfigReply());
    }

    private ValueTask<RpcResponse> SetTargetState(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var change = SetTargetStateRequest.Read(ref reader);
        if (!_store.SetActive(change.Kind, change.Index, change.Active))
        {
            throw new RpcStatusException(LustreErrno.ENOENT, $"no {change.Kind} with index {change.Index}");
        }

        return ValueTask.FromResult(ConfigReply());
    }

    private ValueTask<RpcResponse> ChangePool(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        _store.ChangePool(PoolRequest.Read(ref reader));
        return ValueTask.FromResult(ConfigReply());
    }

    private RpcResponse ConfigReply()
    {
        var body = FrameBuffer.Rent(1024);
        _store.Snapshot().Write(body.Body);
        return RpcResponse.Ok(body);
    }
}
