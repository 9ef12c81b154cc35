using Lustre.Protocol;
using Microsoft.Extensions.Logging;

namespace Lustre.Client;

/// <summary>Settings of a <see cref="LustreClient"/>. Every value has a default that suits one training node.</summary>
public sealed class LustreClientOptions
{
    /// <summary>Bulk RPCs in flight per OST (default 8, as Lustre's max_rpcs_in_flight). 1 to 256.</summary>
    public int MaxRpcsInFlightPerOst { get; set; } = 8;

    /// <summary>Largest bulk RPC in bytes (default 4 MiB, as Lustre). 64 KiB to 16 MiB, a multiple of 64 KiB.</summary>
    public int MaxBulkSize { get; set; } = 4 << 20;

    /// <summary>TCP connections per server (default 2). 1 to 64.</summary>
    public int ConnectionsPerServer { get; set; } = 2;

    /// <summary>How long a connect may take (default 10 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a request may wait for its reply before it fails with ETIMEDOUT (default 60 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How many times one request is sent in all (default 4), counting sends to a target's new address after it moved;
    /// resends keep their xid. Between attempts the client waits (100 ms doubling to 1 s, with jitter) and looks the
    /// target up again at the MGS.
    /// </summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>
    /// Bytes of sequential readahead a stream may hold (default 128 MiB: a 4 MiB stripe over 4 OSTs times 8 RPCs
    /// in flight, so readahead alone can keep every OST's RPC window full).
    /// </summary>
    public long ReadaheadBudget { get; set; } = 128L << 20;

    /// <summary>Bytes of written data a stream may have buffered or in flight before a write waits (default 128 MiB).</summary>
    public long DirtyBudget { get; set; } = 128L << 20;

    /// <summary>
    /// Checksum every bulk transfer (XXH3-64, verified by the receiver), as Lustre's <c>osc.*.checksums</c>. Null
    /// (the default): on for every server reached over a network, off for servers on this host's loopback, where the
    /// bytes never leave memory and the two hashes per byte would be the largest cost of a read. True or false: on
    /// or off for every server. Off saves CPU per byte on both sides, at the price of trusting TCP's own 16-bit
    /// checksum and the memory of both hosts. Agreed per connection at connect.
    /// </summary>
    public bool? BulkChecksums { get; set; }

    /// <summary>
    /// TLS 1.3 under the protocol: by default (<see cref="TransportSecurity.Auto"/>) for every server reached over a
    /// network and not for servers on this host's loopback. Servers require TLS from peers off their host unless
    /// started with <c>--allow-plain</c>. With a shared secret or key, the handshake's proofs bind the TLS channel,
    /// so a man in the middle is refused.
    /// </summary>
    public TransportSecurity Transport { get; set; } = TransportSecurity.Auto;

    /// <summary>
    /// Whether a server on this host that offers a local socket at connect is reached through it (default true): a
    /// Unix-domain socket instead of loopback TCP, as LNet reaches its own node through <c>0@lo</c>. The kernel moves
    /// bytes between two local sockets without TCP's segments and acknowledgements. The handshake, secret and TLS
    /// choices are those of loopback; false stays on TCP.
    /// </summary>
    public bool LocalSockets { get; set; } = true;

    /// <summary>
    /// The most names a stat prefetches (Lustre's <c>llite.*.statahead_max</c>; default 1,024, at most 1,024; 0 turns
    /// statahead off). When stats of one directory follow names that count up (<c>file.7</c>, <c>file.8</c>,
    /// <c>file.9</c>), the next names' attributes come in one batched request under a short lease from the MDS, and
    /// the stats that follow are answered from it: always what the MDS would answer, as no change applies on the MDT
    /// while the lease runs. Opens for reading of such names are batched the same way, with the bytes of the files that
    /// live on the MDT; this bounds both.
    /// </summary>
    public int StatAheadMax { get; set; } = ProtocolLimits.MaxBatchPaths;

    /// <summary>The cluster's shared secret, when its servers require one. Load it from a file or the environment, never a command line.</summary>
    public byte[]? SharedSecret { get; set; }

    /// <summary>
    /// The name of the key <see cref="SharedSecret"/> is, when the servers hold a key file of named keys with roles
    /// (client, server, admin) rather than one shared secret; null for the shared secret. 1-64 letters, digits, '.', '-', '_'.
    /// </summary>
    public string? KeyName { get; set; }

    /// <summary>
    /// The job this client works for: every MDT and OST counts its requests under this id (Lustre's job stats,
    /// <c>lctl get_param mdt.*.job_stats</c>). Null (the default): taken from the environment, see
    /// <see cref="JobIdVariable"/>. At most 31 UTF-8 bytes. Sent when a connection is made, so it holds for the client's life.
    /// </summary>
    public string? JobId { get; set; }

    /// <summary>
    /// Lustre's <c>jobid_var</c>, when <see cref="JobId"/> is not set: the environment variable that holds the job id
    /// (<c>SLURM_JOB_ID</c>), or <c>disable</c> (no job id), <c>procname_uid</c> (<c>%e.%u</c>), <c>nodelocal</c>
    /// (<see cref="JobIdName"/> is the job id). Null (the default): the first set of <c>LUSTRE_JOBID</c>,
    /// <c>SLURM_JOB_ID</c>, <c>JOB_ID</c>, <c>LSB_JOBID</c>, <c>LOADL_STEP_ID</c>, <c>PBS_JOBID</c>, <c>ALPS_APP_ID</c>.
    /// When the variable is not set, <see cref="JobIdName"/> is used, as in Lustre. At most 20 characters.
    /// </summary>
    public string? JobIdVariable { get; set; }

    /// <summary>
    /// Lustre's <c>jobid_name</c>: the job id when the variable is not set, with <c>%e</c> (executable), <c>%u</c> (uid),
    /// <c>%g</c> (gid), <c>%h</c> (host), <c>%H</c> (short host), <c>%p</c> (pid), <c>%j</c> (the variable's value)
    /// expanded. Default <c>%e.%u</c>, as Lustre. At most 31 characters.
    /// </summary>
    public string JobIdName { get; set; } = "%e.%u";

    /// <summary>Where the client logs; default: nowhere.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    internal void Validate()
    {
        Check(MaxRpcsInFlightPerOst, 1, 256, nameof(MaxRpcsInFlightPerOst));
        Check(MaxBulkSize, 64 << 10, 16 << 20, nameof(MaxBulkSize));
        if (MaxBulkSize % (64 << 10) != 0)
        {
            throw new ArgumentException($"{nameof(MaxBulkSize)} must be a multiple of 64 KiB; {MaxBulkSize} is not.", nameof(MaxBulkSize));
        }

        Check(ConnectionsPerServer, 1, 64, nameof(ConnectionsPerServer));
        Check(StatAheadMax, 0, ProtocolLimits.MaxBatchPaths, nameof(StatAheadMax));
        Check(MaxAttempts, 1, 100, nameof(MaxAttempts));
        CheckTime(ConnectTimeout, nameof(ConnectTimeout));
        CheckTime(RequestTimeout, nameof(RequestTimeout));
        ArgumentOutOfRangeException.ThrowIfNegative(ReadaheadBudget, nameof(ReadaheadBudget));
        ArgumentOutOfRangeException.ThrowIfNegative(DirtyBudget, nameof(DirtyBudget));
        if (KeyName is { } name && !SharedSecrets.IsValidKeyName(name))
        {
            throw new ArgumentException($"{nameof(KeyName)} '{name}' must be 1-{SharedSecrets.MaxKeyNameLength} letters, digits, '.', '-' or '_'.", nameof(KeyName));
        }

        if (KeyName is not null && SharedSecret is null)
        {
            throw new ArgumentException($"{nameof(KeyName)} names a key, so {nameof(SharedSecret)} must hold its secret.", nameof(KeyName));
        }

        if (SharedSecret is { } secret)
        {
            SharedSecrets.Validate(secret, nameof(SharedSecret));
        }

        if (JobId is { } jobId && (jobId.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(jobId) > JobIds.MaxLength))
        {
            throw new ArgumentException($"{nameof(JobId)} '{jobId}' must be 1-{JobIds.MaxLength} UTF-8 bytes (Lustre's job id size).", nameof(JobId));
        }

        if (JobIdVariable is { } variable && (variable.Length is 0 or > 20 || variable.Contains('=', StringComparison.Ordinal)))
        {
            throw new ArgumentException($"{nameof(JobIdVariable)} '{variable}' must be 1-20 characters, an environment variable name or disable, procname_uid, nodelocal.", nameof(JobIdVariable));
        }

        if (JobIdName is null || JobIdName.Length > JobIds.MaxLength)
        {
            throw new ArgumentException($"{nameof(JobIdName)} must be at most {JobIds.MaxLength} characters.", nameof(JobIdName));
        }
    }

    private static void Check(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        }
    }

    private static void CheckTime(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive and at most one hour.");
        }
    }
}
