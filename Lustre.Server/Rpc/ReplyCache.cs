namespace Lustre.Server.Rpc;

/// <summary>
/// Saved replies of modifying requests, keyed by (client uuid, xid): a resend is answered from here instead of
/// being applied twice (Lustre's reply reconstruction). Bounded; the oldest entries go first.
/// </summary>
internal sealed class ReplyCache
{
    private readonly int _capacity;
    private readonly Dictionary<(string Client, ulong Xid), SavedReply> _entries = [];
    private readonly Queue<(string Client, ulong Xid)> _order = new();
    private readonly Lock _lock = new();

    public ReplyCache(int capacity) => _capacity = capacity;

    public bool TryGet(string client, ulong xid, out SavedReply reply)
    {
        lock (_lock)
        {
            return _entries.TryGetValue((client, xid), out reply!);
        }
    }

    public void Add(string client, ulong xid, SavedReply reply)
    {
        if (_capacity <= 0)
        {
            return;
        }

        lock (_lock)
        {
            if (!_entries.TryAdd((client, xid), reply))
            {
                return;
            }

            _order.Enqueue((client, xid));
            while (_order.Count > _capacity)
            {
                _entries.Remove(_order.Dequeue());
            }
        }
    }
}

/// <summary>A reply's status and body as sent (a struct: a bodiless reply, as a write's, costs no allocation to keep).</summary>
internal readonly record struct SavedReply(int Status, byte[] Body);
