namespace Lustre.Protocol;

/// <summary>Hard limits every peer enforces on what it reads from the wire.</summary>
internal static class ProtocolLimits
{
    /// <summary>Largest message body: enough for a directory page or a wide layout, far below memory trouble.</summary>
    public const int MaxBodyLength = 1 << 20;

    /// <summary>Largest bulk payload of one RPC (Lustre's default is 4 MiB; 16 MiB leaves room to measure).</summary>
    public const int MaxBulkLength = 16 << 20;

    /// <summary>Longest name of one path component in UTF-8 bytes, as Linux's NAME_MAX.</summary>
    public const int MaxNameLength = 255;

    /// <summary>Longest path in UTF-8 bytes, as Linux's PATH_MAX.</summary>
    public const int MaxPathLength = 4096;

    /// <summary>Most entries one readdir or readdir-plus page returns.</summary>
    public const int MaxDirectoryPageEntries = 1024;

    /// <summary>
    /// Most body bytes a readdir-plus page or a batched getattr reply fills; its first entry goes in whatever its size (a
    /// layout takes at most 512 KiB), so a reply stays under <see cref="MaxBodyLength"/>.
    /// </summary>
    public const int MaxMetadataPageBytes = 256 * 1024;

    /// <summary>Most paths one batched getattr asks for.</summary>
    public const int MaxBatchPaths = 1024;

    /// <summary>Most requests a server runs at once for one connection; more wait in the socket.</summary>
    public const int MaxRequestsInFlightPerConnection = 64;

    /// <summary>Largest file offset (2^63 - 1 bytes is Linux's; Lustre caps files lower).</summary>
    public const long MaxFileSize = 1L << 50;
}
