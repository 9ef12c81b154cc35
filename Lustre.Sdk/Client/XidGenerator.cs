namespace Lustre.Client;

/// <summary>
/// Transfer ids unique for one client across all its connections, so a server's reply cache keyed by
/// (client, xid) recognises a resend on a new connection. Starts from the clock so a restarted process
/// with the same uuid does not reuse ids.
/// </summary>
internal sealed class XidGenerator
{
    private long _next = DateTime.UtcNow.Ticks;

    public ulong Next() => (ulong)Interlocked.Increment(ref _next);
}
