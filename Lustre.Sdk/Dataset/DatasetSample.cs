namespace Lustre.Dataset;

/// <summary>
/// One sample read by a <see cref="LustreDataset"/>: its key and its fields. Ownership: the caller owns each sample it
/// receives and must dispose it; the fields point into a pooled buffer that is returned when the last sample sharing it is
/// disposed, so the memory is valid only until then (copy what you keep). Samples not disposed stay charged to
/// <see cref="LustreDatasetOptions.PrefetchBudget"/> and eventually stall the reader.
/// </summary>
public sealed class DatasetSample : IDisposable
{
    private readonly DatasetField[] _fields;
    private SharedBuffer? _buffer;

    internal DatasetSample(long index, string key, string shardPath, DatasetField[] fields, SharedBuffer buffer, int? label = null)
    {
        Index = index;
        Key = key;
        ShardPath = shardPath;
        Label = label;
        _fields = fields;
        _buffer = buffer;
    }

    /// <summary>The sample's position in the dataset (shard after shard, in storage order), from 0.</summary>
    public long Index { get; }

    /// <summary>
    /// The sample key: the tar member name before the extension, the key written to an indexed shard, the <see cref="Index"/>
    /// in decimal for TFRecord and tokens, or the file's path below its root for a <see cref="DatasetFormat.Folder"/> data set.
    /// </summary>
    public string Key { get; }

    /// <summary>The shard the sample was read from (the sample's own file, for a <see cref="DatasetFormat.Folder"/> data set).</summary>
    public string ShardPath { get; }

    /// <summary>
    /// The class label of a <see cref="DatasetFormat.Folder"/> data set's sample: the index of its class folder in
    /// <see cref="LustreDataset.Classes"/>, or what <see cref="LustreDatasetOptions.LabelSelector"/> gave. Null for shard formats.
    /// </summary>
    public int? Label { get; }

    /// <summary>The fields, in storage order. Their memory is valid until <see cref="Dispose"/>.</summary>
    public IReadOnlyList<DatasetField> Fields
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer is null, this);
            return _fields;
        }
    }

    /// <summary>The total size of the fields in bytes.</summary>
    public int Length
    {
        get
        {
            var total = 0;
            foreach (var part in _fields)
            {
                total += part.Data.Length;
            }

            return total;
        }
    }

    /// <summary>The bytes of the field named <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the fields there are.</summary>
    public ReadOnlyMemory<byte> this[string name] =>
        TryGetField(name, out var data) ? data : throw new KeyNotFoundException($"Sample '{Key}' in {ShardPath} has no field '{name}'; it has: {string.Join(", ", Names())}.");

    /// <summary>Finds the field named <paramref name="name"/> (ordinal comparison).</summary>
    public bool TryGetField(string name, out ReadOnlyMemory<byte> data)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        foreach (var field in _fields)
        {
            if (string.Equals(field.Name, name, StringComparison.Ordinal))
            {
                data = field.Data;
                return true;
            }
        }

        data = default;
        return false;
    }

    /// <summary>Returns the sample's share of the pooled buffer; the fields must not be used afterwards.</summary>
    public void Dispose() => Interlocked.Exchange(ref _buffer, null)?.Release();

    private IEnumerable<string> Names()
    {
        foreach (var field in _fields)
        {
            yield return field.Name;
        }
    }
}
