using System.Globalization;
using Lustre.Benchmarks.Runner;
using Lustre.Benchmarks.Striped;

namespace Lustre.Benchmarks.Scale;

/// <summary>
/// The parameters of one scale run. The defaults follow the machine's cores (half of them OSS processes, half client
/// processes), so the same command fits a 2-core and a 16-core machine; <see cref="ToArguments"/> hands them to the
/// client processes, which parse them back with <see cref="Parse"/>.
/// </summary>
internal sealed record ScaleSettings
{
    public required int Osses { get; init; }

    public required int OstsPerOss { get; init; }

    public required int Clients { get; init; }

    /// <summary>Bytes each client writes and reads per repetition, in one file striped over every OST.</summary>
    public required long Size { get; init; }

    public required long StripeSize { get; init; }

    /// <summary>Bytes per application call (one ReadAtAsync/WriteAtAsync).</summary>
    public required int ChunkSize { get; init; }

    /// <summary>Application calls in flight per client.</summary>
    public required int Depth { get; init; }

    public required int Repeat { get; init; }

    public required bool Quick { get; init; }

    public required bool Verify { get; init; }

    /// <summary>The OSSs write large aligned bulks with O_DIRECT (<c>lustre serve</c>'s default; false with <c>--buffered-writes</c>).</summary>
    public required bool DirectWrites { get; init; }

    public required string Directory { get; init; }

    public int OstCount => Osses * OstsPerOss;

    public long TotalBytes => Clients * Size;

    /// <summary>
    /// How long one phase on all clients may take before the run gives up: 2 minutes plus the phase's bytes at
    /// 10 MB/s, far beyond any healthy run, so only a hung process reaches it.
    /// </summary>
    public TimeSpan PhaseTimeout => TimeSpan.FromSeconds(120 + (TotalBytes / 10e6));

    public static ScaleSettings Parse(RunnerArguments args)
    {
        var quick = args.Flag("quick");
        var cores = Environment.ProcessorCount;
        var osses = args.Int("osses", quick ? 2 : Math.Max(1, cores / 2));
        var ostsPerOss = args.Int("osts", 1);
        var stripe = args.Size("stripe-size", 1L << 20);
        var size = args.Size("size", quick ? 1L << 30 : 2L << 30);

        // By default one call covers a full RPC window, as in the striped runner: every OST gets its in-flight limit
        // (LustreClientOptions.MaxRpcsInFlightPerOst, 8) of stripe-sized RPCs.
        var chunk = args.Size("chunk", Math.Min(1L << 30, stripe * osses * ostsPerOss * 8));
        var settings = new ScaleSettings
        {
            Osses = osses,
            OstsPerOss = ostsPerOss,
            Clients = args.Int("clients", quick ? 2 : Math.Max(1, cores / 2)),
            Size = size,
            StripeSize = stripe,
            ChunkSize = (int)Math.Min(Math.Min(chunk, size), int.MaxValue),
            Depth = args.Int("depth", 2),
            Repeat = args.Int("repeat", 3),
            Quick = quick,
            Verify = !args.Flag("no-verify"),
            DirectWrites = args.DirectWrites(),
            Directory = args.Text("dir") ?? System.IO.Directory.GetCurrentDirectory(),
        };
        settings.Validate(chunk);
        return settings;
    }

    /// <summary>The options that make <see cref="Parse"/> give these settings again, in a client process.</summary>
    public IEnumerable<string> ToArguments() =>
    [
        "--osses", Text(Osses), "--osts", Text(OstsPerOss), "--clients", Text(Clients), "--size", Text(Size),
        "--stripe-size", Text(StripeSize), "--chunk", Text(ChunkSize), "--depth", Text(Depth),
    ];

    /// <summary>One client's sequential write and read of <paramref name="size"/> bytes, as the striped runner does them (positional calls).</summary>
    public StripedSettings Workload(long size) => new()
    {
        Size = size,
        StripeSize = StripeSize,
        ChunkSize = (int)Math.Min(ChunkSize, size),
        Depth = Depth,
        RandomTasks = 1,
        RandomDuration = TimeSpan.Zero,
        Warmup = TimeSpan.Zero,
        Quick = Quick,
        Verify = Verify,
        Directory = Directory,
        Stream = false,
    };

    public string Describe(int connectionsPerServer) =>
        $"{Osses} OSS processes × {OstsPerOss} OST{(OstsPerOss == 1 ? string.Empty : "s")}, an MGS and an MDS process (lustre serve), {Clients} client processes; " +
        $"each client writes {ResultTable.FormatBytes(Size)} to its own file striped over all {OstCount} OSTs in {ResultTable.FormatBytes(StripeSize)} stripes " +
        $"(WriteAtAsync calls of {ResultTable.FormatBytes(ChunkSize)}, {Depth} in flight, then FlushAsync{(DirectWrites ? "; the OSSs write with O_DIRECT" : string.Empty)}) and reads it back the same way; " +
        $"{connectionsPerServer} connections per client per OSS (ConnectionsPerServer; each OSS's local socket on one host), {Clients * Osses * connectionsPerServer} bulk streams in all; " +
        $"raw TCP baseline: {Osses * connectionsPerServer} loopback connection pairs in each client process, 1 MiB sends, the same bytes; " +
        $"CPU of every process, allocations and GCs of the clients and the runner";

    private void Validate(long chunk)
    {
        Check(Osses, 1, 64, "osses");
        Check(OstsPerOss, 1, 16, "osts");
        Check(Clients, 1, 256, "clients");
        Check(Depth, 1, 64, "depth");
        Check(Repeat, 1, 100, "repeat");
        if (Size <= 0 || Size % TestPattern.BlockSize != 0)
        {
            throw new ArgumentException($"--size must be a positive multiple of 1 MiB; {Size} is not.", "size");
        }

        if (StripeSize <= 0 || StripeSize % (64 << 10) != 0)
        {
            throw new ArgumentException($"--stripe-size must be a positive multiple of 64 KiB; {StripeSize} is not.", "stripe-size");
        }

        if (chunk <= 0 || chunk > 1L << 30 || chunk % TestPattern.BlockSize != 0)
        {
            throw new ArgumentException($"--chunk must be a multiple of 1 MiB from 1 MiB to 1 GiB; {chunk} is not.", "chunk");
        }
    }

    private static void Check(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentException($"--{name} must be from {min} to {max}; {value} is not.", name);
        }
    }

    private static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
}
