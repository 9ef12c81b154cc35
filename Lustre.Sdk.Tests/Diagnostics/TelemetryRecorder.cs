using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Diagnostics;

namespace Lustre.Tests.Diagnostics;

/// <summary>
/// Records the spans the <c>Lustre.Sdk</c> activity source stops and the measurements of its meter while alive. Both are
/// process-wide, so tests running beside this one add theirs: pick yours by a tag (a path) or assert at least yours.
/// </summary>
internal sealed class TelemetryRecorder : IDisposable
{
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters = new();
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ConcurrentQueue<(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)> _measurements = new();

    public TelemetryRecorder()
    {
        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LustreDiagnostics.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_activities);
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == LustreDiagnostics.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<long>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _meters.SetMeasurementEventCallback<double>((instrument, value, tags, _) => _measurements.Enqueue((instrument.Name, value, tags.ToArray())));
        _meters.Start();
    }

    /// <summary>Stopped spans named <paramref name="name"/> whose <c>lustre.path</c> starts with <paramref name="pathPrefix"/>.</summary>
    public List<Activity> Spans(string name, string pathPrefix) =>
        [.. _spans.Where(a => a.OperationName == name && a.GetTagItem("lustre.path") is string path && path.StartsWith(pathPrefix, StringComparison.Ordinal))];

    /// <summary>Every stopped span whose <c>lustre.path</c> starts with <paramref name="pathPrefix"/>.</summary>
    public List<Activity> Spans(string pathPrefix) =>
        [.. _spans.Where(a => a.GetTagItem("lustre.path") is string path && path.StartsWith(pathPrefix, StringComparison.Ordinal))];

    /// <summary>The values recorded by <paramref name="instrument"/>, optionally only those with tag <paramref name="tag"/> = <paramref name="tagValue"/>.</summary>
    public List<double> Values(string instrument, string? tag = null, string? tagValue = null) =>
        [.. _measurements.Where(m => m.Instrument == instrument && (tag is null || m.Tags.Any(t => t.Key == tag && (t.Value as string) == tagValue))).Select(m => m.Value)];

    /// <summary>
    /// How many RPCs of <paramref name="operation"/> (an opcode's name) this process sent to <paramref name="target"/>
    /// (<c>host:port</c>) while recording: other tests' clusters listen on other ports.
    /// </summary>
    public int Rpcs(string target, string operation) =>
        _measurements.Count(m => m.Instrument == "lustre.client.rpc.duration"
            && m.Tags.Any(t => t.Key == "lustre.operation" && (t.Value as string) == operation)
            && m.Tags.Any(t => t.Key == "lustre.target" && (t.Value as string) == target));

    /// <summary>Asserts that <paramref name="span"/> recorded <paramref name="error"/> as its one OpenTelemetry <c>exception</c> event.</summary>
    public static void AssertException(Activity span, Exception error)
    {
        var exception = Assert.Single(span.Events, e => e.Name == "exception");
        var tags = exception.Tags.ToDictionary(t => t.Key, t => t.Value);
        Assert.Equal(error.GetType().FullName, tags["exception.type"]);
        Assert.Equal(error.Message, tags["exception.message"]);
    }

    public void Dispose()
    {
        _activities.Dispose();
        _meters.Dispose();
    }
}
