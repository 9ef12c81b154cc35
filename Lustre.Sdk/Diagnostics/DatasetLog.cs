using Microsoft.Extensions.Logging;

namespace Lustre.Diagnostics;

/// <summary>Source-generated log events of dataset readers (category <c>Lustre.Sdk.Dataset</c>); ids are stable.</summary>
internal static partial class DatasetLog
{
    [LoggerMessage(EventId = 1200, Level = LogLevel.Debug, Message = "dataset opened: {Shards} shards, {Samples} samples, rank {Rank} of {WorldSize}")]
    public static partial void Opened(ILogger logger, int shards, long samples, int rank, int worldSize);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Debug, Message = "dataset epoch {Epoch} rank {Rank}: reading {Samples} samples from position {Position}")]
    public static partial void EpochStarted(ILogger logger, int epoch, int rank, long samples, long position);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "dataset epoch {Epoch} rank {Rank}: {Samples} samples, {Bytes} bytes in {ElapsedMs:F1} ms; the consumer waited {StallMs:F1} ms for data; the prefetch budget was {Fill:P0} full on average when a window was taken")]
    public static partial void EpochCompleted(ILogger logger, int epoch, int rank, long samples, long bytes, double elapsedMs, double stallMs, double fill);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "dataset epoch {Epoch} rank {Rank}: stopped after {Samples} of {Planned} samples ({Reason}); the next read goes on with the {Remaining} left")]
    public static partial void EpochStopped(ILogger logger, int epoch, int rank, long samples, long planned, string reason, long remaining);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Error, Message = "dataset epoch {Epoch} rank {Rank}: failed after {Samples} of {Planned} samples")]
    public static partial void EpochFailed(ILogger logger, Exception exception, int epoch, int rank, long samples, long planned);
}
