using Lustre.Client;
using Lustre.Protocol;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mds;

/// <summary>
/// Destroys the OST objects of unlinked files, of layouts a migration swapped out, and of migrations that were
/// abandoned. The objects were queued on the MDT in the same batch as the unlink or swap, so a crash between the two
/// steps only delays the destroy; destroying is idempotent on the OST.
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

    /// <summary>Destroy requests in flight at once, each for up to <see cref="OstDestroyObjectsRequest.MaxObjects"/> objects of one OST.</summary>
    private const int Parallelism = 4;

    /// <summary>
    /// Queues the objects of migrations whose lease lapsed, then destroys what is queued, batch after batch until the
    /// queue is empty or a batch makes no progress; returns how many objects were destroyed. Unreachable OSTs keep
    /// theirs for later.
    /// </summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        await _namespace.DropLapsedMigrationsAsync().ConfigureAwait(false);
        var total = 0;
        (int, ulong)? after = null;
        while (true)
        {
            // Each batch goes on from the last one's end, past the entries it forgot (see PendingDestroys).
            var pending = _namespace.PendingDestroys(BatchSize, after);
            if (pending.Count == 0)
            {
                return total;
            }

            after = pending[^1];

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

    /// <summary>
    /// Sends the batch as one request per OST (in pieces of at most <see cref="OstDestroyObjectsRequest.MaxObjects"/>);
    /// returns the objects destroyed. An OST that does not answer keeps its objects queued.
    /// </summary>
    private async Task<List<(int, ulong)>> DestroyBatchAsync(List<(int OstIndex, ulong ObjectId)> pending, CancellationToken cancellationToken)
    {
        var requests = pending
            .GroupBy(p => p.OstIndex)
            .SelectMany(ost => ost.Select(p => p.ObjectId).Chunk(OstDestroyObjectsRequest.MaxObjects).Select(ids => new OstDestroyObjectsRequest(ost.Key, ids)))
            .ToList();
        var done = new List<(int, ulong)>(pending.Count);
        var gate = new Lock();
        await Parallel.ForEachAsync(requests, new ParallelOptions { MaxDegreeOfParallelism = Parallelism, CancellationToken = cancellationToken }, async (request, ct) =>
        {
            try
            {
                using var frame = FrameBuffer.Rent(16 + (8 * request.ObjectIds.Length));
                request.Write(frame.Body);

                // Through the MGS config: an OSS restarted on another port is found at its new address.
                using var reply = await _targets.CallAsync(TargetKind.Ost, request.OstIndex, Opcode.OstDestroyObjects, frame, default, default, ct).ConfigureAwait(false);
                if (reply.Status == 0 || reply.Status == (int)LustreErrno.ENOENT)
                {
                    lock (gate)
                    {
                        done.AddRange(request.ObjectIds.Select(id => (request.OstIndex, id)));
                    }
                }
            }
            catch (LustreException)
            {
                // The OST is away; its entries stay queued.
            }
        }).ConfigureAwait(false);
        return done;
    }
}
