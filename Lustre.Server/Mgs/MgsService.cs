using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;
using Lustre.Server.Security;

namespace Lustre.Server.Mgs;

/// <summary>
/// The management service: targets register here at start, clients and the MDS fetch the configuration, and the
/// persistent parameters (<c>lctl set_param -P</c>) are kept here for every node.
/// </summary>
internal sealed class MgsService : IRpcService
{
    private readonly MgsConfigStore _store;
    private readonly MgsParamStore _params;

    public MgsService(MgsConfigStore store, MgsParamStore parameters)
    {
        _store = store;
        _params = parameters;
    }

    public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
    [
        (Opcode.MgsRegisterTarget, RegisterTarget),
        (Opcode.MgsGetConfig, (_, _) => ValueTask.FromResult(ConfigReply())),
        (Opcode.MgsSetTargetState, SetTargetState),
        (Opcode.MgsPool, ChangePool),
        (Opcode.MgsParams, Params),
    ];

    /// <summary>
    /// Lists the persistent parameters, after setting or deleting one. Listing is open to every key (servers read them
    /// at start, clients at connect); a change needs an admin key, as <c>MgsSetTargetState</c> does.
    /// </summary>
    private ValueTask<RpcResponse> Params(RpcRequest request, CancellationToken cancellationToken)
    {
        var reader = request.Reader;
        var change = MgsParamsRequest.Read(ref reader);
        if (change.Operation != MgsParamsOperation.List && request.Key is { Role: not KeyRole.Admin } key)
        {
            throw new RpcStatusException(LustreErrno.EACCES, $"set_param -P needs an admin key; this connection proved {key.Role.ToString().ToLowerInvariant()} key '{key.Name}'");
        }

        switch (change.Operation)
        {
            case MgsParamsOperation.Set:
                _params.Set(change.Pattern, change.Value);
                break;
            case MgsParamsOperation.Delete:
                _params.Delete(change.Pattern);
                break;
        }

        var body = FrameBuffer.Rent(4096);
        new MgsParamsReply(_params.List()).Write(body.Body);

        // A list changes nothing: answered again on a resend, and not kept (up to 512 KiB) in the reply cache.
        return ValueTask.FromResult(change.Operation == MgsParamsOperation.List ? RpcResponse.OkUnrecorded(body) : RpcResponse.Ok(body));
    }

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
