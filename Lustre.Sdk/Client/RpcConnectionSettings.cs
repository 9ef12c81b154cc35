using Microsoft.Extensions.Logging;

namespace Lustre.Client;

/// <summary>What a connection needs to know about its client.</summary>
internal sealed record RpcConnectionSettings(
    string ClientUuid,
    XidGenerator Xids,
    TimeSpan ConnectTimeout,
    TimeSpan RequestTimeout,
    byte[]? Secret,
    ILogger Logger,
    bool? BulkChecksums = true,
    string KeyName = "",
    TransportSecurity Transport = TransportSecurity.Auto,
    string JobId = "",
    bool LocalSockets = true);
