using System.Globalization;

namespace Lustre.Distributed;

/// <summary>
/// This process's rank and the world size, as an explicit option or a distributed launcher gives them: the one place the
/// SDK reads the launchers' environment variables (<c>LustreDatasetOptions</c> and <c>CheckpointManagerOptions</c> both
/// resolve here). An explicit value wins; else the first launcher, in the order torchrun (<c>RANK</c>, <c>WORLD_SIZE</c>),
/// Slurm's srun (<c>SLURM_PROCID</c>, <c>SLURM_NTASKS</c>), Open MPI's mpirun (<c>OMPI_COMM_WORLD_RANK</c>,
/// <c>OMPI_COMM_WORLD_SIZE</c>), that sets either of its two variables gives both (one it leaves unset is 0 or 1); else
/// rank 0 of 1. Both come from the same launcher, never one from each: under <c>srun torchrun</c> Slurm's variables count
/// the torchrun agents (one per node), torchrun's the workers. A variable that is set but not an integer is an error
/// naming it, not a silent default.
/// </summary>
/// <param name="Rank">The rank (not yet checked against <paramref name="WorldSize"/>).</param>
/// <param name="WorldSize">The world size (not yet checked to be positive).</param>
/// <param name="RankSource">Where the rank came from, for messages: "as set", "from SLURM_PROCID=5", "by default".</param>
/// <param name="WorldSizeSource">Where the world size came from, likewise.</param>
internal readonly record struct LaunchEnvironment(int Rank, int WorldSize, string RankSource, string WorldSizeSource)
{
    /// <summary>The launchers' (rank, world size) variables, in order of precedence.</summary>
    internal static readonly (string Rank, string WorldSize)[] Launchers =
    [
        ("RANK", "WORLD_SIZE"),
        ("SLURM_PROCID", "SLURM_NTASKS"),
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
    ];

    private const string AsSet = "as set";
    private const string ByDefault = "by default";

    /// <summary>Resolves from this process's environment.</summary>
    public static LaunchEnvironment Resolve(int? rank, int? worldSize) => Resolve(rank, worldSize, Environment.GetEnvironmentVariable);

    /// <summary>Resolves with <paramref name="variable"/> as the environment (tests pass a dictionary's lookup).</summary>
    /// <exception cref="ArgumentException">The chosen launcher's variable is set but is not an integer.</exception>
    public static LaunchEnvironment Resolve(int? rank, int? worldSize, Func<string, string?> variable)
    {
        if (rank is null || worldSize is null)
        {
            foreach (var (rankName, sizeName) in Launchers)
            {
                var rankText = variable(rankName);
                var sizeText = variable(sizeName);
                if (string.IsNullOrEmpty(rankText) && string.IsNullOrEmpty(sizeText))
                {
                    continue;
                }

                var (resolvedRank, rankSource) = rank is { } r ? (r, AsSet) : Parse(rankName, rankText, "Rank", 0);
                var (resolvedSize, sizeSource) = worldSize is { } w ? (w, AsSet) : Parse(sizeName, sizeText, "WorldSize", 1);
                return new LaunchEnvironment(resolvedRank, resolvedSize, rankSource, sizeSource);
            }
        }

        return new LaunchEnvironment(rank ?? 0, worldSize ?? 1, rank is null ? ByDefault : AsSet, worldSize is null ? ByDefault : AsSet);
    }

    /// <summary>Checks 1 ≤ world size ≤ <paramref name="maxWorldSize"/> and 0 ≤ rank &lt; world size, naming where each came from.</summary>
    public void Validate(int maxWorldSize)
    {
        if (WorldSize < 1 || WorldSize > maxWorldSize)
        {
            throw new ArgumentOutOfRangeException(nameof(WorldSize), WorldSize, $"{nameof(WorldSize)} ({WorldSizeSource}) must be between 1 and {maxWorldSize}.");
        }

        if (Rank < 0 || Rank >= WorldSize)
        {
            throw new ArgumentOutOfRangeException(
                nameof(Rank), Rank, $"{nameof(Rank)} ({RankSource}) must be between 0 and {WorldSize - 1} for a world size of {WorldSize} ({WorldSizeSource}).");
        }
    }

    private static (int Value, string Source) Parse(string name, string? text, string option, int fallback)
    {
        if (string.IsNullOrEmpty(text))
        {
            return (fallback, $"by default, as {name} is not set");
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? (value, $"from {name}={text}")
            : throw new ArgumentException($"The environment variable {name}='{text}' is not an integer; set {option} explicitly or fix the variable.", option);
    }
}
