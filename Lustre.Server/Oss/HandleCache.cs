using Microsoft.Win32.SafeHandles;

namespace Lustre.Server.Oss;

/// <summary>
/// A bounded cache of open object handles so steady I/O does not open a file per request. A handle in use is
/// leased (reference counted) and closed only when evicted and no lease holds it.
/// </summary>
internal sealed class HandleCache : IDisposable
{
    private readonly int _capacity;
    private readonly Dictionary<ulong, Entry> _entries = [];
    private readonly LinkedList<ulong> _lru = new();
    private readonly Lock _lock = new();

    public HandleCache(int capacity) => _capacity = Math.Max(1, capacity);

    public Lease Acquire(ulong objectId)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(objectId, out var entry))
            {
                return default;
            }

            _lru.Remove(entry.Node);
            _lru.AddFirst(entry.Node);
            entry.Leases++;
            return new Lease(this, entry);
        }
    }

    public bool Contains(ulong objectId)
    {
        lock (_lock)
        {
            return _entries.ContainsKey(objectId);
        }
    }

    /// <summary>Caches a freshly opened handle (or, if another thread won the race, closes it and uses theirs).</summary>
    public Lease Install(ulong objectId, SafeFileHandle handle)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(objectId, out var existing))
            {
                handle.Dispose();
                existing.Leases++;
                return new Lease(this, existing);
            }

            var entry = new Entry(objectId, handle, _lru.AddFirst(objectId)) { Leases = 1 };
            _entries[objectId] = entry;
            while (_entries.Count > _capacity && _lru.Last is { } oldest)
            {
                RemoveLocked(_entries[oldest.Value]);
            }

            return new Lease(this, entry);
        }
    }

    public void Evict(ulong objectId)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(objectId, out var entry))
            {
                RemoveLocked(entry);
            }
        }
    }

    private void RemoveLocked(Entry entry)
    {
        _entries.Remove(entry.ObjectId);
        _lru.Remove(entry.Node);
        entry.Evicted = true;
        if (entry.Leases == 0)
        {
            entry.Handle.Dispose();
        }
    }

    private void Release(Entry entry)
    {
        lock (_lock)
        {
            entry.Leases--;
            if (entry.Leases == 0 && entry.Evicted)
            {
                entry.Handle.Dispose();
            }
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var entry in _entries.Values.ToArray())
            {
                RemoveLocked(entry);
            }
        }
    }

    internal sealed class Entry(ulong objectId, SafeFileHandle handle, LinkedListNode<ulong> node)
    {
        public ulong ObjectId { get; } = objectId;

        public SafeFileHandle Handle { get; } = handle;

        public LinkedListNode<ulong> Node { get; } = node;

        public int Leases { get; set; }

        public bool Evicted { get; set; }
    }

    /// <summary>Use of one cached handle; disposing it gives the handle back.</summary>
    public readonly struct Lease : IDisposable
    {
        private readonly HandleCache? _cache;
        private readonly Entry? _entry;

        internal Lease(HandleCache cache, Entry entry)
        {
            _cache = cache;
            _entry = entry;
        }

        public SafeFileHandle? Handle => _entry?.Handle;

        public void Dispose() => _cache?.Release(_entry!);
    }
}
