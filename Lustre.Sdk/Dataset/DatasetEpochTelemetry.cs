using System.Diagnostics;
using Lustre.Diagnostics;
using Lustre.IO;
using Microsoft.Extensions.Logging;

namespace Lustre.Dataset;

/// <summary>
/// The span (<c>lustre.dataset.epoch</c>), log events and epoch metrics of one <see cref="LustreDataset.ReadAsync"/>
/// enumeration: from its first sample to the end of the epoch, or to where the consumer stopped or a read failed. The
/// figures are differences of <see cref="LustreDataset.Statistics"/>, so they cost the hot loop nothing per sample; the
/// prefetch fill is sampled once per window.
/// </summary>
internal sealed class DatasetEpochTelemetry
{
    private readonly LustreDataset _dataset;
    private readonly ILogger _logger;
    private readonly Activity? _activity;
    private readonly int _epoch;
    private readonly long _planned;
    private readonly DatasetStatistics _before;
    private readonly long _started = Stopwatch.GetTimestamp();
    private double _fillSum;
    private int _windows;

    private DatasetEpochTelemetry(LustreDataset dataset, ILogger logger, int epoch, long position, long planned)
    {
        _dataset = dataset;
        _logger = logger;
        _epoch = epoch;
        _planned = planned;
        _before = dataset.Statistics;
        // Current from here on, so the producer's reads started next are the span's children.
        _activity = LustreDiagnostics.ActivitySource.StartActivity("lustre.dataset.epoch");
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.SetTag("lustre.path", dataset.Shards[0]);
            _activity.SetTag("lustre.dataset.epoch", epoch);
            _activity.SetTag("lustre.dataset.rank", dataset.Rank);
            _activity.SetTag("lustre.dataset.world_size", dataset.WorldSize);
            _activity.SetTag("lustre.dataset.position", position);
            _activity.SetTag("lustre.dataset.planned_samples", planned);
        }

        DatasetLog.EpochStarted(logger, epoch, dataset.Rank, planned, position);
    }

    public static DatasetEpochTelemetry Start(LustreDataset dataset, ILogger logger, int epoch, long position, long planned) =>
        new(dataset, logger, epoch, position, planned);

    /// <summary>The consumer takes a window: how full the prefetch budget is says whether reads keep ahead of it.</summary>
    public void WindowTaken(ByteBudget budget)
    {
        var fill = budget.Capacity == 0 ? 0 : (double)budget.InUse / budget.Capacity;
        _fillSum += fill;
        _windows++;
        DatasetMetrics.PrefetchFill.Record(fill);
    }

    /// <summary>
    /// Ends the epoch's span: <paramref name="completed"/> when every planned sample was handed out; otherwise
    /// <paramref name="failure"/> is what failed it, or null when the consumer stopped early.
    /// </summary>
    public void End(bool completed, Exception? failure)
    {
        var after = _dataset.Statistics;
        var samples = after.SamplesRead - _before.SamplesRead;
        var bytes = after.BytesRead - _before.BytesRead;
        var stall = after.StallTime - _before.StallTime;
        var fill = _windows == 0 ? 0 : _fillSum / _windows;
        var elapsed = Stopwatch.GetElapsedTime(_started);
        if (_activity is { IsAllDataRequested: true })
        {
            _activity.SetTag("lustre.dataset.samples", samples);
            _activity.SetTag("lustre.dataset.bytes", bytes);
            _activity.SetTag("lustre.dataset.stall", stall.TotalSeconds);
            _activity.SetTag("lustre.dataset.prefetch.fill", fill);
        }

        if (completed)
        {
            DatasetMetrics.Epochs.Add(1);
            DatasetMetrics.EpochDuration.Record(elapsed.TotalSeconds);
            DatasetLog.EpochCompleted(_logger, _epoch, _dataset.Rank, samples, bytes, elapsed.TotalMilliseconds, stall.TotalMilliseconds, fill);
        }
        else if (failure is null)
        {
            DatasetLog.EpochStopped(_logger, _epoch, _dataset.Rank, samples, _planned, "the consumer stopped", _dataset.RemainingInEpoch);
        }
        else if (failure is OperationCanceledException)
        {
            LustreDiagnostics.Fail(_activity, failure);
            DatasetLog.EpochStopped(_logger, _epoch, _dataset.Rank, samples, _planned, "cancelled", _dataset.RemainingInEpoch);
        }
        else
        {
            LustreDiagnostics.Fail(_activity, failure);
            DatasetLog.EpochFailed(_logger, failure, _epoch, _dataset.Rank, samples, _planned);
        }

        _activity?.Stop();
    }

    /// <summary>
    /// What made the enumeration end early, found where it came from, since an iterator that yields cannot catch: the
    /// window that failed or was cancelled, else the producer's failure that completed the channel, else the caller's cancellation.
    /// </summary>
    public static Exception? FailureOf(Task<DatasetSample[]>? pending, Task channelCompletion, CancellationToken cancellationToken)
    {
        if (pending is { IsFaulted: true })
        {
            return pending.Exception!.GetBaseException();
        }

        if (pending is { IsCanceled: true })
        {
            return new OperationCanceledException(cancellationToken);
        }

        if (channelCompletion.IsFaulted)
        {
            return channelCompletion.Exception!.GetBaseException();
        }

        return cancellationToken.IsCancellationRequested ? new OperationCanceledException(cancellationToken) : null;
    }
}
