using Lustre.Layouts;

namespace Lustre.Dataset;

/// <summary>Settings of a <see cref="DatasetWriter"/>.</summary>
public sealed class DatasetWriterOptions
{
    /// <summary>
    /// The shard format (default <see cref="DatasetFormat.Indexed"/>). <see cref="DatasetFormat.WebDataset"/> writes each
    /// field as a member <c>key.name</c>; <see cref="DatasetFormat.TfRecord"/> needs exactly one field per sample.
    /// </summary>
    public DatasetFormat Format { get; set; } = DatasetFormat.Indexed;

    /// <summary>A shard is closed and the next begun once it holds at least this many bytes (default 256 MiB). At least 1.</summary>
    public long TargetShardSize { get; set; } = 256L << 20;

    /// <summary>
    /// The layout of each shard (default: 4 MiB stripes over every OST, as Lustre's default stripe size: reads of one
    /// shard use every OST, and a coalesced read of up to 4 MiB is one RPC).
    /// </summary>
    public FileLayout? Layout { get; set; } = FileLayout.Raid0(4 << 20, stripeCount: -1);

    /// <summary>Shard file names are <c>{prefix}-{number:D5}{extension}</c> (default prefix <c>shard</c>).</summary>
    public string ShardNamePrefix { get; set; } = "shard";

    internal void Validate()
    {
        if (Format is not (DatasetFormat.Indexed or DatasetFormat.WebDataset or DatasetFormat.TfRecord))
        {
            throw new ArgumentOutOfRangeException(nameof(Format), Format, $"{nameof(DatasetWriter)} writes Indexed, WebDataset or TfRecord shards.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(TargetShardSize, 1, nameof(TargetShardSize));
        if (string.IsNullOrEmpty(ShardNamePrefix) || ShardNamePrefix.Contains('/', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{nameof(ShardNamePrefix)} must be a non-empty file name without '/'.", nameof(ShardNamePrefix));
        }
    }
}
