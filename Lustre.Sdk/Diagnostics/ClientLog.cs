using Microsoft.Extensions.Logging;

namespace Lustre.Diagnostics;

/// <summary>Source-generated log events of the client; ids are stable.</summary>
internal static partial class ClientLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Warning, Message = "{Target}: {Operation} attempt {Attempt} failed, retrying: {Reason}")]
    public static partial void Retrying(ILogger logger, string target, string operation, int attempt, string reason);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "{Target}: checksum mismatch on {Operation}; the data was discarded")]
    public static partial void ChecksumMismatch(ILogger logger, string target, string operation);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "connected to {FsName}: {Targets} targets, configuration generation {Generation}")]
    public static partial void Configured(ILogger logger, string fsName, int targets, ulong generation);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Debug, Message = "the MDS did not acknowledge this client's disconnect ({Reason}); it drops the client's reply records once they age out")]
    public static partial void DisconnectFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Warning, Message = "{Path}: mirror {Mirror} failed a read, reading mirror {Next} instead: {Reason}")]
    public static partial void MirrorFailover(ILogger logger, string path, int mirror, int next, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "{Path}: mirror {Mirror} missed a {Operation} and is now stale (layout generation {Generation}); the file stays available from its other mirrors until a resync: {Reason}")]
    public static partial void MirrorStale(ILogger logger, string path, int mirror, string operation, uint generation, string reason);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Debug, Message = "{Path}: being migrated (lfs migrate); the open for writing tries again in {DelayMs} ms")]
    public static partial void OpenWaitsForMigration(ILogger logger, string path, double delayMs);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "{Target} does not serve batched reads (an older server); this client reads it one range per request")]
    public static partial void ReadBatchesUnsupported(ILogger logger, string target);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Warning, Message = "{Target}: its local socket refused this client ({Reason}); staying on loopback TCP")]
    public static partial void LocalSocketRefused(ILogger logger, string target, string reason);
}
