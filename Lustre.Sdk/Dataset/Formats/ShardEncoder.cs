namespace Lustre.Dataset.Formats;

/// <summary>Writes one format's bytes for a <see cref="DatasetWriter"/>: a header when a shard starts, each sample, a trailer when it ends.</summary>
internal abstract class ShardEncoder
{
    public abstract string Extension { get; }

    public virtual ValueTask BeginShardAsync(Stream shard, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    /// <summary>Writes one sample at <paramref name="offset"/> (the shard's current length) and returns the bytes written.</summary>
    public abstract ValueTask<long> WriteSampleAsync(Stream shard, long offset, string key, IReadOnlyList<DatasetField> fields, CancellationToken cancellationToken);

    public virtual ValueTask EndShardAsync(Stream shard, long offset, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public static ShardEncoder For(DatasetFormat format) => format switch
    {
        DatasetFormat.Indexed => new IndexedShard.Encoder(),
        DatasetFormat.WebDataset => new TarShard.Encoder(),
        DatasetFormat.TfRecord => new TfRecordShard.Encoder(),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "DatasetWriter writes Indexed, WebDataset or TfRecord shards; write token files with numpy's tofile layout directly."),
    };
}
