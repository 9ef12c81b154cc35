using Lustre.Protocol;
using Lustre.Server.Rpc;
using Xunit;

namespace Lustre.Sdk.Tests.Rpc;

/// <summary>The dispatcher's opcode table: built once from the services' handlers, one lookup per request.</summary>
public sealed class DispatcherTableTests
{
    [Fact]
    public async Task Each_opcode_routes_to_the_handler_its_service_registered()
    {
        var mgs = new TableService((Opcode.MgsGetConfig, LustreErrno.EIO), (Opcode.MgsRegisterTarget, LustreErrno.ENOENT));
        var mds = new TableService((Opcode.MdsGetAttr, LustreErrno.EEXIST));
        await using var dispatcher = new RpcDispatcher("test", [mgs, mds]);

        Assert.Equal(LustreErrno.EIO, await Answer(dispatcher, Opcode.MgsGetConfig, mgs));
        Assert.Equal(LustreErrno.ENOENT, await Answer(dispatcher, Opcode.MgsRegisterTarget, mgs));
        Assert.Equal(LustreErrno.EEXIST, await Answer(dispatcher, Opcode.MdsGetAttr, mds));

        // Nobody answers these: the session replies ENOSYS (or, for Ping, answers itself).
        Assert.Equal((null, null), dispatcher.Route(Opcode.MdsMkdir));
        Assert.Equal((null, null), dispatcher.Route(Opcode.Ping));
        Assert.Equal((null, null), dispatcher.Route((Opcode)ushort.MaxValue));
    }

    [Fact]
    public void An_opcode_claimed_by_two_services_is_refused_at_start()
    {
        var first = new TableService((Opcode.MdsGetAttr, LustreErrno.EIO));
        var second = new TableService((Opcode.MdsOpen, LustreErrno.EIO), (Opcode.MdsGetAttr, LustreErrno.EIO));

        var ex = Assert.Throws<ArgumentException>(() => new RpcDispatcher("test", [first, second]));

        Assert.Contains("MdsGetAttr", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_service_may_not_claim_ping()
    {
        var ex = Assert.Throws<ArgumentException>(() => new RpcDispatcher("test", [new TableService((Opcode.Ping, LustreErrno.EIO))]));

        Assert.Contains("Ping", ex.Message, StringComparison.Ordinal);
    }

    private static async Task<LustreErrno> Answer(RpcDispatcher dispatcher, Opcode opcode, IRpcService expectedService)
    {
        var (service, handler) = dispatcher.Route(opcode);
        Assert.Same(expectedService, service);
        Assert.NotNull(handler);
        var response = await handler(null!, CancellationToken.None);
        return (LustreErrno)response.Status;
    }

    /// <summary>Answers each of its opcodes with an error reply whose errno tells which handler ran.</summary>
    private sealed class TableService(params (Opcode Opcode, LustreErrno Errno)[] handlers) : IRpcService
    {
        public IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers =>
            handlers.Select(h => (h.Opcode, (RpcHandler)((_, _) => ValueTask.FromResult(RpcResponse.Error(h.Errno, h.Opcode.ToString())))));
    }
}
