namespace Lustre.Server.Stats;

/// <summary>
/// One counter of a <see cref="CounterSet"/>, as Lustre's <c>lprocfs_counter_init</c> declares it: its name, its unit,
/// and whether it keeps min/max/sum and sum of squares (every counter here does) and a log2 histogram of the values.
/// </summary>
internal readonly record struct CounterDefinition(string Name, string Unit, bool Histogram = false)
{
    /// <summary>A request counter timed in microseconds (Lustre's LPROCFS_TYPE_LATENCY).</summary>
    public static CounterDefinition Latency(string name) => new(name, "usecs");

    /// <summary>A byte counter with a histogram (Lustre's LPROCFS_TYPE_BYTES_FULL_HISTOGRAM).</summary>
    public static CounterDefinition Bytes(string name) => new(name, "bytes", Histogram: true);
}
