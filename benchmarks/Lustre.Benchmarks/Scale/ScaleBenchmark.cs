using Lustre.Benchmarks.Runner;
using Lustre.Client;

namespace Lustre.Benchmarks.Scale;

/// <summary>
/// <c>scale [--osses N] [--osts K] [--clients M] [--size 1G] [--stripe-size 1M] [--chunk C] [--depth 2] [--repeat 3]
/// [--quick] [--buffered-writes] [--dir DIR] [--no-verify] [--markdown FILE]</c>: N OSS processes with K OSTs each, an MGS and an MDS
/// (<c>lustre serve</c>), and M client processes (<see cref="ScaleClients"/>), each writing its own file striped over
/// every OST (ending in FlushAsync: durable) and reading it back; the aggregate GB/s of each phase (every client's bytes
/// over the phase's wall time) against raw loopback TCP pushing the same bytes over as many connections, from the same
/// client processes, in the same repetition. Ratios are summarised as the median of the repetitions with min and max.
/// N and M default to half the cores each. Exit code 1 when data read back differs or the run fails; 2 on a bad option.
/// </summary>
internal static class ScaleBenchmark
{
    public static async Task<int> RunAsync(string[] rawArgs)
    {
        ScaleSettings settings;
        string? markdown;
        try
        {
            var args = new RunnerArguments(rawArgs);
            settings = ScaleSettings.Parse(args);
            markdown = args.Text("markdown");
            args.ThrowIfUnused();
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"scale: {ex.Message}");
            return 2;
        }

        var connections = new LustreClientOptions().ConnectionsPerServer;
        var scratch = Path.Combine(settings.Directory, $"lustre-scale-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var machine = MachineInfo.Describe(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {machine}; load average {loadBefore}");
        Console.WriteLine($"run: {settings.Describe(connections)}");
        var memory = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (settings.TotalBytes > memory / 2)
        {
            // The read is meant to come from the OSSs' page cache, as the striped runner's does.
            Console.WriteLine($"warning: the clients' {ResultTable.FormatBytes(settings.TotalBytes)} is more than half of this machine's {ResultTable.FormatBytes(memory)}: reads may come from the disk; give a smaller --size");
        }

        var tables = new List<ResultTable>();
        var verified = true;
        try
        {
            await using var cluster = await ScaleCluster.StartAsync(Path.Combine(scratch, "servers"), settings.Osses, settings.OstsPerOss, settings.DirectWrites);
            var servers = cluster.Processes;
            Console.WriteLine($"servers up, {servers.Count} processes; filesystem {cluster.Address}");
            await using (var admin = new LustreClient(cluster.Address))
            {
                await admin.CreateDirectoryAsync(ScaleClients.Root);
            }

            await using var clients = await ScaleClients.StartAsync(settings, cluster.Address);
            var timeout = settings.PhaseTimeout;
            Console.WriteLine($"{settings.Clients} clients up");
            Console.WriteLine(await clients.WarmUpAsync(servers, settings.Size, timeout));

            var warmBuffer = new byte[1 << 20];
            var streams = $"{settings.Clients} × {settings.Osses * connections} connections";
            for (var repetition = 1; repetition <= settings.Repeat; repetition++)
            {
                Console.WriteLine($"repetition {repetition} of {settings.Repeat}");
                var table = new ResultTable();
                tables.Add(table);

                // Both ends of every baseline connection live in the client processes; see docs/benchmarks.md.
                var write = table.Report(await clients.MeasureAsync($"ours: {settings.Clients} clients, sequential write + FlushAsync", $"write {repetition}", settings.TotalBytes, servers, timeout));
                var tcp = table.Report(await clients.MeasureAsync($"raw loopback TCP, {streams}, 1 MiB sends", "tcp", settings.TotalBytes, servers, timeout));
                if (settings.DirectWrites)
                {
                    // Direct writes left the bytes out of the OSSs' page cache; the read phase measures the network path from it.
                    Console.WriteLine($"  {PageCache.WarmAfterDirectWrites(Path.Combine(scratch, "servers"), warmBuffer)}");
                }

                var read = table.Report(await clients.MeasureAsync($"ours: {settings.Clients} clients, sequential read (OSS page cache)", $"read {repetition}", settings.TotalBytes, servers, timeout));
                if (settings.Verify)
                {
                    var answers = await clients.RunAsync($"verify {repetition}", timeout);
                    var wrong = answers.Where(a => a != "OK").ToList();
                    Console.WriteLine($"  verify: {(wrong.Count == 0 ? "OK" : string.Join("; ", wrong))}");
                    verified &= wrong.Count == 0;
                }

                // The next repetition starts from empty OSTs, and the disk holds one repetition's files at a time.
                await clients.RunAsync($"delete {repetition}", timeout);

                // The issue asks for the ratio to raw TCP with the same number of streams; it sets no target.
                table.Compare($"write + FlushAsync, {settings.Clients} clients × {settings.OstCount} OSTs", write, tcp, $"raw loopback TCP, {streams}", null);
                table.Compare($"read, {settings.Clients} clients × {settings.OstCount} OSTs", read, tcp, $"raw loopback TCP, {streams}", null);
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or InvalidOperationException or TimeoutException)
        {
            Console.Error.WriteLine($"scale: FAILED: {ex.Message}");
            return 1;
        }
        finally
        {
            Scratch.TryDelete(scratch);
        }

        var text = string.Join("\n", tables.Select(t => t.ToMarkdown(judge: false)));
        text = RepeatSummary.ToMarkdown(tables, judge: false) + "\n" + text;
        Console.WriteLine();
        Console.WriteLine(text);
        await RunDocument.WriteIfAskedAsync(markdown, "scale", machine, loadBefore, settings.Describe(connections), rawArgs, text);
        if (!verified)
        {
            Console.Error.WriteLine("FAILED: data read back differs from what was written.");
            return 1;
        }

        return 0;
    }
}
