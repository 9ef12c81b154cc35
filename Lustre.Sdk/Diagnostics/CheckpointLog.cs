using Microsoft.Extensions.Logging;

namespace Lustre.Diagnostics;

/// <summary>Source-generated log events of checkpoint saves and loads (category <c>Lustre.Sdk.Checkpoints</c>); ids are stable.</summary>
internal static partial class CheckpointLog
{
    [LoggerMessage(EventId = 1100, Level = LogLevel.Debug, Message = "checkpoint step {Step} rank {Rank}: {Bytes} bytes staged in {BlockedMs:F1} ms; writing in the background")]
    public static partial void SaveStaged(ILogger logger, long step, int rank, long bytes, double blockedMs);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "checkpoint step {Step} rank {Rank}: {Bytes} bytes committed at {Path} in {CommitMs:F1} ms (the caller was blocked {BlockedMs:F1} ms)")]
    public static partial void SaveCommitted(ILogger logger, long step, int rank, long bytes, string path, double commitMs, double blockedMs);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "checkpoint step {Step} rank {Rank}: the save failed after {ElapsedMs:F1} ms; the checkpoint is not visible and the previous one is intact")]
    public static partial void SaveFailed(ILogger logger, Exception exception, long step, int rank, double elapsedMs);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "checkpoint step {Step} rank {Rank}: the save was cancelled after {ElapsedMs:F1} ms; the previous checkpoint is intact")]
    public static partial void SaveCancelled(ILogger logger, long step, int rank, double elapsedMs);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "checkpoint step {Step} loaded from {Root}: {Tensors} tensors, {Bytes} bytes in {ElapsedMs:F1} ms")]
    public static partial void Loaded(ILogger logger, long step, string root, int tensors, long bytes, double elapsedMs);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Error, Message = "checkpoint load of {Step} from {Root} failed after {ElapsedMs:F1} ms")]
    public static partial void LoadFailed(ILogger logger, Exception exception, string step, string root, double elapsedMs);
}
