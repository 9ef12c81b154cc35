using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Protocol;

namespace Lustre.Diagnostics;

/// <summary>
/// The SDK's metrics and traces: one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named
/// <c>Lustre.Sdk</c>. Instruments follow OpenTelemetry naming; tags name the target and the operation.
/// </summary>
public static class LustreDiagnostics
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Lustre.Sdk";

    private static readonly string[] OpcodeNames = BuildOpcodeNames();
    private static readonly string[] ActivityNames = [.. OpcodeNames.Select(n => "lustre." + n)];

    internal static Meter Meter { get; } = new(Name, "1.0");

    internal static ActivitySource ActivitySource { get; } = new(Name, "1.0");

    /// <summary>Duration of each RPC, from send to reply (retries included), in seconds.</summary>
    internal static Histogram<double> RpcDuration { get; } = Meter.CreateHistogram<double>("lustre.client.rpc.duration", "s", "Duration of RPCs, including retries");

    internal static UpDownCounter<long> RpcsInFlight { get; } = Meter.CreateUpDownCounter<long>("lustre.client.rpc.in_flight", "{rpc}", "RPCs sent and not yet answered");

    internal static Counter<long> Retries { get; } = Meter.CreateCounter<long>("lustre.client.rpc.retries", "{rpc}", "RPCs sent again after a transport failure or a checksum mismatch");

    internal static Counter<long> ChecksumErrors { get; } = Meter.CreateCounter<long>("lustre.client.checksum.errors", "{transfer}", "Bulk transfers that arrived corrupt and were discarded");

    internal static Counter<long> IoBytes { get; } = Meter.CreateCounter<long>("lustre.client.io.bytes", "By", "File data moved to or from OSTs");

    /// <summary>Reads of a mirrored file that one mirror failed and another served.</summary>
    internal static Counter<long> MirrorFailovers { get; } = Meter.CreateCounter<long>("lustre.client.mirror.failovers", "{read}", "Reads a mirror failed and another mirror served");

    /// <summary>Mirrors this client marked stale because a write or sync missed them.</summary>
    internal static Counter<long> MirrorsMarkedStale { get; } = Meter.CreateCounter<long>("lustre.client.mirror.stale", "{mirror}", "Mirrors marked stale after a write missed them");

    internal static string OperationName(Opcode opcode) => (int)opcode < OpcodeNames.Length ? OpcodeNames[(int)opcode] : "unknown";

    internal static string ActivityName(Opcode opcode) => (int)opcode < ActivityNames.Length ? ActivityNames[(int)opcode] : "lustre.unknown";

    /// <summary>Starts a span for a high-level operation (null when nobody listens).</summary>
    internal static Activity? StartOperation(string name, string path)
    {
        var activity = ActivitySource.StartActivity(name, ActivityKind.Client);
        activity?.SetTag("lustre.path", path);
        return activity;
    }

    /// <summary>
    /// Marks <paramref name="activity"/> failed: status <see cref="ActivityStatusCode.Error"/> with the message, and the
    /// exception as an event (OpenTelemetry's <c>exception</c> event). Returns false, so it can be an exception filter
    /// (<c>catch (Exception ex) when (LustreDiagnostics.Fail(activity, ex))</c>) that records without catching.
    /// </summary>
    internal static bool Fail(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.AddException(exception);
        }

        return false;
    }

    private static string[] BuildOpcodeNames()
    {
        var names = new string[64];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = Enum.IsDefined((Opcode)i) ? ((Opcode)i).ToString() : "unknown";
        }

        return names;
    }
}
