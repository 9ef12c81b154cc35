using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using Lustre.Benchmarks.Baselines;
using Lustre.Benchmarks.Runner;
using Lustre.Benchmarks.Striped;
using Lustre.Client;

namespace Lustre.Benchmarks.Scale;

/// <summary>
/// The client processes of <c>scale</c>: this binary in <c>scale-client</c> mode, each with its own
/// <see cref="LustreClient"/>. The runner writes a command on every client's stdin and times from then until every
/// client has answered <c>done …</c>, as <c>io500 --processes N</c> does; a rate is all clients' bytes over that time.
/// </summary>
internal sealed class ScaleClients : IAsyncDisposable
{
    /// <summary>The folder that holds the clients' files.</summary>
    public const string Root = "/scale";

    /// <summary>The file each client writes, reads and deletes in a warm-up round (or its --size, if smaller).</summary>
    private const long WarmUpSize = 128L << 20;

    /// <summary>
    /// The warm-up ends when a round cost all processes at least this share of the CPU per byte of the round before:
    /// the cost has stopped falling. Tiered compilation recompiles each process's hot methods over its first seconds
    /// of work, and N + M + 2 processes sharing a few cores take that many times longer to settle; a long-running
    /// cluster is far past it. The dataset runner waits for its ranks' own JIT clock; the servers here are another
    /// program, so the rule reads what the timed phases report, the CPU of every process per byte.
    /// </summary>
    private const double Settled = 0.9;

    /// <summary>The warm-up's bounds in rounds, whatever the cost does.</summary>
    private const int MinWarmUps = 2;
    private const int MaxWarmUps = 10;

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly List<Process> _clients = [];

    private ScaleClients()
    {
    }

    public static async Task<ScaleClients> StartAsync(ScaleSettings settings, string address)
    {
        var self = new ScaleClients();
        try
        {
            for (var c = 0; c < settings.Clients; c++)
            {
                self._clients.Add(ChildProcess.Start(["scale-client", "--address", address, "--client", c.ToString(CultureInfo.InvariantCulture), .. settings.ToArguments()]));
            }

            await Task.WhenAll(self._clients.Select(c => ChildProcess.ExpectAsync(c, "ready", "scale client"))).WaitAsync(StartTimeout);
            return self;
        }
        catch
        {
            await self.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sends <paramref name="command"/> to every client; their answers after <c>done</c>, once all have answered (at most <paramref name="timeout"/>).</summary>
    public async Task<string[]> RunAsync(string command, TimeSpan timeout)
    {
        foreach (var client in _clients)
        {
            await ChildProcess.SendAsync(client, command);
        }

        return await Task.WhenAll(_clients.Select(c => ChildProcess.ExpectAsync(c, "done", "scale client"))).WaitAsync(timeout);
    }

    /// <summary>
    /// Untimed warm-up rounds (each client writes, reads and deletes a file) until the CPU that every process,
    /// <paramref name="servers"/> and clients, spends per byte has stopped falling (<see cref="Settled"/>); returns a
    /// line that says how it went.
    /// </summary>
    public async Task<string> WarmUpAsync(IReadOnlyList<Process> servers, long size, TimeSpan timeout)
    {
        Process[] all = [.. servers, .. _clients];
        var bytes = Math.Min(WarmUpSize, size) * _clients.Count * 2;
        var clock = Stopwatch.StartNew();
        var costs = new List<double>();
        do
        {
            var cpu = ProcessCpu.Total(all);
            await RunAsync("warm-up", timeout);
            costs.Add((ProcessCpu.Total(all) - cpu).TotalSeconds / (bytes / 1e9));
        }
        while (costs.Count < MaxWarmUps && (costs.Count < MinWarmUps || costs[^1] < Settled * costs[^2]));

        return $"untimed warm-up: {costs.Count} rounds of {ResultTable.FormatBytes(Math.Min(WarmUpSize, size))} written and read per client in {clock.Elapsed.TotalSeconds:0.0} s, " +
            $"CPU of all processes {string.Join(", ", costs.Select(c => c.ToString("0.00", CultureInfo.InvariantCulture)))} s/GB";
    }

    /// <summary>
    /// Times <paramref name="command"/> on every client, <paramref name="bytes"/> in all. Its CPU is every process's:
    /// this one's, the clients' and <paramref name="servers"/>'; its allocations and GCs this one's and the clients'
    /// (each reports its own), not the servers'.
    /// </summary>
    public async Task<PhaseResult> MeasureAsync(string name, string command, long bytes, IReadOnlyList<Process> servers, TimeSpan timeout)
    {
        Process[] others = [.. servers, .. _clients];
        var othersCpu = ProcessCpu.Total(others);
        var meter = new PhaseMeter();
        var answers = await RunAsync(command, timeout);
        var cost = meter.Stop();
        cost = cost with { Cpu = cost.Cpu + ProcessCpu.Total(others) - othersCpu };
        foreach (var answer in answers)
        {
            var words = answer.Split(' ');
            cost = cost with
            {
                AllocatedBytes = cost.AllocatedBytes + long.Parse(words[0], CultureInfo.InvariantCulture),
                Gen0 = cost.Gen0 + int.Parse(words[1], CultureInfo.InvariantCulture),
                Gen1 = cost.Gen1 + int.Parse(words[2], CultureInfo.InvariantCulture),
                Gen2 = cost.Gen2 + int.Parse(words[3], CultureInfo.InvariantCulture),
            };
        }

        return PhaseMeter.Bytes(name, bytes, cost);
    }

    /// <summary>Closes the clients' stdin, so each closes its <see cref="LustreClient"/> and exits (killed after 30 s).</summary>
    public async ValueTask DisposeAsync() => await ChildProcess.StopAsync(_clients);

    /// <summary>
    /// The client side: <c>scale-client --address A --client I</c> and the run's settings (<see cref="ScaleSettings.ToArguments"/>).
    /// Commands, one a line: <c>warm-up</c>; <c>write R</c>, <c>read R</c> (timed: answer <c>done ALLOCATED GEN0 GEN1 GEN2</c>);
    /// <c>tcp</c>, the raw loopback TCP baseline (timed); <c>verify R</c> (answers <c>done OK</c> or <c>done FAILED …</c>);
    /// <c>delete R</c>. R names the repetition's file. Ends when stdin closes.
    /// </summary>
    public static async Task<int> ClientMainAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var address = args.Text("address") ?? throw new ArgumentException("--address is required.", nameof(rawArgs));
        var index = args.Int("client", 0);
        var settings = ScaleSettings.Parse(args);
        args.ThrowIfUnused();

        var options = new LustreClientOptions();
        var pattern = new TestPattern(seed: 20240611 + index);
        var buffers = new byte[settings.Depth][];
        for (var i = 0; i < buffers.Length; i++)
        {
            buffers[i] = pattern.NewBuffer(settings.ChunkSize);
        }

        var warmUpSize = Math.Min(WarmUpSize, settings.Size);
        await using var client = new LustreClient(address, options);
        var workload = new StripedWorkload(client, pattern, settings.Workload(settings.Size), buffers);
        var warmUp = new StripedWorkload(client, pattern, settings.Workload(warmUpSize), buffers);

        // The baseline's connections, as many as the client's to the OSSs, live as long as the client's and warm up
        // with them: new ones for every phase would pay for connects and growing windows that ours does not.
        var pairs = await LoopbackPair.ConnectAsync(settings.Osses * options.ConnectionsPerServer);
        try
        {
            Console.WriteLine("ready");
            while (await Console.In.ReadLineAsync() is { } line)
            {
                try
                {
                    var words = line.Split(' ');
                    var path = $"{Root}/client{index}-{(words.Length > 1 ? words[1] : "warm-up")}.bin";
                    var answer = words[0] switch
                    {
                        "warm-up" => await WarmUpAsync(client, warmUp, path, pairs, warmUpSize),
                        "write" => Cost(await workload.WriteAsync(path)),
                        "read" => Cost(await workload.ReadAsync(path)),
                        "tcp" => Cost(await LoopbackTcpBaseline.MeasureAsync(pairs, settings.Size, 1 << 20)),
                        "verify" => await VerifyAsync(client, workload, path, settings.OstCount),
                        "delete" => await DeleteAsync(client, path),
                        _ => throw new InvalidDataException($"unknown command '{line}'"),
                    };
                    Console.WriteLine($"done {answer}");
                }
                catch (Exception ex)
                {
                    Console.WriteLine($"error {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
                }
            }
        }
        finally
        {
            LoopbackPair.Dispose(pairs);
        }

        return 0;
    }

    private static string Cost(PhaseResult result) =>
        string.Create(CultureInfo.InvariantCulture, $"{result.Cost.AllocatedBytes} {result.Cost.Gen0} {result.Cost.Gen1} {result.Cost.Gen2}");

    /// <summary>An untimed round of every timed phase: write, read and delete a file of <paramref name="size"/>, and as many bytes of raw TCP.</summary>
    private static async Task<string> WarmUpAsync(LustreClient client, StripedWorkload warmUp, string path, (Socket Server, Socket Client)[] pairs, long size)
    {
        await warmUp.WriteAsync(path);
        await warmUp.ReadAsync(path);
        await LoopbackTcpBaseline.MeasureAsync(pairs, size, 1 << 20);
        return await DeleteAsync(client, path);
    }

    /// <summary>Checks that the file is striped over every OST and reads every byte back (untimed).</summary>
    private static async Task<string> VerifyAsync(LustreClient client, StripedWorkload workload, string path, int ostCount)
    {
        await using (var file = await client.OpenFileAsync(path))
        {
            var stripes = file.Layout.Components[0].StripeCount;
            if (stripes != ostCount)
            {
                return $"FAILED {path} is striped over {stripes} OSTs, not all {ostCount}";
            }
        }

        return await workload.VerifyAsync(path) ? "OK" : $"FAILED {path} differs from what was written";
    }

    private static async Task<string> DeleteAsync(LustreClient client, string path)
    {
        await client.DeleteFileAsync(path);
        return "deleted";
    }
}
