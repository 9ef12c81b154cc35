using System.Buffers.Binary;
using System.Text;

namespace Lustre.Server.Oss;

/// <summary>
/// The punches an OST applied, by (client uuid, xid), in a small log beside its objects (<c>punches.log</c>): the
/// OST's share of Lustre's <c>last_rcvd</c>. A resent punch whose first reply was lost, perhaps with the OSS that
/// sent it, is answered from here instead of truncating again: another client may have written past the new size
/// since. A punch is made durable (the object fsynced) before its record is written and synced, so a record never
/// names a punch that a crash undid; a crash between the two leaves the punch unrecorded, and its resend applies
/// the same size once more. Bounded: the newest <see cref="Capacity"/> records are kept, the log rewritten when it
/// holds twice as many. Writes and destroys need no record: the same bytes at the same offset, an object already gone.
/// </summary>
internal sealed class PunchRecords : IDisposable
{
    /// <summary>Punches remembered per OST: far more than its clients can have in flight.</summary>
    public const int Capacity = 4096;

    private readonly string _path;
    private readonly int _capacity;
    private readonly Lock _lock = new();
    private readonly HashSet<(string Client, ulong Xid)> _applied = [];
    private readonly Queue<(string Client, ulong Xid)> _order = new();
    private FileStream _log;
    private int _logged;

    public PunchRecords(string directory, int capacity = Capacity)
    {
        _capacity = capacity;
        _path = Path.Combine(directory, "punches.log");
        if (File.Exists(_path))
        {
            foreach (var record in ReadAll(_path))
            {
                Remember(record);
            }
        }

        _log = OpenForAppend();
        Compact();
    }

    /// <summary>Whether (client, xid) was applied.</summary>
    public bool Contains(string client, ulong xid)
    {
        lock (_lock)
        {
            return _applied.Contains((client, xid));
        }
    }

    /// <summary>Records a durable punch; returns once the record is on disk.</summary>
    public void Add(string client, ulong xid)
    {
        var entry = Encode(client, xid);
        lock (_lock)
        {
            _log.Write(entry);
            _log.Flush(flushToDisk: true);
            Remember((client, xid));
            if (++_logged >= 2 * _capacity)
            {
                Compact();
            }
        }
    }

    private void Remember((string Client, ulong Xid) record)
    {
        if (_applied.Add(record))
        {
            _order.Enqueue(record);
            while (_order.Count > _capacity)
            {
                _applied.Remove(_order.Dequeue());
            }
        }
    }

    /// <summary>Rewrites the log with the records kept, through a temporary file renamed over it.</summary>
    private void Compact()
    {
        var temporary = _path + ".new";
        using (var fresh = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            foreach (var (client, xid) in _order)
            {
                fresh.Write(Encode(client, xid));
            }

            fresh.Flush(flushToDisk: true);
        }

        _log.Dispose();
        File.Move(temporary, _path, overwrite: true);
        _log = OpenForAppend();
        _logged = _order.Count;
    }

    /// <summary>A record: u16 uuid length, uuid (UTF-8), xid (u64), little-endian.</summary>
    private static byte[] Encode(string client, ulong xid)
    {
        var clientBytes = Encoding.UTF8.GetBytes(client);
        var entry = new byte[2 + clientBytes.Length + 8];
        BinaryPrimitives.WriteUInt16LittleEndian(entry, (ushort)clientBytes.Length);
        clientBytes.CopyTo(entry, 2);
        BinaryPrimitives.WriteUInt64LittleEndian(entry.AsSpan(2 + clientBytes.Length), xid);
        return entry;
    }

    private FileStream OpenForAppend() => new(_path, FileMode.Append, FileAccess.Write, FileShare.Read);

    /// <summary>Every whole record of the log; a torn last record (a crash mid-append) is ignored.</summary>
    private static IEnumerable<(string Client, ulong Xid)> ReadAll(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var offset = 0;
        while (offset + 2 <= bytes.Length)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset));
            if (offset + 2 + length + 8 > bytes.Length)
            {
                yield break;
            }

            var client = Encoding.UTF8.GetString(bytes, offset + 2, length);
            var xid = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(offset + 2 + length));
            offset += 2 + length + 8;
            yield return (client, xid);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _log.Dispose();
        }
    }
}
