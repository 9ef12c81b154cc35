using System.Collections.Concurrent;
using Lustre.Client;
using Lustre.Protocol;

namespace Lustre.Tests.IO;

/// <summary>
/// A client whose OST and MDT requests are counted by opcode (and whose servers may refuse batches, <c>OstReadBatch</c>
/// and <c>MdsDomReadBatch</c>, as older ones would).
/// </summary>
internal sealed class RecordingClient : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Opcode, (int Count, long Bulk)> _calls = new();
    private readonly ConcurrentDictionary<Opcode, int> _sent = new();

    private RecordingClient(string address, bool refuseBatches, LustreClientOptions? options)
    {
        Client = new LustreClient(address, options);
        Client.Session.Targets.OstConnectionOverride = (_, real) => new Recording(real, this, refuseBatches);
        Client.Session.Targets.MdtConnectionOverride = real => new Recording(real, this, refuseBatches);
    }

    public LustreClient Client { get; }

    public static RecordingClient Create(string address, bool refuseBatches = false, LustreClientOptions? options = null) => new(address, refuseBatches, options);

    public int Count(Opcode opcode) => _calls.TryGetValue(opcode, out var calls) ? calls.Count : 0;

    /// <summary>The calls sent so far, those still waiting for their reply included (<see cref="Count"/> has only the answered ones).</summary>
    public int Sent(Opcode opcode) => _sent.TryGetValue(opcode, out var sent) ? sent : 0;

    public long BulkBytes(Opcode opcode) => _calls.TryGetValue(opcode, out var calls) ? calls.Bulk : 0;

    public ValueTask DisposeAsync() => Client.DisposeAsync();

    private sealed class Recording(IRpcConnection real, RecordingClient owner, bool refuseBatches) : IRpcConnection
    {
        public bool IsHealthy => real.IsHealthy;

        public int MaxBulkLength => real.MaxBulkLength;

        public async ValueTask<RpcReply> CallAsync(Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, ulong xid, bool resend, CancellationToken cancellationToken)
        {
            owner._sent.AddOrUpdate(opcode, 1, (_, n) => n + 1);
            if (refuseBatches && opcode is Opcode.OstReadBatch or Opcode.MdsDomReadBatch)
            {
                owner._calls.AddOrUpdate(opcode, (1, 0), (_, c) => (c.Count + 1, c.Bulk));
                return new RpcReply((int)LustreErrno.ENOSYS, null, 0, 0);
            }

            var reply = await real.CallAsync(opcode, frame, bulkOut, bulkIn, xid, resend, cancellationToken);
            owner._calls.AddOrUpdate(opcode, (1, reply.BulkLength), (_, c) => (c.Count + 1, c.Bulk + reply.BulkLength));
            return reply;
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
