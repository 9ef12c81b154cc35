using System.Diagnostics.Metrics;
using Lustre.Diagnostics;

namespace Lustre.Dataset;

/// <summary>The dataset reader's instruments on the SDK's <c>Lustre.Sdk</c> meter.</summary>
internal static class DatasetMetrics
{
    public static Counter<long> Samples { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.dataset.samples", "{sample}", "Samples handed to the consumer");

    public static Counter<long> Bytes { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.dataset.bytes", "By", "Sample bytes handed to the consumer");

    public static Counter<long> Reads { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.dataset.reads", "{read}", "Coalesced read requests issued by the prefetcher");

    public static UpDownCounter<long> PrefetchBytes { get; } = LustreDiagnostics.Meter.CreateUpDownCounter<long>("lustre.dataset.prefetch.bytes", "By", "Bytes held in prefetch buffers (prefetched or handed out and not yet disposed)");

    public static Counter<long> Epochs { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.dataset.epochs", "{epoch}", "Epochs a rank read to the end");

    public static Histogram<double> EpochDuration { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.dataset.epoch.duration", "s", "Time from a rank's first sample of an epoch to its last");

    public static Histogram<double> PrefetchFill { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.dataset.prefetch.fill", "1", "Fraction of the prefetch budget in use when the consumer takes a window: near 1 the reads keep ahead, near 0 the consumer waits for them");

    public static Histogram<double> Stall { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.dataset.stall.duration", "s", "Time the consumer waited for a sample that was not prefetched yet");
}
