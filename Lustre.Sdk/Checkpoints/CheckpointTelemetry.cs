using System.Diagnostics;
using System.Diagnostics.Metrics;
using Lustre.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Lustre.Checkpoints;

/// <summary>
/// Spans, instruments and log events of checkpoint saves and loads, on the SDK's <c>Lustre.Sdk</c> meter and activity
/// source. A save's span (<c>lustre.checkpoint.save</c>) runs from <see cref="CheckpointManager.SaveAsync"/> to the commit,
/// with events when it is staged and durable; its file writes are its children.
/// </summary>
internal static class CheckpointTelemetry
{
    private const string DirectionTag = "lustre.direction";
    private const string OperationTag = "lustre.operation";

    /// <summary>Tensor bytes of committed saves and of loads.</summary>
    public static Counter<long> Bytes { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.checkpoint.bytes", "By", "Tensor bytes of checkpoints committed (direction save) or loaded (direction load)");

    /// <summary>How long SaveAsync kept the training loop waiting: planning and copying the tensors into staging memory.</summary>
    public static Histogram<double> Blocked { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.checkpoint.save.blocked.duration", "s", "Time SaveAsync blocked its caller (staging copies)");

    /// <summary>From SaveAsync to the commit of the checkpoint (every byte durable, the manifest renamed into place).</summary>
    public static Histogram<double> TimeToCommit { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.checkpoint.save.commit.duration", "s", "Time from SaveAsync to the checkpoint's commit");

    public static Histogram<double> LoadDuration { get; } = LustreDiagnostics.Meter.CreateHistogram<double>("lustre.checkpoint.load.duration", "s", "Duration of checkpoint loads, verification included");

    /// <summary>Saves and loads that failed or were cancelled, tagged with the operation.</summary>
    public static Counter<long> Failures { get; } = LustreDiagnostics.Meter.CreateCounter<long>("lustre.checkpoint.failures", "{operation}", "Checkpoint saves and loads that failed or were cancelled");

    public static Activity? StartSave(string root, CheckpointSaveOperation operation)
    {
        var activity = LustreDiagnostics.ActivitySource.StartActivity("lustre.checkpoint.save");
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag("lustre.path", root);
            activity.SetTag("lustre.checkpoint.step", operation.Step);
            activity.SetTag("lustre.checkpoint.rank", operation.Rank);
            activity.SetTag("lustre.checkpoint.bytes", operation.Bytes);
        }

        return activity;
    }

    public static void Staged(Activity? activity, ILogger logger, CheckpointSaveOperation operation)
    {
        activity?.AddEvent(new ActivityEvent("staged"));
        Blocked.Record(operation.StagingTime.TotalSeconds);
        CheckpointLog.SaveStaged(logger, operation.Step, operation.Rank, operation.Bytes, operation.StagingTime.TotalMilliseconds);
    }

    public static void Durable(Activity? activity) => activity?.AddEvent(new ActivityEvent("durable"));

    public static void Committed(Activity? activity, ILogger logger, CheckpointSaveOperation operation, string path)
    {
        var elapsed = Stopwatch.GetElapsedTime(operation.StartTimestamp);
        TimeToCommit.Record(elapsed.TotalSeconds);
        Bytes.Add(operation.Bytes, new KeyValuePair<string, object?>(DirectionTag, "save"));
        CheckpointLog.SaveCommitted(logger, operation.Step, operation.Rank, operation.Bytes, path, elapsed.TotalMilliseconds, operation.StagingTime.TotalMilliseconds);
        activity?.Stop();
    }

    public static void SaveFailed(Activity? activity, ILogger logger, CheckpointSaveOperation operation, Exception exception)
    {
        var elapsed = Stopwatch.GetElapsedTime(operation.StartTimestamp).TotalMilliseconds;
        Failures.Add(1, new KeyValuePair<string, object?>(OperationTag, "save"));
        LustreDiagnostics.Fail(activity, exception);
        if (exception is OperationCanceledException)
        {
            CheckpointLog.SaveCancelled(logger, operation.Step, operation.Rank, elapsed);
        }
        else
        {
            CheckpointLog.SaveFailed(logger, exception, operation.Step, operation.Rank, elapsed);
        }

        activity?.Stop();
    }

    /// <summary>Runs one load inside its span (<c>lustre.checkpoint.load</c>), then records its duration and bytes, or its failure.</summary>
    public static async Task<Checkpoint> ObserveLoadAsync(string root, long? step, ILogger logger, Func<Task<Checkpoint>> load)
    {
        using var activity = LustreDiagnostics.ActivitySource.StartActivity("lustre.checkpoint.load");
        activity?.SetTag("lustre.path", root);

        var started = Stopwatch.GetTimestamp();
        try
        {
            var checkpoint = await load().ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started);
            activity?.SetTag("lustre.checkpoint.step", checkpoint.Step);
            activity?.SetTag("lustre.checkpoint.bytes", checkpoint.Bytes);
            LoadDuration.Record(elapsed.TotalSeconds);
            Bytes.Add(checkpoint.Bytes, new KeyValuePair<string, object?>(DirectionTag, "load"));
            CheckpointLog.Loaded(logger, checkpoint.Step, root, checkpoint.Tensors.Count, checkpoint.Bytes, elapsed.TotalMilliseconds);
            return checkpoint;
        }
        catch (Exception ex)
        {
            LustreDiagnostics.Fail(activity, ex);
            Failures.Add(1, new KeyValuePair<string, object?>(OperationTag, "load"));
            CheckpointLog.LoadFailed(logger, ex, step?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "the newest step", root, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            throw;
        }
    }
}
