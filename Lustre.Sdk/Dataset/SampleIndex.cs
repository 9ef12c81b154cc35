using Lustre.Protocol;

namespace Lustre.Dataset;

/// <summary>
/// Where every sample of a dataset is: its shard, byte range and fields (offsets relative to the range), in flat arrays
/// (a million samples cost about 40 MB). Sample i of shard s is global index <c>ShardStarts[s] + i</c>.
/// </summary>
internal sealed class SampleIndex
{
    public required string[] ShardPaths { get; init; }

    public required DatasetFormat[] ShardFormats { get; init; }

    /// <summary>The first global index of each shard, plus the total count at the end.</summary>
    public required int[] ShardStarts { get; init; }

    public required int[] Shard { get; init; }

    public required long[] Offset { get; init; }

    public required int[] Length { get; init; }

    /// <summary>Null where the format has no keys (the key is then the index).</summary>
    public required string?[] Keys { get; init; }

    /// <summary>Sample i's fields are entries FieldStart[i] to FieldStart[i + 1] − 1.</summary>
    public required int[] FieldStart { get; init; }

    public required ushort[] FieldName { get; init; }

    public required int[] FieldOffset { get; init; }

    public required int[] FieldLength { get; init; }

    public required string[] FieldNames { get; init; }

    /// <summary>A folder data set's files by FID, one per shard (each file is a shard of one sample), for the batched opens; else null.</summary>
    public LustreFid[]? ShardFids { get; init; }

    /// <summary>A folder data set's label per sample; else null.</summary>
    public int[]? Labels { get; init; }

    public int Count => Shard.Length;
}
