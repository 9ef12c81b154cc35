using Lustre.Benchmarks.Runner;

namespace Lustre.Benchmarks.Striped;

/// <summary>The parameters of one striped-IO run; <see cref="Describe"/> prints them beside the table.</summary>
internal sealed record StripedSettings
{
    public required long Size { get; init; }

    public required long StripeSize { get; init; }

    /// <summary>Bytes per application call (one ReadAtAsync/WriteAtAsync).</summary>
    public required int ChunkSize { get; init; }

    /// <summary>Application calls in flight during the sequential phases.</summary>
    public required int Depth { get; init; }

    public required int RandomTasks { get; init; }

    public required TimeSpan RandomDuration { get; init; }

    public required TimeSpan Warmup { get; init; }

    public required bool Quick { get; init; }

    public required bool Verify { get; init; }

    public required string Directory { get; init; }

    /// <summary>Sequential phases through <c>LustreStream</c> (one call at a time, the stream's readahead and write-behind) instead of positional calls.</summary>
    public required bool Stream { get; init; }

    public static StripedSettings Parse(RunnerArguments args, int ostCount, int rpcsInFlightPerOst)
    {
        var quick = args.Flag("quick");
        var size = args.Size("size", quick ? 256L << 20 : 4L << 30);
        var stripe = args.Size("stripe-size", 4L << 20);

        // By default one call covers a full RPC window: every OST gets its in-flight limit of stripe-sized RPCs.
        var chunk = args.Size("chunk", Math.Min(1L << 30, stripe * ostCount * rpcsInFlightPerOst));
        var settings = new StripedSettings
        {
            Size = size,
            StripeSize = stripe,
            ChunkSize = (int)Math.Min(chunk, size),
            Depth = args.Int("depth", 2),
            RandomTasks = args.Int("tasks", 32),
            RandomDuration = TimeSpan.FromSeconds(args.Double("seconds", quick ? 2 : 10)),
            Warmup = TimeSpan.FromSeconds(quick ? 0.3 : 1),
            Quick = quick,
            Verify = !args.Flag("no-verify"),
            Directory = args.Text("dir") ?? Path.GetTempPath(),
            Stream = (args.Text("api") ?? "positional") switch
            {
                "positional" => false,
                "stream" => true,
                var other => throw new ArgumentException($"--api is positional or stream, not '{other}'.", "api"),
            },
        };
        settings.Validate();
        return settings;
    }

    private void Validate()
    {
        if (Size <= 0 || Size % TestPattern.BlockSize != 0)
        {
            throw new ArgumentException($"--size must be a positive multiple of 1 MiB; {Size} is not.", nameof(Size));
        }

        if (ChunkSize <= 0 || ChunkSize % TestPattern.BlockSize != 0)
        {
            throw new ArgumentException($"--chunk must be a positive multiple of 1 MiB; {ChunkSize} is not.", nameof(ChunkSize));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(Depth, 1, "--depth");
        ArgumentOutOfRangeException.ThrowIfLessThan(RandomTasks, 1, "--tasks");
    }

    public string Describe(int ostCount, int connections) =>
        $"file {ResultTable.FormatBytes(Size)} striped over {ostCount} OSTs, stripe size {ResultTable.FormatBytes(StripeSize)}; " +
        (Stream
            ? $"sequential LustreStream ReadAsync/WriteAsync calls of {ResultTable.FormatBytes(ChunkSize)}, one at a time; random"
            : $"sequential ReadAtAsync/WriteAtAsync calls of {ResultTable.FormatBytes(ChunkSize)}, {Depth} in flight; random") +
        $" 4 KiB reads from {RandomTasks} tasks for {RandomDuration.TotalSeconds:0.#} s; " +
        $"{connections} connections to the OSS (its local socket: LustreClientOptions.LocalSockets)";
}
