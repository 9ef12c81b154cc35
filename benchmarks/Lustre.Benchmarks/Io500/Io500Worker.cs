using System.Diagnostics;
using System.Globalization;
using Lustre.Benchmarks.Runner;
using Lustre.Client;

namespace Lustre.Benchmarks.Io500;

/// <summary>
/// <c>--processes N</c>: the tasks run in N child processes of this same binary (<c>io500-worker</c> mode), task t
/// in process t mod N, each task with its own <see cref="LustreClient"/>. The parent writes a phase name on each
/// child's stdin and times from then until every child has answered <c>done UNITS</c>. find is walked by the parent.
/// </summary>
internal sealed class WorkerProcessTasks : IIo500Tasks
{
    private readonly List<Process> _workers = [];
    private readonly Io500Phases _phases;
    private readonly IReadOnlyList<IIo500Storage> _findStorages;

    private WorkerProcessTasks(Io500Phases phases, IReadOnlyList<IIo500Storage> findStorages)
    {
        _phases = phases;
        _findStorages = findStorages;
    }

    public static async Task<WorkerProcessTasks> StartAsync(
        int processes, string address, string root, string parameterFile, bool quick, int tasks, Io500Phases phases, IReadOnlyList<IIo500Storage> findStorages)
    {
        var self = new WorkerProcessTasks(phases, findStorages);
        for (var p = 0; p < processes; p++)
        {
            self._workers.Add(ChildProcess.Start(["io500-worker", "--address", address, "--root", root, "--params", parameterFile,
                "--tasks", tasks.ToString(CultureInfo.InvariantCulture), "--process", p.ToString(CultureInfo.InvariantCulture),
                "--processes", processes.ToString(CultureInfo.InvariantCulture), .. (quick ? (string[])["--quick"] : [])]));
        }

        foreach (var worker in self._workers)
        {
            await ChildProcess.ExpectAsync(worker, "ready", "io500 worker");
        }

        return self;
    }

    public async Task<long> RunAsync(Io500Phase phase)
    {
        if (phase == Io500Phase.Find)
        {
            return await _phases.FindAsync(_findStorages);
        }

        foreach (var worker in _workers)
        {
            await ChildProcess.SendAsync(worker, phase.Name());
        }

        long total = 0;
        foreach (var worker in _workers)
        {
            total += long.Parse(await ChildProcess.ExpectAsync(worker, "done", "io500 worker"), CultureInfo.InvariantCulture);
        }

        return total;
    }

    public async ValueTask DisposeAsync() => await ChildProcess.StopAsync(_workers);

    /// <summary>The child side: <c>io500-worker --address A --root R --params FILE [--quick] --tasks T --process P --processes N</c>.</summary>
    public static async Task<int> WorkerMainAsync(string[] rawArgs)
    {
        var args = new RunnerArguments(rawArgs);
        var address = args.Text("address") ?? throw new ArgumentException("--address is required.", nameof(rawArgs));
        var root = args.Text("root") ?? "/io500";
        var settings = Io500Settings.Load(args.Text("params") ?? Io500Settings.DefaultFile, args.Flag("quick"), args.Int("tasks", 0) is var t and > 0 ? t : null);
        var process = args.Int("process", 0);
        var processes = args.Int("processes", 1);
        args.ThrowIfUnused();

        var phases = new Io500Phases(settings);
        var mine = new List<(int Task, LustreClient Client, IIo500Storage Storage)>();
        for (var task = process; task < settings.Tasks; task += processes)
        {
            var client = new LustreClient(address);
            mine.Add((task, client, new LustreIo500Storage(client, root, settings.StripeSize)));
        }

        try
        {
            Console.WriteLine("ready");
            var byName = Enum.GetValues<Io500Phase>().ToDictionary(p => p.Name());
            while (await Console.In.ReadLineAsync() is { } line)
            {
                try
                {
                    var phase = byName[line];
                    var units = await Task.WhenAll(mine.Select(m => Task.Run(() => phases.RunTaskAsync(phase, m.Storage, m.Task))));
                    Console.WriteLine($"done {units.Sum()}");
                }
                catch (Exception ex)
                {
                    Console.WriteLine($"error {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")}");
                }
            }
        }
        finally
        {
            foreach (var (_, client, _) in mine)
            {
                await client.DisposeAsync();
            }
        }

        return 0;
    }
}
