using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>
/// Destroys the OST objects of unlinked files. The objects were queued on the MDT in the same batch as the
/// unlink, so a crash between the two steps only delays the destroy; destroying is idempotent on the OST.
/// </summary>
internal sealed class DestroyQueue
{
    private readonly MdtNamespace _namespace;
    private readonly TargetTable _targets;

    public DestroyQueue(MdtNamespace ns, TargetTable targets)
    {
        _namespace = ns;
        _targets = targets;
    }

    /// <summary>Objects fetched from the queue at a time.</summary>
    private const int BatchSize = 512;

    /// <summary>Destroy RPCs in flight at once: enough to keep up with many clients unlinking striped files.</summary>
    private const int Parallelism = 16;

    /// <summary>
    /// Destroys what is queued, batch after batch until the queue is empty or a batch makes no progress; returns how
    /// many objects were destroyed. Unreachable OSTs keep theirs for later.
    /// </summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var pending = _namespace.PendingDestroys(BatchSize);
            if (pending.Count == 0)
            {
                return total;
            }

            var done = await DestroyBatchAsync(pending, cancellationToken).ConfigureAwait(false);
            if (done.Count > 0)
            {
                await _namespace.ForgetDestroyedAsync(done).ConfigureAwait(false);
            }

            total += done.Count;
            if (pending.Count < BatchSize || done.Count == 0)
            {
                return total;
            }
        }
    }

    private async Task<List<(int, ulong)>> DestroyBatchAsync(List<(int OstIndex, ulong ObjectId)> pending, CancellationToken cancellationToken)
    {
        var done = new List<(int, ulong)>(pending.Count);
        var unreachable = new HashSet<int>();
        var gate = new Lock();
        await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (item, ct) =>
        {
            var (ost, objectId) = item;
            lock (gate)
            {
                if (unreachable.Contains(ost))
                {
                    // One failure is enough to know: trying each queued object of an OST that is away would cost
                    // every object its full retries and hold the whole queue up behind it.
                    return;
                }
            }

            try
            {
                using var frame = new FrameBuffer();
                new ObjectRef(ost, objectId).Write(frame.Body);

                // Through the MGS config: an OSS restarted on another port is found at its new address.
                using var reply = await _targets.CallAsync(TargetKind.Ost, ost, Opcode.OstDestroy, frame, default, default, ct).ConfigureAwait(false);
                if (reply.Status == 0 || reply.Status == (int)LustreErrno.ENOENT)
                {
                    lock (gate)
                    {
                        done.Add((ost, objectId));
                    }
                }
            }
            catch (LustreException)
            {
                // The OST is away; its entries stay queued.
                lock (gate)
                {
                    unreachable.Add(ost);
                }
            }
        }).ConfigureAwait(false);
        return done;
    }
}
