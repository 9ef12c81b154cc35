using Lustre.Protocol;

namespace Lustre.Server.Rpc;

/// <summary>Answers one request. Throw <see cref="RpcStatusException"/> for an error reply.</summary>
internal delegate ValueTask<RpcResponse> RpcHandler(RpcRequest request, CancellationToken cancellationToken);

/// <summary>A role (MGS, MDS, OSS) that answers some opcodes on a shared listener.</summary>
internal interface IRpcService
{
    /// <summary>
    /// The opcodes this role answers, each with the method that answers it. The <see cref="RpcDispatcher"/> reads them
    /// once at start into its opcode table; an opcode claimed by two services is a start-up error.
    /// </summary>
    IEnumerable<(Opcode Opcode, RpcHandler Handler)> Handlers { get; }

    /// <summary>
    /// Whether <paramref name="request"/> can run on the session's reader loop: it never blocks the thread (no
    /// fsync, truncate, stat, open or disk wait) until its first asynchronous wait. Everything else goes to its
    /// target's queue (<see cref="RpcDispatcher"/>).
    /// </summary>
    bool CanRunInline(RpcRequest request) => false;

    /// <summary>
    /// The most bulk bytes the reply to a request with this opcode and body can carry (a read's length), so the server
    /// can set them aside before it reads the request (<see cref="RpcServerOptions.MemoryBudget"/>). The body is not
    /// validated yet: a malformed one counts 0.
    /// </summary>
    long ReplyBulkBytes(Opcode opcode, ReadOnlySpan<byte> body) => 0;

    /// <summary>
    /// Counts a request this role answered with success in its target's statistics and its job's (Lustre's
    /// <c>obdfilter.*.stats</c>, <c>mdt.*.md_stats</c>, <c>*.job_stats</c>): called once the reply is sent, before the
    /// request's buffers go back. <paramref name="replyBulk"/> is the bytes the reply carried.
    /// </summary>
    void Account(RpcRequest request, int replyBulk, TimeSpan elapsed)
    {
    }
}
