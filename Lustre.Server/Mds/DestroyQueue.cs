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
    private readonly TargetDirectory _targets;

    public DestroyQueue(MdtNamespace ns, TargetDirectory targets)
    {
        _namespace = ns;
        _targets = targets;
    }

    /// <summary>Destroys what is queued; returns how many objects were destroyed. Unreachable OSTs keep theirs for later.</summary>
    public async Task<int> RunOnceAsync(CancellationToken cancellationToken)
    {
        var pending = _namespace.PendingDestroys(512);
        if (pending.Count == 0)
        {
            return 0;
        }

        var done = new List<(int, ulong)>(pending.Count);
        var unreachable = new HashSet<int>();
        foreach (var (ost, objectId) in pending)
        {
            if (unreachable.Contains(ost))
            {
                // One failure is enough to know: trying each queued object of an OST that is away would cost
                // every object its full retries and hold the whole queue up behind it.
                continue;
            }

            try
            {
                using var frame = new FrameBuffer();
                new ObjectRef(ost, objectId).Write(frame.Body);

                // Through the MGS config: an OSS restarted on another port is found at its new address.
                using var reply = await new TargetCaller(_targets, TargetKind.Ost, ost).CallAsync(Opcode.OstDestroy, frame, default, default, cancellationToken).ConfigureAwait(false);
                if (reply.Status == 0 || reply.Status == (int)LustreErrno.ENOENT)
                {
                    done.Add((ost, objectId));
                }
            }
            catch (LustreException)
            {
                // The OST is away; its entries stay queued.
                unreachable.Add(ost);
            }
        }

        if (done.Count > 0)
        {
            await _namespace.ForgetDestroyedAsync(done).ConfigureAwait(false);
        }

        return done.Count;
    }
}
