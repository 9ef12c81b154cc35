using System.Runtime.CompilerServices;
using Lustre.Diagnostics;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Threading;

namespace Lustre.Client;

/// <summary>
/// The one place a request is sent again. An operation gets one xid and at most <see cref="MaxAttempts"/> sends of it,
/// wherever they go: every resend carries the same xid and the Resend flag, so a server that already applied a
/// modifying request answers from its reply cache (docs/protocol.md §10). After a transport failure the policy waits
/// (exponential backoff with jitter), has the target looked up again (its server may have re-registered with the MGS
/// at another address; concurrent callers share one lookup), and sends to wherever the target is then. A bulk that
/// arrived corrupt is sent again at once to the same place. A request that got no reply in time is not resent to the
/// same address (the server may still be working on it), only to a new one.
/// </summary>
internal sealed class RetryPolicy(RpcConnectionSettings settings, int maxAttempts)
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(1);

    public int MaxAttempts { get; } = Math.Max(1, maxAttempts);

    /// <summary>
    /// Calls and returns the reply (whose status may be an error). Throws a transient <see cref="LustreException"/>
    /// when the target cannot be reached within the attempts, or <see cref="BulkChecksumException"/> when every
    /// attempt's bulk arrived corrupt.
    /// </summary>
    [AsyncMethodBuilder(typeof(PooledValueTaskBuilder<>))]
    public async ValueTask<RpcReply> CallAsync(
        ITargetResolver targets, TargetKind kind, int index, Opcode opcode, FrameBuffer frame, ReadOnlyMemory<byte> bulkOut, ReplyBulk bulkIn, CancellationToken cancellationToken)
    {
        var xid = settings.Xids.Next();
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var epoch = targets.Epoch;
            TargetChannel channel;
            try
            {
                channel = targets.Acquire(kind, index);
            }
            catch (LustreException ex) when (ex.IsTransient && attempt < MaxAttempts)
            {
                // Not in the configuration as last fetched: a target that joined since may be there now.
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                await ResolveQuietlyAsync(targets, epoch, cancellationToken).ConfigureAwait(false);
                continue;
            }

            LustreException failure;
            var resolve = true;
            try
            {
                var reply = await channel.CallOnceAsync(opcode, frame, bulkOut, bulkIn, xid, resend: attempt > 1, cancellationToken).ConfigureAwait(false);
                if (reply.Status != (int)LustreErrno.EBADMSG || attempt == MaxAttempts)
                {
                    return reply;
                }

                // The server saw our bulk corrupted in flight and discarded it: send it again.
                reply.Dispose();
                LustreDiagnostics.ChecksumErrors.Add(1, new KeyValuePair<string, object?>("lustre.target", channel.Server.Address));
                failure = new BulkChecksumException($"{channel.Server.Address}: the server reported a bulk checksum mismatch on {opcode}.");
                resolve = false;
            }
            catch (BulkChecksumException ex)
            {
                LustreDiagnostics.ChecksumErrors.Add(1, new KeyValuePair<string, object?>("lustre.target", channel.Server.Address));
                ClientLog.ChecksumMismatch(settings.Logger, channel.Server.Address, LustreDiagnostics.OperationName(opcode));
                failure = ex;
                resolve = false;
            }
            catch (LustreException ex) when (ex.IsTransient)
            {
                failure = ex;
            }
            finally
            {
                channel.Exit();
            }

            if (attempt == MaxAttempts)
            {
                throw failure;
            }

            if (failure.Errno == LustreErrno.ETIMEDOUT && !await MovedAsync(targets, channel, kind, index, epoch, cancellationToken).ConfigureAwait(false))
            {
                throw failure;
            }

            LustreDiagnostics.Retries.Add(1, new KeyValuePair<string, object?>("lustre.target", channel.Server.Address));
            ClientLog.Retrying(settings.Logger, channel.Name, LustreDiagnostics.OperationName(opcode), attempt, failure.Message);
            if (resolve)
            {
                await Task.Delay(Backoff(attempt), cancellationToken).ConfigureAwait(false);
                await ResolveQuietlyAsync(targets, epoch, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The wait after the <paramref name="failedAttempts"/>th failure: 100 ms doubling up to 1 s, of which a random
    /// part up to half is left out so that clients that failed together do not come back together.
    /// </summary>
    internal static TimeSpan Backoff(int failedAttempts)
    {
        var full = Math.Min(MaxDelay.TotalMilliseconds, FirstDelay.TotalMilliseconds * Math.Pow(2, failedAttempts - 1));
        return TimeSpan.FromMilliseconds(full * (1 - (Random.Shared.NextDouble() / 2)));
    }

    /// <summary>Whether the target is somewhere else after looking it up again (a timed-out request may go there).</summary>
    private static async ValueTask<bool> MovedAsync(ITargetResolver targets, TargetChannel channel, TargetKind kind, int index, long epoch, CancellationToken cancellationToken)
    {
        await ResolveQuietlyAsync(targets, epoch, cancellationToken).ConfigureAwait(false);
        TargetChannel current;
        try
        {
            current = targets.Acquire(kind, index);
        }
        catch (LustreException)
        {
            return false;
        }

        current.Exit();
        return !ReferenceEquals(current, channel);
    }

    private static async ValueTask ResolveQuietlyAsync(ITargetResolver targets, long epoch, CancellationToken cancellationToken)
    {
        try
        {
            await targets.ResolveAgainAsync(epoch, cancellationToken).ConfigureAwait(false);
        }
        catch (LustreException)
        {
            // The MGS is away too: the target may be back at its old address, so the next attempt goes there.
        }
    }
}
