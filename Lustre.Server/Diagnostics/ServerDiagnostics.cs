using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Protocol;
using Lustre.Server.Rpc;
using Lustre.Server.Stats;

namespace Lustre.Server.Diagnostics;

/// <summary>
/// The servers' metrics and traces: one <see cref="Meter"/> and one <see cref="ActivitySource"/>, both named
/// <c>Lustre.Server</c> (docs/operations.md lists the instruments). A request's span is a child of the client's
/// when the request carries its trace context (docs/protocol.md §3.1).
/// </summary>
internal static class ServerDiagnostics
{
    /// <summary>The name of the meter and of the activity source.</summary>
    public const string Name = "Lustre.Server";

    public const string OpcodeTag = "lustre.operation";
    public const string TargetTag = "lustre.target";
    public const string ServerTag = "lustre.server";
    public const string DirectionTag = "lustre.direction";
    public const string JobTag = "lustre.job";

    private static readonly string[] SpanNames = BuildSpanNames();
    private static readonly Lock RegistryLock = new();
    private static readonly List<TargetQueue> LiveQueues = [];
    private static readonly List<(string Server, Func<long> Count)> LiveDestroyQueues = [];
    private static readonly List<(string Server, Func<long> Count)> LiveStaleMirrorFiles = [];
    private static readonly List<(string Target, TargetStats Stats)> LiveTargets = [];

    internal static Meter Meter { get; } = new(Name, "1.0");

    internal static ActivitySource ActivitySource { get; } = new(Name, "1.0");

    internal static Counter<long> Requests { get; } = Meter.CreateCounter<long>("lustre.server.requests", "{request}", "Requests answered, by opcode and target");

    internal static Histogram<double> RequestDuration { get; } = Meter.CreateHistogram<double>("lustre.server.request.duration", "s", "Time from admission to the reply sent, queue wait included, by opcode");

    internal static Counter<long> IoBytes { get; } = Meter.CreateCounter<long>("lustre.server.io.bytes", "By", "Object data read from or written to an OST");

    internal static Histogram<int> CommitSize { get; } = Meter.CreateHistogram<int>("lustre.server.mds.commit.size", "{change}", "Metadata changes made durable by one WAL sync (group commit)");

    static ServerDiagnostics()
    {
        Meter.CreateObservableGauge("lustre.server.queue.depth", ObserveQueues, "{request}", "Requests waiting in a target's queue for a worker");
        Meter.CreateObservableGauge("lustre.server.mds.destroy_queue.length", () => ObserveCounts(LiveDestroyQueues), "{object}", "OST objects of unlinked files not destroyed yet");
        Meter.CreateObservableGauge("lustre.server.mds.mirrors.stale_files", () => ObserveCounts(LiveStaleMirrorFiles), "{file}", "Mirrored files with a stale mirror: data with fewer copies than asked for until a resync");
        Meter.CreateObservableCounter("lustre.server.job.operations", () => ObserveJobs(bytes: false), "{request}", "Operations of each job on each target, as its job_stats counts them (samples)");
        Meter.CreateObservableCounter("lustre.server.job.bytes", () => ObserveJobs(bytes: true), "By", "Bytes each job read from or wrote to each OST, as its job_stats counts them");
        Meter.CreateObservableGauge("lustre.server.jobs", ObserveJobCounts, "{job}", "Jobs each target's job_stats holds (at most 1024)");
    }

    /// <summary>Reports a target's job statistics (<c>*.job_stats</c>) under its name (<c>OST0003</c>) until the returned handle is disposed.</summary>
    public static IDisposable RegisterTargetStats(string target, TargetStats stats)
    {
        var entry = (target, stats);
        lock (RegistryLock)
        {
            LiveTargets.Add(entry);
        }

        return new Registration(() =>
        {
            lock (RegistryLock)
            {
                LiveTargets.Remove(entry);
            }
        });
    }

    /// <summary>Starts the span of one request (null when nobody listens), the child of the client's span if it sent one.</summary>
    public static Activity? StartRequest(RpcRequest request, string target)
    {
        if (!ActivitySource.HasListeners())
        {
            return null;
        }

        var opcode = (ushort)request.Opcode;
        var activity = ActivitySource.StartActivity(opcode < SpanNames.Length ? SpanNames[opcode] : "lustre.server.unknown", ActivityKind.Server, request.TraceParent);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(OpcodeTag, OperationName(request.Opcode));
            activity.SetTag(TargetTag, target);
            activity.SetTag("lustre.client", request.ClientUuid);
        }

        return activity;
    }

    public static string OperationName(Opcode opcode) => Lustre.Diagnostics.LustreDiagnostics.OperationName(opcode);

    public static void Register(TargetQueue queue)
    {
        lock (RegistryLock)
        {
            LiveQueues.Add(queue);
        }
    }

    public static void Unregister(TargetQueue queue)
    {
        lock (RegistryLock)
        {
            LiveQueues.Remove(queue);
        }
    }

    /// <summary>Reports <paramref name="count"/> as the destroy-queue length of <paramref name="server"/> until the returned handle is disposed.</summary>
    public static IDisposable RegisterDestroyQueue(string server, Func<long> count) => RegisterCount(LiveDestroyQueues, server, count);

    /// <summary>Reports <paramref name="count"/> as the files with a stale mirror on <paramref name="server"/> until the returned handle is disposed.</summary>
    public static IDisposable RegisterStaleMirrorFiles(string server, Func<long> count) => RegisterCount(LiveStaleMirrorFiles, server, count);

    private static IDisposable RegisterCount(List<(string Server, Func<long> Count)> registry, string server, Func<long> count)
    {
        var entry = (server, count);
        lock (RegistryLock)
        {
            registry.Add(entry);
        }

        return new Registration(() =>
        {
            lock (RegistryLock)
            {
                registry.Remove(entry);
            }
        });
    }

    private static List<Measurement<int>> ObserveQueues()
    {
        lock (RegistryLock)
        {
            var measurements = new List<Measurement<int>>(LiveQueues.Count);
            foreach (var queue in LiveQueues)
            {
                measurements.Add(new Measurement<int>(queue.Depth, new KeyValuePair<string, object?>(ServerTag, queue.Server), new KeyValuePair<string, object?>(TargetTag, queue.Name)));
            }

            return measurements;
        }
    }

    private static List<Measurement<long>> ObserveCounts(List<(string Server, Func<long> Count)> registry)
    {
        (string Server, Func<long> Count)[] live;
        lock (RegistryLock)
        {
            live = [.. registry];
        }

        var measurements = new List<Measurement<long>>(live.Length);
        foreach (var (server, count) in live)
        {
            measurements.Add(new Measurement<long>(count(), new KeyValuePair<string, object?>(ServerTag, server)));
        }

        return measurements;
    }

    /// <summary>
    /// Every job's counters with samples on every target: operations (samples of the time counters, tag
    /// <c>lustre.operation</c> the job_stats name) or bytes (the <c>read_bytes</c>/<c>write_bytes</c> sums, tag
    /// <c>lustre.direction</c>). Bounded as the job tables are: at most 1024 jobs a target.
    /// </summary>
    private static List<Measurement<long>> ObserveJobs(bool bytes)
    {
        (string Target, TargetStats Stats)[] live;
        lock (RegistryLock)
        {
            live = [.. LiveTargets];
        }

        var measurements = new List<Measurement<long>>();
        foreach (var (name, stats) in live)
        {
            foreach (var (job, counters) in stats.Jobs.Jobs())
            {
                for (var i = 0; i < counters.Definitions.Count; i++)
                {
                    var definition = counters.Definitions[i];
                    var isBytes = definition.Unit == "bytes";
                    if (isBytes != bytes || counters.Samples(i) == 0)
                    {
                        continue;
                    }

                    var detail = isBytes
                        ? new KeyValuePair<string, object?>(DirectionTag, definition.Name == "read_bytes" ? "read" : "write")
                        : new KeyValuePair<string, object?>(OpcodeTag, definition.Name);
                    measurements.Add(new Measurement<long>(isBytes ? counters.Total(i) : counters.Samples(i), new KeyValuePair<string, object?>(TargetTag, name), new KeyValuePair<string, object?>(JobTag, job), detail));
                }
            }
        }

        return measurements;
    }

    private static List<Measurement<int>> ObserveJobCounts()
    {
        lock (RegistryLock)
        {
            var measurements = new List<Measurement<int>>(LiveTargets.Count);
            foreach (var (target, stats) in LiveTargets)
            {
                measurements.Add(new Measurement<int>(stats.Jobs.Count, new KeyValuePair<string, object?>(TargetTag, target)));
            }

            return measurements;
        }
    }

    private static string[] BuildSpanNames()
    {
        var names = new string[64];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = "lustre.server." + OperationName((Opcode)i);
        }

        return names;
    }

    private sealed class Registration(Action dispose) : IDisposable
    {
        private Action? _dispose = dispose;

        public void Dispose() => Interlocked.Exchange(ref _dispose, null)?.Invoke();
    }
}
