using System.Buffers.Binary;
using System.Text;
using Lustre.Protocol;
using Lustre.Server.Rpc;
using RocksDbSharp;

namespace Lustre.Server.Mds;

/// <summary>Who asked for a metadata change: the client's uuid and the request's xid.</summary>
internal readonly record struct ChangeOrigin(string Client, ulong Xid)
{
    public static ChangeOrigin Of(RpcRequest request) => new(request.ClientUuid, request.Header.Xid);
}

/// <summary>
/// The MDT's record of each client's results (Lustre's <c>last_rcvd</c> and reply data): every change a client asked
/// for writes, in the same RocksDB batch as the change itself, its (client, xid) and the result it answered. So the
/// record exists exactly when the change does, and a resend whose first reply was lost is answered from it, never
/// applied a second time, even after the MDS restarted in between.
/// <para>
/// Bounded: per client at least the <see cref="PerClient"/> highest xids keep their records; at
/// <see cref="PerClient"/> + <see cref="DropBatch"/> the lowest <see cref="DropBatch"/> go in one range delete and
/// raise the client's floor, and a resend at or below the floor with no record is refused (<see cref="LustreErrno.EALREADY"/>: whether it was
/// applied cannot be told) rather than run again. A client's records go when it disconnects cleanly
/// (<c>MdsDisconnect</c>) or after <see cref="IdleLifetime"/> without a change (eviction), far longer than a client
/// keeps resending one request.
/// </para>
/// Used only from the MDT's writer loop (and its constructor, before the loop starts): no locks.
/// </summary>
internal sealed class ReplyRecords
{
    /// <summary>Results kept per client: well above the requests one client can have in flight to the MDT.</summary>
    public const int PerClient = 4096;

    /// <summary>
    /// Records dropped at once, with one range delete, once a client has this many over <see cref="PerClient"/>: one
    /// tombstone per 64 changes instead of a point delete per change.
    /// </summary>
    public const int DropBatch = 64;

    /// <summary>
    /// Key of a record: <c>'R'</c>, u16 uuid length, uuid (UTF-8), xid (big-endian). Value: time (ms), the client's
    /// floor when it was written, the result. The floor rides in the newest record rather than a key of its own: one
    /// write fewer per change once a client has dropped records, and it goes with the records.
    /// </summary>
    private const byte RecordPrefix = MdtKeys.Reply;

    /// <summary>Bytes of a record's value before its result: time and floor.</summary>
    private const int ValueHead = 16;

    /// <summary>Records between two sweeps of idle clients.</summary>
    private const int SweepInterval = 4096;

    private readonly Dictionary<string, ClientLog> _clients = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private int _sinceSweep;

    /// <summary>Loads the records of every client (their floors with them), then forgets clients idle longer than the lifetime.</summary>
    public ReplyRecords(RocksDb db, TimeSpan idleLifetime, TimeProvider? time = null)
    {
        IdleLifetime = idleLifetime;
        _time = time ?? TimeProvider.System;
        using (var iterator = db.NewIterator())
        {
            for (iterator.Seek([RecordPrefix]); iterator.Valid() && iterator.Key() is [RecordPrefix, ..] key; iterator.Next())
            {
                var (client, tail) = ParseClient(key);
                var value = iterator.Value();
                var log = Log(client);
                log.Add(BinaryPrimitives.ReadUInt64BigEndian(tail));
                log.LastChangeMs = Math.Max(log.LastChangeMs, BinaryPrimitives.ReadInt64BigEndian(value));
                log.Floor = Math.Max(log.Floor, BinaryPrimitives.ReadUInt64BigEndian(value.AsSpan(8)));
            }
        }

        using var batch = new WriteBatch();
        SweepIdle(key => batch.Delete(key));
        if (batch.Count() > 0)
        {
            db.Write(batch);
        }
    }

    public TimeSpan IdleLifetime { get; }

    /// <summary>Clients with records; for tests and the operations doc.</summary>
    public int ClientCount => _clients.Count;

    /// <summary>
    /// The result recorded for <paramref name="origin"/>, if the change was applied. Throws EALREADY when the record
    /// may have existed but was dropped (the xid is at or below the client's floor).
    /// </summary>
    public bool TryGet(MdtTransaction transaction, ChangeOrigin origin, out byte[] result)
    {
        // The log in memory holds every xid with a record (loaded at start, added in each batch that writes one): a
        // first send, the common case, is answered without reading the MDT.
        var known = _clients.TryGetValue(origin.Client, out var log);
        if (known && log!.Xids.Contains(origin.Xid) && transaction.Get(RecordKey(origin.Client, origin.Xid)) is { } value)
        {
            result = value[ValueHead..];
            return true;
        }

        if (known && origin.Xid <= log!.Floor)
        {
            throw new RpcStatusException(
                LustreErrno.EALREADY,
                $"request {origin.Xid} is older than the MDT's record of this client's results (it keeps the last {PerClient}); whether it was applied cannot be told, so it was not run again");
        }

        result = [];
        return false;
    }

    /// <summary>Records <paramref name="value"/> (written by <paramref name="result"/>) for <paramref name="origin"/> in the batch of the change it answers.</summary>
    public void Record<T>(MdtTransaction transaction, ChangeOrigin origin, ChangeResult<T> result, T value)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var log = Log(origin.Client);
        log.Add(origin.Xid);
        log.LastChangeMs = now;
        if (log.Xids.Count >= PerClient + DropBatch)
        {
            // The lowest xids go as one range (no other record of this client lies between them), and the floor rises to the top one.
            var (lowest, highest) = log.RemoveLowest(DropBatch);
            transaction.DeleteRange(RecordKey(origin.Client, lowest), RecordKey(origin.Client, highest + 1));
            log.Floor = Math.Max(log.Floor, highest);
        }

        // The floor goes into this record, the newest, in the same batch as the drop that raised it.
        using var buffer = FrameBuffer.Rent();
        var writer = buffer.Body;
        Span<byte> head = stackalloc byte[ValueHead];
        BinaryPrimitives.WriteInt64BigEndian(head, now);
        BinaryPrimitives.WriteUInt64BigEndian(head[8..], log.Floor);
        writer.WriteFixed(head);
        result.Write(value, writer);
        var keyLength = RecordKeyLength(origin.Client);
        Span<byte> key = keyLength <= MaxStackKey ? stackalloc byte[MaxStackKey] : new byte[keyLength];
        WriteRecordKey(key, origin.Client, origin.Xid);
        transaction.Put(key[..keyLength], buffer.Written.Span[FrameHeader.Size..]);

        if (++_sinceSweep >= SweepInterval)
        {
            _sinceSweep = 0;
            SweepIdle(transaction);
        }
    }

    // Its own method: a lambda capturing the transaction in Record would cost a closure on every change.
    private void SweepIdle(MdtTransaction transaction) => SweepIdle(record => transaction.Delete(record));

    /// <summary>Drops every record of <paramref name="client"/>: it disconnected cleanly and will not resend.</summary>
    public void Forget(MdtTransaction transaction, string client)
    {
        if (_clients.Remove(client, out var log))
        {
            Delete(client, log, record => transaction.Delete(record));
        }
    }

    private void SweepIdle(Action<byte[]> delete)
    {
        var cutoff = _time.GetUtcNow().ToUnixTimeMilliseconds() - (long)IdleLifetime.TotalMilliseconds;
        foreach (var (client, log) in _clients.Where(c => c.Value.LastChangeMs < cutoff).ToList())
        {
            _clients.Remove(client);
            Delete(client, log, delete);
        }
    }

    private static void Delete(string client, ClientLog log, Action<byte[]> delete)
    {
        foreach (var xid in log.Xids)
        {
            delete(RecordKey(client, xid));
        }
    }

    private ClientLog Log(string client)
    {
        if (!_clients.TryGetValue(client, out var log))
        {
            log = new ClientLog();
            _clients[client] = log;
        }

        return log;
    }

    /// <summary>Record keys up to this length are built on the stack (a client uuid is 39 bytes).</summary>
    private const int MaxStackKey = 256;

    private static int RecordKeyLength(string client) => 3 + Encoding.UTF8.GetByteCount(client) + 8;

    private static byte[] RecordKey(string client, ulong xid)
    {
        var key = new byte[RecordKeyLength(client)];
        WriteRecordKey(key, client, xid);
        return key;
    }

    private static void WriteRecordKey(Span<byte> key, string client, ulong xid)
    {
        key[0] = RecordPrefix;
        var length = Encoding.UTF8.GetBytes(client, key[3..]);
        BinaryPrimitives.WriteUInt16BigEndian(key[1..], (ushort)length);
        BinaryPrimitives.WriteUInt64BigEndian(key[(3 + length)..], xid);
    }

    private static (string Client, byte[] Tail) ParseClient(byte[] key)
    {
        var length = BinaryPrimitives.ReadUInt16BigEndian(key.AsSpan(1));
        return (Encoding.UTF8.GetString(key, 3, length), key[(3 + length)..]);
    }

    /// <summary>What the writer loop knows of one client: its recorded xids, its floor and its last change.</summary>
    private sealed class ClientLog
    {
        // A set to ask, a heap to drop the lowest from: both grow in arrays, where a sorted set took a node per change.
        private readonly PriorityQueue<ulong, ulong> _lowest = new();

        public HashSet<ulong> Xids { get; } = [];

        public void Add(ulong xid)
        {
            if (Xids.Add(xid))
            {
                _lowest.Enqueue(xid, xid);
            }
        }

        /// <summary>Forgets the <paramref name="count"/> lowest xids; returns the lowest and the highest of them.</summary>
        public (ulong Lowest, ulong Highest) RemoveLowest(int count)
        {
            var lowest = _lowest.Peek();
            var highest = lowest;
            for (var i = 0; i < count; i++)
            {
                highest = _lowest.Dequeue();
                Xids.Remove(highest);
            }

            return (lowest, highest);
        }

        public ulong Floor { get; set; }

        public long LastChangeMs { get; set; }
    }
}
