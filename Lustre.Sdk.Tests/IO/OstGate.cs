using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Tests.IO;

/// <summary>
/// Where a client's OST writes (or the calls chosen by <see cref="Opcode"/>) wait, those to every OST or to one chosen by
/// <see cref="Ost"/>: <see cref="Reached"/> when the first one arrives, all go on at <see cref="Open"/>. A call waiting
/// here has not been sent; cancelling its token ends the wait, so it never is.
/// </summary>
internal sealed class OstGate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The OST whose writes wait; -1 (the default) for every OST. May be set after the client connected.</summary>
    public int Ost { get; set; } = -1;

    /// <summary>The calls that wait: OST writes unless set.</summary>
    public Opcode Opcode { get; init; } = Opcode.OstWrite;

    public TaskCompletionSource Reached { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Opened => _open.Task;

    public void Open() => _open.TrySetResult();

    /// <summary>Makes <paramref name="client"/>'s OST writes wait here; call before its first OST call.</summary>
    public void Attach(LustreClient client) =>
        client.Session.Targets.OstConnectionOverride = (index, real) => new Gated(real, this, index);

    private sealed class Gated(IRpcConnection real, OstGate gate, int index) : IRpcConnection
    {
        public bool IsHealthy => real.IsHealthy;

        public int MaxBulkLength => real.MaxBulkLength;

        public async ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, Memory<byte> bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
        {
            if (opcode == gate.Opcode && gate.Ost is var ost && (ost < 0 || ost == index))
            {
                gate.Reached.TrySetResult();
                await gate.Opened.WaitAsync(cancellationToken);
            }

            return await real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
        }

        public ValueTask DisposeAsync() => real.DisposeAsync();
    }
}
