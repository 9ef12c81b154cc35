using System.Text.Json;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mgs;

/// <summary>
/// The MGS's persistent configuration: filesystem name, default layout, the target list and the OST pools. Written
/// whole to a temporary file, fsynced, then renamed over the old one, so a crash leaves the old or the new.
/// </summary>
internal sealed class MgsConfigStore
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly State _state;
    private FilesystemConfig? _snapshot;

    public MgsConfigStore(string directory, string fsName, long defaultStripeSize, int defaultStripeCount)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "config.json");
        if (File.Exists(_path))
        {
            _state = JsonSerializer.Deserialize<State>(File.ReadAllBytes(_path), JsonOptions)
                ?? throw new InvalidDataException($"{_path} is empty or not a configuration.");
            if (_state.FsName != fsName)
            {
                throw new InvalidOperationException($"The data folder holds filesystem '{_state.FsName}', not '{fsName}'.");
            }
        }
        else
        {
            _state = new State { FsName = fsName, DefaultStripeSize = defaultStripeSize, DefaultStripeCount = defaultStripeCount };
            Save();
        }
    }

    public string FsName => _state.FsName;

    public FilesystemConfig Snapshot()
    {
        lock (_lock)
        {
            // Every change bumps the generation: the servers' and clients' periodic refreshes, nearly all of the calls,
            // share one snapshot and allocate nothing.
            if (_snapshot is { } known && known.Generation == _state.Generation)
            {
                return known;
            }

            var targets = _state.Targets.Select(t => new TargetRecord(t.Kind, t.Index, t.Address, t.Active)).ToArray();
            var pools = _state.Pools.Select(p => new OstPoolRecord(p.Name, [.. p.Osts])).ToArray();
            return _snapshot = new FilesystemConfig(_state.FsName, _state.Generation, _state.DefaultStripeSize, _state.DefaultStripeCount, targets) { Pools = pools };
        }
    }

    /// <summary>Adds a target or updates its address (a restarted server may come back on a new port).</summary>
    public void Register(TargetRecord target)
    {
        lock (_lock)
        {
            var existing = _state.Targets.FindIndex(t => t.Kind == target.Kind && t.Index == target.Index);
            if (existing >= 0)
            {
                var old = _state.Targets[existing];
                if (old.Address == target.Address)
                {
                    return;
                }

                _state.Targets[existing] = old with { Address = target.Address };
            }
            else
            {
                _state.Targets.Add(new TargetEntry(target.Kind, target.Index, target.Address, Active: true));
                _state.Targets.Sort((a, b) => a.Kind != b.Kind ? a.Kind.CompareTo(b.Kind) : a.Index.CompareTo(b.Index));
            }

            _state.Generation++;
            Save();
        }
    }

    public bool SetActive(TargetKind kind, int index, bool active)
    {
        lock (_lock)
        {
            var existing = _state.Targets.FindIndex(t => t.Kind == kind && t.Index == index);
            if (existing < 0)
            {
                return false;
            }

            _state.Targets[existing] = _state.Targets[existing] with { Active = active };
            _state.Generation++;
            Save();
            return true;
        }
    }

    /// <summary>
    /// Applies <c>lctl pool_new</c>, <c>pool_add</c>, <c>pool_remove</c> or <c>pool_destroy</c>, refusing as Lustre's
    /// MGS does (<c>mgs_pool_sanity</c>): a pool that exists (new), a pool that does not (the others), an OST that is
    /// not registered or already in the pool (add), one not in it (remove), a pool that still has OSTs (destroy).
    /// </summary>
    /// <exception cref="RpcStatusException">The change is refused; the message names the pool and the OST.</exception>
    public void ChangePool(PoolRequest request)
    {
        var full = $"{_state.FsName}.{request.Pool}";
        if (Layouts.PoolName.Check(request.Pool) is { } invalid)
        {
            throw new RpcStatusException(LustreErrno.EINVAL, invalid);
        }

        var ost = TargetNames.Ost(_state.FsName, request.OstIndex);
        lock (_lock)
        {
            var pool = _state.Pools.Find(p => p.Name == request.Pool);
            switch (request.Operation)
            {
                case PoolOperation.New when pool is not null:
                    throw new RpcStatusException(LustreErrno.EEXIST, $"pool {full} already exists");
                case PoolOperation.New when _state.Pools.Count >= OstPoolRecord.MaxPools:
                    throw new RpcStatusException(LustreErrno.ENOSPC, $"the filesystem has {_state.Pools.Count} pools, the most it can have");
                case PoolOperation.New:
                    _state.Pools.Add(new PoolEntry { Name = request.Pool });
                    _state.Pools.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name));
                    break;
                case not PoolOperation.New when pool is null:
                    throw new RpcStatusException(LustreErrno.ENOENT, $"pool {full} not found");
                case PoolOperation.Destroy when pool.Osts.Count > 0:
                    throw new RpcStatusException(LustreErrno.ENOTEMPTY, $"pool {full} not empty, please remove all members ({pool.Osts.Count} OSTs)");
                case PoolOperation.Destroy:
                    _state.Pools.Remove(pool);
                    break;
                case PoolOperation.Add when !_state.Targets.Exists(t => t.Kind == TargetKind.Ost && t.Index == request.OstIndex):
                    throw new RpcStatusException(LustreErrno.ENOENT, $"{ost} is not part of the '{_state.FsName}' fs");
                case PoolOperation.Add when pool.Osts.Contains(request.OstIndex):
                    throw new RpcStatusException(LustreErrno.EEXIST, $"{ost} is already in pool {full}");
                case PoolOperation.Add:
                    pool.Osts.Add(request.OstIndex);
                    pool.Osts.Sort();
                    break;
                case PoolOperation.Remove:
                    if (!pool.Osts.Remove(request.OstIndex))
                    {
                        throw new RpcStatusException(LustreErrno.ENOENT, $"{ost} not found in pool {full}");
                    }

                    break;
            }

            _state.Generation++;
            Save();
        }
    }

    private void Save()
    {
        var temporary = _path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, _state, JsonOptions);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, _path, overwrite: true);
    }

    private sealed class State
    {
        public string FsName { get; set; } = "lustre";

        public ulong Generation { get; set; }

        public long DefaultStripeSize { get; set; }

        public int DefaultStripeCount { get; set; }

        public List<TargetEntry> Targets { get; set; } = [];

        /// <summary>The OST pools in name order (absent from a file written before pools existed: none).</summary>
        public List<PoolEntry> Pools { get; set; } = [];
    }

    private sealed record TargetEntry(TargetKind Kind, int Index, string Address, bool Active);

    private sealed class PoolEntry
    {
        public string Name { get; set; } = string.Empty;

        /// <summary>The OST indexes, ascending.</summary>
        public List<int> Osts { get; set; } = [];
    }
}
