using Lustre.Distributed;
using Lustre.Layouts;

namespace Lustre.Checkpoints;

/// <summary>
/// Settings of a <see cref="CheckpointManager"/>. The defaults suit one rank saving a few GiB: files striped over
/// every OST, 8 MiB chunks, 16 chunks in flight, 4 GiB of staging memory, the last 3 checkpoints kept.
/// Rank, world size and run id default to the variables distributed launchers set (torchrun's <c>RANK</c> and
/// <c>WORLD_SIZE</c>, Slurm's <c>SLURM_PROCID</c> and <c>SLURM_NTASKS</c>, Open MPI's <c>OMPI_COMM_WORLD_RANK</c> and
/// <c>OMPI_COMM_WORLD_SIZE</c>; <c>LUSTRE_RUN_ID</c> or <c>TORCHELASTIC_RUN_ID</c>).
/// </summary>
public sealed class CheckpointManagerOptions
{
    /// <summary>This process's rank, 0 to <see cref="WorldSize"/> − 1. Default (null): from the launcher's environment variables, else 0. Rank 0 commits.</summary>
    /// <remarks>
    /// An explicit value wins. Else the first launcher of torchrun (<c>RANK</c>, <c>WORLD_SIZE</c>), Slurm's srun
    /// (<c>SLURM_PROCID</c>, <c>SLURM_NTASKS</c>) and Open MPI's mpirun (<c>OMPI_COMM_WORLD_RANK</c>, <c>OMPI_COMM_WORLD_SIZE</c>)
    /// that sets either of its variables gives both, so <c>srun torchrun</c> takes torchrun's; else rank 0 of 1. They are read
    /// when the manager is made; a variable that is set but not an integer fails it, naming the variable.
    /// </remarks>
    public int? Rank { get; set; }

    /// <summary>
    /// How many ranks save parts of each checkpoint, 1 to 65536. Default (null): from the launcher that gives
    /// <see cref="Rank"/> (<c>WORLD_SIZE</c>, <c>SLURM_NTASKS</c> or <c>OMPI_COMM_WORLD_SIZE</c>; see <see cref="Rank"/>), else 1.
    /// </summary>
    public int? WorldSize { get; set; }

    /// <summary>
    /// A name shared by all ranks of one launch and different for every launch, so a restarted job never mistakes
    /// a crashed launch's half-written files for its own (default: <c>LUSTRE_RUN_ID</c>, else <c>TORCHELASTIC_RUN_ID</c>;
    /// with one rank, a fresh random id). Required when <see cref="WorldSize"/> is above 1. Letters, digits, '-' and '_'.
    /// </summary>
    public string? RunId { get; set; } = Environment.GetEnvironmentVariable("LUSTRE_RUN_ID") is { Length: > 0 } id ? id
        : Environment.GetEnvironmentVariable("TORCHELASTIC_RUN_ID") is { Length: > 0 } elastic && elastic != "none" ? elastic : null;

    /// <summary>How many committed checkpoints to keep (default 3); older ones are deleted after each commit. 0 keeps all.</summary>
    public int KeepLast { get; set; } = 3;

    /// <summary>
    /// The most staging memory all saves in flight may hold (default 4 GiB). A save larger than what is free copies
    /// what fits, then waits for written chunks to free their memory, so <see cref="CheckpointManager.SaveAsync"/> blocks longer.
    /// At least <see cref="ChunkSize"/>.
    /// </summary>
    public long StagingBudget { get; set; } = 4L << 30;

    /// <summary>The unit of staging, writing, reading and checksumming, in bytes (default 8 MiB). 64 KiB to 256 MiB, a multiple of 64 KiB.</summary>
    public int ChunkSize { get; set; } = 8 << 20;

    /// <summary>Chunk reads or writes in flight per manager (default 16). 1 to 1024.</summary>
    public int MaxConcurrency { get; set; } = 16;

    /// <summary>
    /// The size a data file grows to before the next tensor starts a new file (default 1 GiB); a larger single tensor
    /// gets a file of its own. 1 MiB to 2 GiB.
    /// </summary>
    public long MaxFileSize { get; set; } = 1L << 30;

    /// <summary>The layout of data files (default: 4 MiB stripes over every OST), so each file is written by all OSTs at once.</summary>
    public FileLayout DataLayout { get; set; } = FileLayout.Raid0(LayoutDefaults.DefaultStripeSize, stripeCount: -1);

    /// <summary>
    /// Copies of every checkpoint file (default 1): with 2 to <see cref="FileLayout.MaxMirrors"/>, data files, manifests
    /// and markers are mirrored (FLR) on OSTs of different servers, so a save commits and a load succeeds with a server
    /// gone. The writes move that many times the bytes.
    /// </summary>
    public int MirrorCount { get; set; } = 1;

    /// <summary>The layout data files get: <see cref="DataLayout"/>, mirrored <see cref="MirrorCount"/> times.</summary>
    internal FileLayout EffectiveDataLayout => MirrorCount > 1 ? FileLayout.Mirrored(MirrorCount, DataLayout) : DataLayout;

    /// <summary>The layout manifests and markers get: null (the directory's default) unless mirrored.</summary>
    internal FileLayout? SmallFileLayout => MirrorCount > 1 ? FileLayout.Mirrored(MirrorCount, FileLayout.Raid0()) : null;

    /// <summary>
    /// How data files are stored (default <see cref="CheckpointCompression.None"/>: plain safetensors). With
    /// <see cref="CheckpointCompression.Zstd"/> each chunk is compressed in the background after staging, so
    /// <see cref="CheckpointManager.SaveAsync"/> blocks no longer, but the writes wait for the compression (CPU bound).
    /// Loading reads either kind whatever this is set to.
    /// </summary>
    public CheckpointCompression Compression { get; set; } = CheckpointCompression.None;

    /// <summary>The zstd level when <see cref="Compression"/> is <see cref="CheckpointCompression.Zstd"/> (default 1, the fastest regular level). -5 to 19; negative levels are faster still and compress less.</summary>
    public int CompressionLevel { get; set; } = 1;

    /// <summary>How long rank 0 waits for the other ranks' parts, and they for its commit (default 10 minutes).</summary>
    public TimeSpan BarrierTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Checks every option; returns the rank and world size in effect (<see cref="Rank"/>, else the launcher's).</summary>
    internal LaunchEnvironment Validate()
    {
        var launch = LaunchEnvironment.Resolve(Rank, WorldSize);
        launch.Validate(maxWorldSize: 65536);
        Check(KeepLast, 0, int.MaxValue, nameof(KeepLast));
        Check(ChunkSize, 64 << 10, 256 << 20, nameof(ChunkSize));
        if (ChunkSize % (64 << 10) != 0)
        {
            throw new ArgumentException($"{nameof(ChunkSize)} must be a multiple of 64 KiB; {ChunkSize} is not.", nameof(ChunkSize));
        }

        Check(MaxConcurrency, 1, 1024, nameof(MaxConcurrency));
        if (!Enum.IsDefined(Compression))
        {
            throw new ArgumentOutOfRangeException(nameof(Compression), Compression, $"{nameof(Compression)} must be None or Zstd.");
        }

        Check(CompressionLevel, -5, 19, nameof(CompressionLevel));
        if (StagingBudget < ChunkSize)
        {
            throw new ArgumentOutOfRangeException(nameof(StagingBudget), StagingBudget, $"{nameof(StagingBudget)} must be at least {nameof(ChunkSize)} ({ChunkSize}).");
        }

        if (MaxFileSize < 1 << 20 || MaxFileSize > 2L << 30)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxFileSize), MaxFileSize, $"{nameof(MaxFileSize)} must be between 1 MiB and 2 GiB.");
        }

        ArgumentNullException.ThrowIfNull(DataLayout, nameof(DataLayout));
        if (DataLayout.IsInstantiated)
        {
            throw new ArgumentException($"{nameof(DataLayout)} must not name OST objects.", nameof(DataLayout));
        }

        if (MirrorCount is < 1 or > FileLayout.MaxMirrors)
        {
            throw new ArgumentOutOfRangeException(nameof(MirrorCount), MirrorCount, $"{nameof(MirrorCount)} must be between 1 and {FileLayout.MaxMirrors}.");
        }

        if (MirrorCount > 1 && DataLayout.IsMirrored)
        {
            throw new ArgumentException($"{nameof(DataLayout)} is mirrored already; set {nameof(MirrorCount)} to 1 or give a layout without mirrors.", nameof(DataLayout));
        }

        if (BarrierTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(BarrierTimeout), BarrierTimeout, $"{nameof(BarrierTimeout)} must be positive.");
        }

        if (RunId is { } id && (id.Length is 0 or > 64 || !id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
        {
            throw new ArgumentException($"{nameof(RunId)} must be 1 to 64 letters, digits, '-' or '_'; '{id}' is not.", nameof(RunId));
        }

        if (launch.WorldSize > 1 && RunId is null)
        {
            throw new ArgumentException(
                $"{nameof(RunId)} is required when {nameof(WorldSize)} is {launch.WorldSize} ({launch.WorldSizeSource}): set it (or LUSTRE_RUN_ID) to the same value on every rank, new for every launch.",
                nameof(RunId));
        }

        return launch;
    }

    private static void Check(long value, long min, long max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        }
    }
}
