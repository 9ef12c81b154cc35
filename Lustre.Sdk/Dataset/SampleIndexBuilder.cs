using Lustre.Protocol;

namespace Lustre.Dataset;

/// <summary>Collects the samples of each shard as the format readers scan them.</summary>
internal sealed class SampleIndexBuilder
{
    private readonly List<string> _shardPaths = [];
    private readonly List<DatasetFormat> _shardFormats = [];
    private readonly List<int> _shardStarts = [];
    private readonly List<int> _shard = [];
    private readonly List<long> _offset = [];
    private readonly List<int> _length = [];
    private readonly List<string?> _keys = [];
    private readonly List<int> _fieldStart = [];
    private readonly List<ushort> _fieldName = [];
    private readonly List<int> _fieldOffset = [];
    private readonly List<int> _fieldLength = [];
    private readonly List<string> _names = [];
    private readonly Dictionary<string, ushort> _nameIds = new(StringComparer.Ordinal);
    private readonly List<LustreFid> _shardFids = [];
    private readonly List<int> _labels = [];
    private int _currentShard = -1;

    public int Count => _shard.Count;

    public string CurrentShardPath => _shardPaths[_currentShard];

    /// <summary>Starts a shard; a folder data set's shard is one file, opened again by <paramref name="fid"/> in each epoch.</summary>
    public void BeginShard(string path, DatasetFormat format, LustreFid? fid = null)
    {
        if (fid is { } known)
        {
            _shardFids.Add(known);
        }

        _currentShard = _shardPaths.Count;
        _shardPaths.Add(path);
        _shardFormats.Add(format);
        _shardStarts.Add(_shard.Count);
    }

    /// <summary>Adds a sample to the current shard; <paramref name="label"/> is a folder data set's class.</summary>
    public void AddSample(long offset, int length, string? key, int? label = null)
    {
        if (_shard.Count == int.MaxValue)
        {
            throw new NotSupportedException($"A dataset holds at most {int.MaxValue} samples.");
        }

        _shard.Add(_currentShard);
        _offset.Add(offset);
        _length.Add(length);
        _keys.Add(key);
        _fieldStart.Add(_fieldName.Count);
        if (label is { } value)
        {
            _labels.Add(value);
        }
    }

    /// <summary>Adds a field to the last sample; <paramref name="relativeOffset"/> counts from the sample's offset.</summary>
    public void AddField(string name, int relativeOffset, int length) => AddField(NameId(name), relativeOffset, length);

    /// <summary>Adds a field by the id <see cref="NameId"/> gave its name.</summary>
    public void AddField(ushort nameId, int relativeOffset, int length)
    {
        _fieldName.Add(nameId);
        _fieldOffset.Add(relativeOffset);
        _fieldLength.Add(length);
    }

    /// <summary>Grows the last sample's range to <paramref name="end"/> (tar: members of one key follow each other).</summary>
    public void ExtendLastSample(long end) => _length[^1] = checked((int)(end - _offset[^1]));

    public ushort NameId(string name)
    {
        if (!_nameIds.TryGetValue(name, out var id))
        {
            if (_names.Count == ushort.MaxValue)
            {
                throw new NotSupportedException($"A dataset may have at most {ushort.MaxValue} distinct field names.");
            }

            id = (ushort)_names.Count;
            _names.Add(name);
            _nameIds.Add(name, id);
        }

        return id;
    }

    /// <summary>Checks that every sample of the current shard since <paramref name="firstSample"/> has the required fields.</summary>
    public void CheckRequired(int firstSample, IReadOnlyList<string> required)
    {
        if (required.Count == 0)
        {
            return;
        }

        for (var i = firstSample; i < _shard.Count; i++)
        {
            var end = i + 1 < _fieldStart.Count ? _fieldStart[i + 1] : _fieldName.Count;
            foreach (var name in required)
            {
                var found = false;
                for (var f = _fieldStart[i]; f < end && !found; f++)
                {
                    found = string.Equals(_names[_fieldName[f]], name, StringComparison.Ordinal);
                }

                if (!found)
                {
                    var have = new List<string>();
                    for (var f = _fieldStart[i]; f < end; f++)
                    {
                        have.Add(_names[_fieldName[f]]);
                    }

                    throw new DatasetFormatException(CurrentShardPath, _offset[i], $"sample '{_keys[i] ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture)}' has no '{name}' field (it has: {string.Join(", ", have)}).");
                }
            }
        }
    }

    public SampleIndex Build()
    {
        _shardStarts.Add(_shard.Count);
        _fieldStart.Add(_fieldName.Count);
        return new SampleIndex
        {
            ShardPaths = [.. _shardPaths],
            ShardFormats = [.. _shardFormats],
            ShardStarts = [.. _shardStarts],
            Shard = [.. _shard],
            Offset = [.. _offset],
            Length = [.. _length],
            Keys = [.. _keys],
            FieldStart = [.. _fieldStart],
            FieldName = [.. _fieldName],
            FieldOffset = [.. _fieldOffset],
            FieldLength = [.. _fieldLength],
            FieldNames = [.. _names],
            ShardFids = _shardFids.Count == 0 ? null : [.. _shardFids],
            Labels = _labels.Count == 0 ? null : [.. _labels],
        };
    }
}
