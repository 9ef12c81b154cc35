namespace Lustre.Server.Stats;

/// <summary>
/// What one target counts, as a Lustre target does: its operations (<c>obdfilter.*.stats</c> of an OST, <c>mdt.*.md_stats</c>
/// of the MDT), the same per job (<c>*.job_stats</c>) and, on an OST, its bulk I/O histograms (<c>brw_stats</c>).
/// The counters and their order are Lustre's (ofd_stats_counter_init, mdt_stats), so the output reads the same.
/// </summary>
internal sealed class TargetStats
{
    // obdfilter.*.stats and an OST's job_stats (lustre/ofd/lproc_ofd.c).
    public const int OstReadBytes = 0;
    public const int OstWriteBytes = 1;
    public const int OstRead = 2;
    public const int OstWrite = 3;
    public const int OstGetattr = 4;
    public const int OstSetattr = 5;
    public const int OstPunch = 6;
    public const int OstSync = 7;
    public const int OstDestroy = 8;
    public const int OstCreate = 9;
    public const int OstStatfs = 10;

    // mdt.*.md_stats and the MDT's job_stats (lustre/mdt/mdt_lproc.c).
    public const int MdtOpen = 0;
    public const int MdtClose = 1;
    public const int MdtMknod = 2;
    public const int MdtLink = 3;
    public const int MdtUnlink = 4;
    public const int MdtMkdir = 5;
    public const int MdtRmdir = 6;
    public const int MdtRename = 7;
    public const int MdtGetattr = 8;
    public const int MdtSetattr = 9;
    public const int MdtGetxattr = 10;
    public const int MdtSetxattr = 11;
    public const int MdtStatfs = 12;
    public const int MdtSync = 13;
    public const int MdtSamedirRename = 14;
    public const int MdtParallelRenameFile = 15;
    public const int MdtParallelRenameDir = 16;
    public const int MdtCrossdirRename = 17;
    public const int MdtRenameTrylocks = 18;
    public const int MdtReadBytes = 19;
    public const int MdtWriteBytes = 20;
    public const int MdtRead = 21;
    public const int MdtWrite = 22;
    public const int MdtPunch = 23;
    public const int MdtMigrate = 24;
    public const int MdtFallocate = 25;
    public const int MdtReadpage = 26;

    public static readonly CounterDefinition[] OstCounters =
    [
        CounterDefinition.Bytes("read_bytes"), CounterDefinition.Bytes("write_bytes"),
        CounterDefinition.Latency("read"), CounterDefinition.Latency("write"), CounterDefinition.Latency("getattr"),
        CounterDefinition.Latency("setattr"), CounterDefinition.Latency("punch"), CounterDefinition.Latency("sync"),
        CounterDefinition.Latency("destroy"), CounterDefinition.Latency("create"), CounterDefinition.Latency("statfs"),
        CounterDefinition.Latency("get_info"), CounterDefinition.Latency("set_info"), CounterDefinition.Latency("quotactl"),
        CounterDefinition.Latency("prealloc"),
    ];

    public static readonly CounterDefinition[] MdtCounters =
    [
        CounterDefinition.Latency("open"), CounterDefinition.Latency("close"), CounterDefinition.Latency("mknod"),
        CounterDefinition.Latency("link"), CounterDefinition.Latency("unlink"), CounterDefinition.Latency("mkdir"),
        CounterDefinition.Latency("rmdir"), CounterDefinition.Latency("rename"), CounterDefinition.Latency("getattr"),
        CounterDefinition.Latency("setattr"), CounterDefinition.Latency("getxattr"), CounterDefinition.Latency("setxattr"),
        CounterDefinition.Latency("statfs"), CounterDefinition.Latency("sync"), CounterDefinition.Latency("samedir_rename"),
        CounterDefinition.Latency("parallel_rename_file"), CounterDefinition.Latency("parallel_rename_dir"),
        CounterDefinition.Latency("crossdir_rename"), CounterDefinition.Latency("rename_trylocks"),
        CounterDefinition.Bytes("read_bytes"), CounterDefinition.Bytes("write_bytes"), CounterDefinition.Latency("read"),
        CounterDefinition.Latency("write"), CounterDefinition.Latency("punch"), CounterDefinition.Latency("migrate"),
        CounterDefinition.Latency("fallocate"), CounterDefinition.Latency("readpage"),
    ];

    private TargetStats(CounterDefinition[] counters, bool brw)
    {
        Operations = new CounterSet(counters);
        Jobs = new JobStats(counters);
        Brw = brw ? new BrwStats() : null;
    }

    /// <summary>An OST's: <c>obdfilter.*.stats</c>, <c>job_stats</c>, <c>brw_stats</c>.</summary>
    public static TargetStats ForOst() => new(OstCounters, brw: true);

    /// <summary>The MDT's: <c>mdt.*.md_stats</c>, <c>job_stats</c>.</summary>
    public static TargetStats ForMdt() => new(MdtCounters, brw: false);

    /// <summary>The target's operations, every job together.</summary>
    public CounterSet Operations { get; }

    public JobStats Jobs { get; }

    /// <summary>An OST's bulk I/O histograms; null on the MDT.</summary>
    public BrwStats? Brw { get; }

    /// <summary>Counts one operation of <paramref name="jobId"/> with <paramref name="value"/> (microseconds, or bytes).</summary>
    public void Add(int counter, long value, string jobId)
    {
        Operations.Add(counter, value);
        Jobs.Add(jobId, counter, value);
    }
}
