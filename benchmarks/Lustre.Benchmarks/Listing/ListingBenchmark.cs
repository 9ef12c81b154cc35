using System.Diagnostics.Metrics;
using System.Globalization;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Diagnostics;
using Lustre.Server.Cluster;

namespace Lustre.Benchmarks.Listing;

/// <summary>
/// <c>listing [--files 10000] [--repeat 3] [--dir DIR]</c>: what an <c>ls -l</c> of one directory costs (issue 22). An
/// all-in-one cluster (MGS, MDS, 2 OSTs) in this process and one directory of N empty files; each repetition reads every
/// entry's attributes three ways, one after the other: a readdir and then a getattr per entry (what <c>ls -l</c> did
/// before readdir-plus), readdir-plus (<see cref="LustreClient.EnumerateFileInfosAsync"/>), and a batched getattr of
/// the N paths (<see cref="LustreClient.GetInfoAsync(IEnumerable{string}, CancellationToken)"/>). Prints each way's
/// median wall time over the repetitions with min and max, its MDS requests, and the process's CPU time and allocation
/// per entry (client and servers share the process, so those are both sides').
/// </summary>
internal static class ListingBenchmark
{
    private const string Directory = "/listing";

    public static async Task<int> RunAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var files = args.Int("files", 10_000);
        var repeat = args.Int("repeat", 3);
        var folder = args.Text("dir") ?? Path.GetTempPath();
        args.ThrowIfUnused();
        if (files < 1 || repeat < 1)
        {
            Console.Error.WriteLine("--files and --repeat must be at least 1.");
            return 2;
        }

        var scratch = Path.Combine(folder, $"lustre-listing-bench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Console.WriteLine($"machine: {MachineInfo.Describe(folder)}; load average {MachineInfo.LoadAverage()}");
        Console.WriteLine($"run: {files} empty files in one directory, {repeat} repetitions, an all-in-one cluster (2 OSTs) in this process");
        await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = 2, DataDirectory = scratch, DeleteDataOnDispose = true });
        await using var client = new LustreClient(cluster.Address);
        await client.CreateDirectoryAsync(Directory);
        var names = Enumerable.Range(0, files).Select(i => string.Create(CultureInfo.InvariantCulture, $"file.{i:D6}")).ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (name, ct) => await client.CreateFileAsync($"{Directory}/{name}", cancellationToken: ct));
        var paths = names.Select(n => $"{Directory}/{n}").ToList();

        using var rpcs = new MdsRequestCounter();
        var ways = new (string Name, Func<Task<int>> List)[]
        {
            ("readdir + getattr per entry", async () =>
            {
                var count = 0;
                await foreach (var entry in client.EnumerateDirectoryAsync(Directory))
                {
                    count += (await client.GetInfoAsync(entry.Path)).Length == 0 ? 1 : 0;
                }

                return count;
            }),
            ("readdir-plus (EnumerateFileInfosAsync)", async () =>
            {
                var count = 0;
                await foreach (var info in client.EnumerateFileInfosAsync(Directory))
                {
                    count += info.Length == 0 ? 1 : 0;
                }

                return count;
            }),
            ("batched getattr of the paths (GetInfoAsync(paths))", async () => (await client.GetInfoAsync(paths)).Count(r => r.Info is { Length: 0 })),
        };

        var results = ways.Select(_ => new List<(PhaseCost Cost, long Requests)>()).ToList();
        for (var r = 0; r < repeat; r++)
        {
            for (var w = 0; w < ways.Length; w++)
            {
                rpcs.Reset();
                var meter = new PhaseMeter();
                var listed = await ways[w].List();
                var cost = meter.Stop();
                if (listed != files)
                {
                    throw new InvalidDataException($"{ways[w].Name} saw {listed} empty files, not {files}.");
                }

                results[w].Add((cost, rpcs.Count));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"repetition {r + 1}, {ways[w].Name}: {cost.Wall.TotalMilliseconds:0} ms, {rpcs.Count} MDS requests"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| {files} entries, {repeat} repetitions | wall median | min | max | MDS requests | CPU per entry | allocated per entry |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        for (var w = 0; w < ways.Length; w++)
        {
            var walls = results[w].Select(x => x.Cost.Wall.TotalMilliseconds).Order().ToArray();
            var median = results[w].OrderBy(x => x.Cost.Wall).ElementAt(results[w].Count / 2).Cost;
            Console.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {ways[w].Name} | {RepeatSummary.Median(walls):0} ms | {walls[0]:0} ms | {walls[^1]:0} ms | {results[w][0].Requests} | {median.Cpu.TotalMicroseconds / files:0.0} µs | {median.AllocatedBytes / (double)files:0} B |"));
        }

        Console.WriteLine($"load average after: {MachineInfo.LoadAverage()}");
        return 0;
    }

    /// <summary>Counts the client's requests to the MDS (the <c>lustre.client.rpc.duration</c> measurements of <c>Mds*</c> operations).</summary>
    private sealed class MdsRequestCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public MdsRequestCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == LustreDiagnostics.Name && instrument.Name == "lustre.client.rpc.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "lustre.operation" && tag.Value is string operation && operation.StartsWith("Mds", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref _count);
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Reset() => Interlocked.Exchange(ref _count, 0);

        public void Dispose() => _listener.Dispose();
    }
}
