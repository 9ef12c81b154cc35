using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Tests.IO;

/// <summary>
/// Where a client's OST writes (or the calls chosen by <see cref="Opcode"/>, to the OSTs or with <see cref="AttachToMdt"/>
/// to the MDT) wait, those to every OST or to one chosen by <see cref="Ost"/>: <see cref="Reached"/> when the first one
/// arrives, all go on at <see cref="Open"/>. Only calls made while <see cref="Armed"/> wait, and <see cref="Arrived"/>
/// counts them. A call waiting here has not been sent; cancelling its token ends the wait, so it never is.
/// </summary>
internal sealed class RpcGate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _arrived;
    private bool _armed = true;

    /// <summary>The OST whose writes wait; -1 (the default) for every OST. May be set after the client connected.</summary>
    public int Ost { get; set; } = -1;

    /// <summary>The calls that wait: OST writes unless set.</summary>
    public Opcode Opcode { get; init; } = Opcode.OstWrite;

    /// <summary>Whether calls wait (and count); true unless set. May be set after the client connected.</summary>
    public bool Armed
    {
        get => Volatile.Read(ref _armed);
        set => Volatile.Write(ref _armed, value);
    }

    /// <summary>The calls that reached the gate while it was armed, held or (once open) let through.</summary>
    public int Arrived => Volatile.Read(ref _arrived);

    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Opened => _open.Task;

    public void Open() => _open.TrySetResult();

    /// <summary>Makes <paramref name="client"/>'s OST calls pass this gate; call before its first OST call.</summary>
    public void Attach(LustreClient client) =>
        client.Session.Targets.OstConnectionOverride = (index, real) => new Gated(real, this, index);

    /// <summary>Makes <paramref name="client"/>'s MDT calls pass this gate; call before its first MDT call.</summary>
    public void AttachToMdt(LustreClient client) =>
        client.Session.Targets.MdtConnectionOverride = real => new Gated(real, this, -1);

    private sealed class Gated(IRpcConnection real, RpcGate gate, int index) : IRpcConnection
    {
        public bool IsHealthy => real.IsHealthy;

        public int MaxBulkLength => real.MaxBulkLength;

        public async ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
        {
            if (opcode == gate.Opcode && gate.Armed && gate.Ost is var ost && (ost < 0 || ost == index))
            {
                Interlocked.Increment(ref gate._arrived);
                gate.Reached.TrySetResult();
                await gate.Opened.WaitAsync(cancellationToken);
            }

            return await real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
        }

        public ValueTask DisposeAsync() => real.DisposeAsync();
    }
}
