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
}
