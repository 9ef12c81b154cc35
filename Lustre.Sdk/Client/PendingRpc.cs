using System.Threading.Tasks.Sources;
using Lustre.Threading;

namespace Lustre.Client;

/// <summary>
/// One request waiting for its reply, completed by the connection's reader loop (or by a timeout,
/// a cancellation or a connection failure: whoever removes it from the pending table first).
/// Reused through the connection's pool, so a call allocates no task.
/// </summary>
/// <remarks>
/// The caller's continuation never runs on the thread that completes the call (the reader loop must go on reading):
/// see <see cref="DeferredCompletion{TResult}"/>.
/// </remarks>
internal sealed class PendingRpc : IValueTaskSource<RpcReply>
{
    private readonly RpcConnection _owner;
    private readonly DeferredCompletion<RpcReply> _core = new();

    public PendingRpc(RpcConnection owner) => _owner = owner;

    public RpcConnection Owner => _owner;

    public ulong Xid { get; private set; }

    /// <summary>Where the reply's bulk goes.</summary>
    public ReplyBulk BulkDestination { get; private set; }

    public long DeadlineTicks { get; private set; }

    /// <summary>Whether the reply's bulk is checked against its checksum (checksums agreed, and the caller does not verify end to end).</summary>
    public bool VerifyBulk { get; private set; }

    public CancellationTokenRegistration Registration { get; set; }

    public ValueTask<RpcReply> Task => new(this, _core.Version);

    public void Arm(ulong xid, ReplyBulk bulkDestination, long deadlineTicks, bool verifyBulk)
    {
        Xid = xid;
        BulkDestination = bulkDestination;
        DeadlineTicks = deadlineTicks;
        VerifyBulk = verifyBulk;
    }

    public void SetResult(RpcReply reply)
    {
        Registration.Unregister();
        _core.SetResult(reply);
    }

    public void SetException(Exception exception)
    {
        Registration.Unregister();
        _core.SetException(exception);
    }

    public RpcReply GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            BulkDestination = default;
            Registration = default;
            _owner.ReturnPending(this);
        }
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
