using System.Net;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;
using Microsoft.Extensions.Logging.Abstractions;

namespace Lustre.Benchmarks.Mirrors;

/// <summary>
/// <c>mirror [--size 1G] [--repeat 3] [--dir DIR]</c>: what mirroring costs (issue 20). A cluster of one MGS+MDS node
/// and four OSS nodes (one OST each, so each is a server of its own) in this process. Each repetition writes a file
/// without mirrors (2 stripes) and one with two mirrors of 2 stripes each (the same 4 OSTs), each ending with
/// <c>FlushAsync</c>, then reads both back; the ratios mirrored/unmirrored are judged on their median over the
/// repetitions, printed with min and max. Then the OSS of the mirrored file's first OST is stopped and the file is
/// read again twice: the first read pays the failover, the second shows the rate with one copy left.
/// </summary>
internal static class MirrorBenchmark
{
    private const int OssCount = 4;

    public static async Task<int> RunAsync(string[] rawArgs)
    {
        if (ChunkedFiles.ParseArguments(rawArgs) is not var (size, repeat, directory))
        {
            return 2;
        }

        var scratch = Path.Combine(directory, $"lustre-mirror-bench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        Console.WriteLine($"machine: {MachineInfo.Describe(scratch)}; load average {MachineInfo.LoadAverage()}");
        Console.WriteLine($"run: {size >> 20} MiB per file, {ChunkedFiles.Chunk >> 20} MiB writes and reads, {ChunkedFiles.Depth} in flight, {repeat} repetitions, 1 MGS+MDS node and {OssCount} OSS nodes in this process");
        var nodes = new List<LustreNode>();
        try
        {
            var mds = await LustreNode.StartAsync(
                new NodeOptions { DataDirectory = Path.Combine(scratch, "mds"), RunMgs = true, RunMds = true, Listen = new IPEndPoint(IPAddress.Loopback, 0), RefreshInterval = TimeSpan.FromSeconds(1) },
                NullLoggerFactory.Instance,
                CancellationToken.None);
            nodes.Add(mds);
            for (var i = 0; i < OssCount; i++)
            {
                nodes.Add(await LustreNode.StartAsync(
                    new NodeOptions { DataDirectory = Path.Combine(scratch, $"oss{i}"), RunOss = true, Mgs = mds.Endpoint, FirstOstIndex = i, Listen = new IPEndPoint(IPAddress.Loopback, 0) },
                    NullLoggerFactory.Instance,
                    CancellationToken.None));
            }

            await using var client = new LustreClient($"{mds.Endpoint}/{mds.FsName}");
            var data = new TestPattern(seed: 20261203).NewBuffer(ChunkedFiles.Chunk);
            var plain = FileLayout.Raid0(4 << 20, stripeCount: 2);
            var mirrored = FileLayout.Mirrored(2, plain);
            await WaitForOstsAsync(client, mirrored);

            var rows = new List<(double PlainWrite, double MirroredWrite, double PlainRead, double MirroredRead)>();
            for (var r = 0; r < repeat; r++)
            {
                var plainWrite = (await ChunkedFiles.WriteAsync(client, $"/plain{r}", plain, size, data)).Rate;
                var mirroredWrite = (await ChunkedFiles.WriteAsync(client, $"/mirrored{r}", mirrored, size, data)).Rate;
                var plainRead = (await ChunkedFiles.ReadAsync(client, $"/plain{r}", size, data)).Rate;
                var mirroredRead = (await ChunkedFiles.ReadAsync(client, $"/mirrored{r}", size, data)).Rate;
                rows.Add((plainWrite, mirroredWrite, plainRead, mirroredRead));
                Console.WriteLine(
                    $"repetition {r + 1}: write {Gb(plainWrite)} unmirrored, {Gb(mirroredWrite)} mirrored ({mirroredWrite / plainWrite:0.00}x); " +
                    $"read {Gb(plainRead)} unmirrored, {Gb(mirroredRead)} mirrored ({mirroredRead / plainRead:0.00}x)");
                if (r < repeat - 1)
                {
                    await client.DeleteFileAsync($"/plain{r}");
                    await client.DeleteFileAsync($"/mirrored{r}");
                }
            }

            // One OSS of the last mirrored file stopped: the first read fails over, the second knows where to go.
            var last = $"/mirrored{repeat - 1}";
            var victim = (await client.GetInfoAsync(last)).Layout!.Mirrors[0].Layout.Components[0].Objects[0].OstIndex;
            await nodes[1 + victim].DisposeAsync();
            nodes.RemoveAt(1 + victim);
            var degradedFirst = (await ChunkedFiles.ReadAsync(client, last, size, data)).Rate;
            var degraded = (await ChunkedFiles.ReadAsync(client, last, size, data)).Rate;

            Console.WriteLine();
            Console.WriteLine("| phase | median | min | max | target |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            Ratio("mirrored write / unmirrored write (2x the bytes)", rows.Select(x => x.MirroredWrite / x.PlainWrite), 0.45);
            Ratio("mirrored read / unmirrored read, all OSSes up", rows.Select(x => x.MirroredRead / x.PlainRead), 0.9);
            Console.WriteLine($"| mirrored read, OST{victim:X4}'s OSS stopped: first read (failover) {Gb(degradedFirst)}, then {Gb(degraded)} | {degraded / RepeatSummary.Median([.. rows.Select(x => x.MirroredRead).Order()]):0.00}x of all up | | | stated |");
            Console.WriteLine($"load average after: {MachineInfo.LoadAverage()}");
            return 0;
        }
        finally
        {
            foreach (var node in Enumerable.Reverse(nodes))
            {
                await node.DisposeAsync();
            }

            Scratch.TryDelete(scratch);
        }
    }

    /// <summary>Until the MDS places a mirrored file on all four OSTs: every OSS registered and seen by its placement.</summary>
    private static async Task WaitForOstsAsync(LustreClient client, FileLayout mirrored)
    {
        for (var i = 0; i < 100; i++)
        {
            var probe = await client.CreateFileAsync($"/probe{i}", mirrored);
            await client.DeleteFileAsync(probe.Path);
            if (probe.Layout!.AllObjects().Select(o => o.OstIndex).Distinct().Count() == OssCount)
            {
                return;
            }

            await Task.Delay(200);
        }

        throw new InvalidOperationException($"the MDS did not see all {OssCount} OSTs within 20 s");
    }

    private static void Ratio(string name, IEnumerable<double> ratios, double target)
    {
        var all = ratios.Order().ToArray();
        var median = RepeatSummary.Median(all);
        Console.WriteLine($"| {name} | {median:0.00}x | {all[0]:0.00}x | {all[^1]:0.00}x | ≥ {target:0.00}x {(median >= target ? "PASS" : "MISS")} |");
    }

    private static string Gb(double bytesPerSecond) => $"{bytesPerSecond / 1e9:0.00} GB/s";
}
