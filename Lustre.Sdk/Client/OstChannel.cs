namespace Lustre.Client;

/// <summary>The way to one OST: the client of its server, and the bound on bulk RPCs in flight to it.</summary>
internal sealed class OstChannel(int index, IRpcCaller client, int maxInFlight) : IDisposable
{
    public int Index { get; } = index;

    public IRpcCaller Client { get; } = client;

    public SemaphoreSlim InFlight { get; } = new(maxInFlight, maxInFlight);

    public string Name { get; } = $"OST{index:X4}";

    public void Dispose() => InFlight.Dispose();
}
