namespace Lustre.Dataset;

/// <summary>How a <see cref="LustreDataset"/> orders the samples of an epoch.</summary>
public enum DatasetShuffle
{
    /// <summary>Storage order: shard after shard, sample after sample.</summary>
    None,

    /// <summary>A uniform random permutation of all samples, from the seed and the epoch.</summary>
    Global,

    /// <summary>
    /// The shards in a random order, then the samples shuffled within consecutive windows of at most
    /// <see cref="LustreDatasetOptions.ShuffleWindow"/> samples and a quarter of <see cref="LustreDatasetOptions.PrefetchBudget"/>
    /// bytes: reads stay within a few shards and coalesce into large requests.
    /// </summary>
    ShardWindow,
}
