using System.Text;
using System.Text.Json;
using Lustre.Protocol;
using Lustre.Protocol.Messages;
using Lustre.Server.Rpc;

namespace Lustre.Server.Mgs;

/// <summary>
/// The persistent parameters, <c>lctl set_param -P PATTERN=VALUE</c> (Lustre's <c>params</c> configuration log on the
/// MGS): kept in <c>params.json</c> beside the configuration, written whole to a temporary file, fsynced and renamed,
/// so a crash leaves the old list or the new. Servers apply the ones that name their parameters when they start, and
/// clients when they connect. Bounded: at most <see cref="MgsParamsReply.MaxParams"/> patterns and
/// <see cref="MaxTotalBytes"/> of patterns and values, so the list always fits one reply.
/// </summary>
internal sealed class MgsParamStore
{
    /// <summary>Patterns and values together, in UTF-8: far under a reply body.</summary>
    public const int MaxTotalBytes = 512 * 1024;

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries;

    public MgsParamStore(string directory)
    {
        Directory.CreateDirectory(directory);
        _path = Path.Combine(directory, "params.json");
        _entries = File.Exists(_path)
            ? JsonSerializer.Deserialize<List<Entry>>(File.ReadAllBytes(_path), JsonOptions) ?? throw new InvalidDataException($"{_path} is empty or not a parameter list.")
            : [];
    }

    /// <summary>The parameters in the order they were first set (a later one applies after, as lines of Lustre's log).</summary>
    public IReadOnlyList<(string Pattern, string Value)> List()
    {
        lock (_lock)
        {
            return [.. _entries.Select(e => (e.Pattern, e.Value))];
        }
    }

    /// <summary>Stores <paramref name="pattern"/>=<paramref name="value"/>, replacing the pattern's earlier value.</summary>
    public void Set(string pattern, string value)
    {
        Check(pattern);
        lock (_lock)
        {
            var existing = _entries.FindIndex(e => e.Pattern == pattern);
            var entries = new List<Entry>(_entries);
            if (existing >= 0)
            {
                entries[existing] = new Entry(pattern, value);
            }
            else
            {
                entries.Add(new Entry(pattern, value));
            }

            var bytes = entries.Sum(e => Encoding.UTF8.GetByteCount(e.Pattern) + Encoding.UTF8.GetByteCount(e.Value));
            if (entries.Count > MgsParamsReply.MaxParams || bytes > MaxTotalBytes)
            {
                throw new RpcStatusException(LustreErrno.ENOSPC, $"the MGS keeps at most {MgsParamsReply.MaxParams} persistent parameters and {MaxTotalBytes} bytes of them; delete some with set_param -P -d");
            }

            Save(entries);
            _entries.Clear();
            _entries.AddRange(entries);
        }
    }

    /// <summary>Forgets <paramref name="pattern"/>; ENOENT when it is not stored.</summary>
    public void Delete(string pattern)
    {
        lock (_lock)
        {
            var entries = new List<Entry>(_entries);
            if (entries.RemoveAll(e => e.Pattern == pattern) == 0)
            {
                throw new RpcStatusException(LustreErrno.ENOENT, $"no persistent parameter '{pattern}'");
            }

            Save(entries);
            _entries.Clear();
            _entries.AddRange(entries);
        }
    }

    /// <summary>A pattern is a parameter name with globs: no '=', no space or control character.</summary>
    private static void Check(string pattern)
    {
        if (pattern.Length == 0 || pattern.StartsWith('.') || pattern.EndsWith('.') || pattern.Any(c => c == '=' || char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new RpcStatusException(LustreErrno.EINVAL, $"'{pattern}' is not a parameter name (dotted components, no '=', spaces or control characters)");
        }
    }

    private void Save(List<Entry> entries)
    {
        var temporary = _path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            JsonSerializer.Serialize(stream, entries, JsonOptions);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, _path, overwrite: true);
    }

    private sealed record Entry(string Pattern, string Value);
}
