namespace Lustre.Dataset;

/// <summary>What to do when an epoch's samples do not divide evenly between the ranks.</summary>
public enum DatasetRemainder
{
    /// <summary>Skip the last samples of the epoch order so every rank gets the same count (at most world size − 1 are skipped).</summary>
    Drop,

    /// <summary>Repeat samples from the start of the epoch order so every rank gets the same count (at most world size − 1 are repeated).</summary>
    Pad,
}
