using Lustre.Distributed;

namespace Lustre.Dataset;

/// <summary>Settings of a <see cref="LustreDataset"/>. Every value has a documented default; they are checked once when the dataset opens.</summary>
public sealed class LustreDatasetOptions
{
    /// <summary>The format of the shards (default <see cref="DatasetFormat.Auto"/>: by each file's extension).</summary>
    public DatasetFormat Format { get; set; } = DatasetFormat.Auto;

    /// <summary>The order of each epoch (default <see cref="DatasetShuffle.Global"/>).</summary>
    public DatasetShuffle Shuffle { get; set; } = DatasetShuffle.Global;

    /// <summary>The shuffle seed (default 0). The same seed and epoch give the same order on every machine and every run.</summary>
    public ulong Seed { get; set; }

    /// <summary>The first epoch to read (default 0); ignored when <see cref="ResumeFrom"/> is set.</summary>
    public int Epoch { get; set; }

    /// <summary>
    /// The most samples per shuffle window for <see cref="DatasetShuffle.ShardWindow"/> (default 16,384). 1 to 2^30. A window
    /// also ends before its bytes pass a quarter of <see cref="PrefetchBudget"/>, so that it is read with a few large
    /// requests; every rank, and a resumed reader, must use the same values of both.
    /// </summary>
    public int ShuffleWindow { get; set; } = 16_384;

    /// <summary>
    /// The number of partitions a <see cref="DatasetShuffle.ShardWindow"/> or <see cref="DatasetShuffle.Blocks"/> epoch is cut
    /// into (default 16). 1 to 65,536. It is part of the order, not of the world size: every rank and a resumed reader
    /// must use the same value, and any world size reads exactly its share. When the world size divides it, each rank
    /// reads whole partitions and all ranks together fetch each byte once; otherwise every rank reads its samples
    /// from every partition and the bytes fetched grow towards the world size times the samples' bytes. Make it a
    /// multiple of every world size a job may run with (e.g. 48 for 1, 2, 3, 4, 6, 8, 12, 16, 24 or 48 ranks); each
    /// window is read as that many separate runs, so a much larger value makes the reads smaller.
    /// </summary>
    public int Partitions { get; set; } = 16;

    /// <summary>Samples per block for <see cref="DatasetShuffle.Blocks"/> (default 64). 1 to 2^30.</summary>
    public int ShuffleBlock { get; set; } = 64;

    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> − 1. Default (null): from the launcher's environment variables, else 0.</summary>
    /// <remarks>
    /// An explicit value wins. Else the first launcher of torchrun (<c>RANK</c>, <c>WORLD_SIZE</c>), Slurm's srun
    /// (<c>SLURM_PROCID</c>, <c>SLURM_NTASKS</c>) and Open MPI's mpirun (<c>OMPI_COMM_WORLD_RANK</c>, <c>OMPI_COMM_WORLD_SIZE</c>)
    /// that sets either of its variables gives both, so <c>srun torchrun</c> takes torchrun's; else rank 0 of 1. A variable
    /// that is set but not an integer fails the open, naming it.
    /// </remarks>
    public int? Rank { get; set; }

    /// <summary>
    /// The number of ranks sharing the epoch. Default (null): from the launcher that gives <see cref="Rank"/>
    /// (<c>WORLD_SIZE</c>, <c>SLURM_NTASKS</c> or <c>OMPI_COMM_WORLD_SIZE</c>; see <see cref="Rank"/>), else 1.
    /// </summary>
    public int? WorldSize { get; set; }

    /// <summary>Equal counts per rank by dropping or by padding the remainder (default <see cref="DatasetRemainder.Drop"/>).</summary>
    public DatasetRemainder Remainder { get; set; } = DatasetRemainder.Drop;

    /// <summary>
    /// Bytes the prefetcher may hold, counting samples handed out and not yet disposed (default 64 MiB). At least 64 KiB.
    /// With <see cref="DatasetShuffle.ShardWindow"/> a quarter of it bounds a shuffle window: raise it to shuffle large samples more widely.
    /// The reader keeps its buffers for reuse until disposed, as arrays rounded up to a power of two: up to twice this in memory.
    /// </summary>
    public long PrefetchBudget { get; set; } = 64L << 20;

    /// <summary>
    /// Read requests to the OSTs in flight at once (default 16). 1 to 1024. Each is one range of 256 KiB or more, or a
    /// batch of smaller ranges of one OST (<see cref="Client.LustreClient.ReadBatchAsync"/>).
    /// </summary>
    public int MaxConcurrentReads { get; set; } = 16;

    /// <summary>Neighbouring samples of one shard no further apart than this are read with one request (default 64 KiB; 0 merges only adjacent ones; −1 never merges).</summary>
    public int CoalesceGap { get; set; } = 64 << 10;

    /// <summary>The largest coalesced read in bytes (default 4 MiB). 4 KiB to 256 MiB.</summary>
    public int MaxReadSize { get; set; } = 4 << 20;

    /// <summary>
    /// Samples the prefetcher plans together, sorted by position to find neighbours (default 1,024; for a
    /// <see cref="DatasetFormat.Folder"/> data set 256, as its files have no neighbours to find and a consumer that
    /// catches up waits for a whole window). 1 to 1,048,576.
    /// </summary>
    public int PrefetchWindow
    {
        get => _prefetchWindow ?? (Format == DatasetFormat.Folder ? 256 : 1024);
        set => _prefetchWindow = value;
    }

    private int? _prefetchWindow;

    /// <summary>Fields every sample must have (default none); a sample without one fails at open with its shard and key.</summary>
    public IReadOnlyList<string> RequiredFields { get; set; } = [];

    /// <summary>Bytes per token for <see cref="DatasetFormat.Tokens"/>: 2 (uint16) or 4 (uint32). Default 2.</summary>
    public int TokenWidth { get; set; } = 2;

    /// <summary>Tokens per sample for <see cref="DatasetFormat.Tokens"/> (default 1,024). At least 1.</summary>
    public int SequenceLength { get; set; } = 1024;

    /// <summary>
    /// The label of each sample of a <see cref="DatasetFormat.Folder"/> data set, from its file's path
    /// (<see cref="DatasetSample.Label"/>); a class index, 0 or more. Default (null): ImageFolder's rule, the index of
    /// the file's class folder (the directory below the root that holds it) among the class folders of all roots in
    /// ordinal order (<see cref="LustreDataset.Classes"/>); files directly in a root are then not samples. With a
    /// selector every file below the roots is a sample. Called once per file when the data set opens.
    /// </summary>
    public Func<string, int>? LabelSelector { get; set; }

    /// <summary>Resume from a state saved by <see cref="LustreDataset.GetState"/>: its seed, epoch and position win over <see cref="Seed"/> and <see cref="Epoch"/>.</summary>
    public LustreDatasetState? ResumeFrom { get; set; }

    internal int ResolvedRank { get; private set; }

    internal int ResolvedWorldSize { get; private set; }

    internal void Validate()
    {
        var launch = LaunchEnvironment.Resolve(Rank, WorldSize);
        launch.Validate(maxWorldSize: int.MaxValue);
        (ResolvedRank, ResolvedWorldSize) = (launch.Rank, launch.WorldSize);
        Check(ShuffleWindow, 1, 1 << 30, nameof(ShuffleWindow));
        Check(Partitions, 1, 1 << 16, nameof(Partitions));
        Check(ShuffleBlock, 1, 1 << 30, nameof(ShuffleBlock));
        Check(MaxConcurrentReads, 1, 1024, nameof(MaxConcurrentReads));
        Check(CoalesceGap, -1, int.MaxValue, nameof(CoalesceGap));
        Check(MaxReadSize, 4 << 10, 256 << 20, nameof(MaxReadSize));
        Check(PrefetchWindow, 1, 1 << 20, nameof(PrefetchWindow));
        Check(SequenceLength, 1, int.MaxValue, nameof(SequenceLength));
        Check(Epoch, 0, int.MaxValue, nameof(Epoch));
        if (TokenWidth is not (2 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(TokenWidth), TokenWidth, $"{nameof(TokenWidth)} must be 2 (uint16) or 4 (uint32).");
        }

        if (PrefetchBudget < 64 << 10)
        {
            throw new ArgumentOutOfRangeException(nameof(PrefetchBudget), PrefetchBudget, $"{nameof(PrefetchBudget)} must be at least 64 KiB.");
        }

        ArgumentNullException.ThrowIfNull(RequiredFields, nameof(RequiredFields));
        if (!Enum.IsDefined(Format) || !Enum.IsDefined(Shuffle) || !Enum.IsDefined(Remainder))
        {
            throw new ArgumentException($"Unknown {nameof(Format)}, {nameof(Shuffle)} or {nameof(Remainder)} value.", nameof(Format));
        }
    }

    private static void Check(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        }
    }
}
