namespace Lustre.Dataset;

/// <summary>How a <see cref="LustreDataset"/> orders the samples of an epoch.</summary>
public enum DatasetShuffle
{
    /// <summary>Storage order: shard after shard, sample after sample.</summary>
    None,

    /// <summary>A uniform random permutation of all samples, from the seed and the epoch.</summary>
    Global,

    /// <summary>
    /// The shards in a random order, cut into <see cref="LustreDatasetOptions.Partitions"/> contiguous partitions that
    /// advance together, with the samples shuffled within windows of at most <see cref="LustreDatasetOptions.ShuffleWindow"/>
    /// samples and a quarter of <see cref="LustreDatasetOptions.PrefetchBudget"/> bytes: each window draws from as many
    /// places in the data as there are partitions, and each rank reads whole contiguous runs of them with large
    /// requests, so all ranks together fetch each byte once (see <c>docs/dataset-format.md</c>).
    /// </summary>
    ShardWindow,

    /// <summary>
    /// As <see cref="ShardWindow"/>, but the units put in a random order are blocks of <see cref="LustreDatasetOptions.ShuffleBlock"/>
    /// consecutive samples rather than whole shards: each window mixes samples from many random places across all shards
    /// (nearer <see cref="Global"/>) at the cost of about one read per block.
    /// </summary>
    Blocks,
}
