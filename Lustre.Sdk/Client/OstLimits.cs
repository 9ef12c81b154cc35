namespace Lustre.Client;

/// <summary>
/// What the client allows itself towards one OST, whatever channel reaches it now (Lustre's per-OSC tunables): bulk RPCs
/// in flight (<c>max_rpcs_in_flight</c>, with a wider allowance for small I/O), the largest bulk one RPC carries
/// (<c>max_pages_per_rpc</c>) and whether its bulk is checksummed (<c>checksums</c>). Kept by the <see cref="TargetTable"/>
/// per OST index, so a channel replaced after the OST moved keeps the settings, and changed at run time by
/// <c>set_param</c> (<see cref="ClientParameters"/>).
/// </summary>
internal sealed class OstLimits
{
    /// <summary>Small I/O gets this many times the bulk allowance: many 4 KiB readers should not queue behind the bulk window.</summary>
    public const int SmallIoFactor = 4;

    private int _maxBulkSize;
    private int _checksums = -1;

    public OstLimits(int maxRpcsInFlight, int maxBulkSize)
    {
        Bulk = new RpcAllowance(maxRpcsInFlight);
        Small = new RpcAllowance(maxRpcsInFlight * SmallIoFactor);
        _maxBulkSize = maxBulkSize;
    }

    /// <summary>Bulk RPCs over <see cref="TargetChannel.SmallIoLimit"/> in flight.</summary>
    public RpcAllowance Bulk { get; }

    /// <summary>Small bulk RPCs in flight.</summary>
    public RpcAllowance Small { get; }

    public int MaxRpcsInFlight => Bulk.Limit;

    /// <summary>The client's largest bulk to this OST (the server's advertised limit caps it further).</summary>
    public int MaxBulkSize => Volatile.Read(ref _maxBulkSize);

    public void SetMaxRpcsInFlight(int value)
    {
        Bulk.SetLimit(value);
        Small.SetLimit(value * SmallIoFactor);
    }

    public void SetMaxBulkSize(int value) => Volatile.Write(ref _maxBulkSize, value);

    /// <summary>
    /// Whether bulk RPCs to this OST carry checksums, once <c>set_param osc.*.checksums</c> said so; null: the client's
    /// default for the OST's server (<see cref="ServerConnections.ChecksumsByDefault"/>). Decided per RPC.
    /// </summary>
    public bool? Checksums
    {
        get => Volatile.Read(ref _checksums) switch { 0 => false, 1 => true, _ => null };
        set => Volatile.Write(ref _checksums, value switch { false => 0, true => 1, null => -1 });
    }
}
