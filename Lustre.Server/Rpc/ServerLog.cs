using Microsoft.Extensions.Logging;

namespace Lustre.Server.Rpc;

/// <summary>Source-generated log events of the RPC layer; ids are stable.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "{Name} listening on {Endpoint} (auth required: {AuthRequired})")]
    public static partial void Listening(ILogger logger, string name, string endpoint, bool authRequired);

    [LoggerMessage(EventId = 111, Level = LogLevel.Warning, Message = "{Name}: no local socket ({Reason}); clients on this host use loopback TCP")]
    public static partial void NoLocalSocket(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning, Message = "{Name}: refused connection from {Peer}: {Max} connections already open")]
    public static partial void TooManyConnections(ILogger logger, string name, string peer, int max);

    [LoggerMessage(EventId = 107, Level = LogLevel.Warning, Message = "{Name}: refused connection from {Peer}: {Max} connections are in the handshake already, or {MaxPerAddress} from its address")]
    public static partial void TooManyHandshakes(ILogger logger, string name, string peer, int max, int maxPerAddress);

    [LoggerMessage(EventId = 110, Level = LogLevel.Warning, Message = "{Name}: refused {Opcode} from key {Key} at {Peer}: its role does not allow it")]
    public static partial void RoleRefused(ILogger logger, string name, string opcode, string key, string peer);

    [LoggerMessage(EventId = 109, Level = LogLevel.Warning, Message = "{Name}: closed connection from {Peer}: its replies could not be sent for {Seconds} s (the peer does not read them)")]
    public static partial void ClosedStalled(ILogger logger, string name, string peer, double seconds);

    [LoggerMessage(EventId = 108, Level = LogLevel.Information, Message = "{Name}: closed connection from {Peer}: no request for {Seconds} s")]
    public static partial void ClosedIdle(ILogger logger, string name, string peer, double seconds);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "{Name}: refused connection from {Peer}: its address already holds {Max} connections")]
    public static partial void TooManyConnectionsFromAddress(ILogger logger, string name, string peer, int max);

    [LoggerMessage(EventId = 102, Level = LogLevel.Warning, Message = "{Name}: closed connection from {Peer}: {Reason}")]
    public static partial void BadPeer(ILogger logger, string name, string peer, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "{Name}: authentication failed for client {Client} from {Peer}")]
    public static partial void AuthFailed(ILogger logger, string name, string client, string peer);

    [LoggerMessage(EventId = 104, Level = LogLevel.Error, Message = "{Name}: {Opcode} failed unexpectedly")]
    public static partial void HandlerFailed(ILogger logger, string name, string opcode, Exception exception);

    [LoggerMessage(EventId = 105, Level = LogLevel.Debug, Message = "{Name}: {Opcode} from {Client} answered {Errno}: {Message}")]
    public static partial void ErrorReply(ILogger logger, string name, string opcode, string client, string errno, string message);
}
