using System.Text.Json;
using Lustre.Protocol.Messages;

namespace Lustre.Server.Mgs;

/// <summary>
/// The MGS's persistent configuration: filesystem name, default layout and the target list. Written
/// whole to a temporary file, fsynced, then renamed over the old one, so a crash leaves the old or the new.
/// </summary>
internal sealed class MgsConfigStore
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly State _state;

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
            var targets = _state.Targets.Select(t => new TargetRecord(t.Kind, t.Index, t.Address, t.Active)).ToArray();
            return new FilesystemConfig(_state.FsName, _state.Generation, _state.DefaultStripeSize, _state.DefaultStripeCount, targets);
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
    }

    private sealed record TargetEntry(TargetKind Kind, int Index, string Address, bool Active);
}
