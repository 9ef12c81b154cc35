namespace Lustre.Client;

/// <summary>The way to one OST: the client of its server, and the bound on bulk RPCs in flight to it.</summary>
internal sealed class OstChannel(int index, IRpcCaller client, int maxInFlight) : IDisposable
{
    public int Index { get; } = index;

    public IRpcCaller Client { get; } = client;

    /// <summary>Largest piece that counts as small I/O.</summary>
    public const int SmallIoLimit = 64 * 1024;

    /// <summary>Bounds bulk RPCs in flight (Lustre's max_rpcs_in_flight).</summary>
    public SemaphoreSlim InFlight { get; } = new(maxInFlight, maxInFlight);

    /// <summary>
    /// Small I/O (at most <see cref="SmallIoLimit"/> bytes) has its own, wider allowance: many concurrent 4 KiB
    /// readers should not queue behind the bulk window, and their RPCs cost the server little memory.
    /// </summary>
    public SemaphoreSlim SmallInFlight { get; } = new(maxInFlight * 4, maxInFlight * 4);

    public SemaphoreSlim AllowanceFor(long length) => length <= SmallIoLimit ? SmallInFlight : InFlight;

    public string Name { get; } = $"OST{index:X4}";

    public void Dispose()
    {
        InFlight.Dispose();
        SmallInFlight.Dispose();
    }
}
