using System.Globalization;
using System.Text;
using Lustre.Benchmarks.Baselines;
using Lustre.Benchmarks.Runner;
using Lustre.Client;
using Lustre.Layouts;
using Lustre.Server.Cluster;

namespace Lustre.Benchmarks.Transport;

/// <summary>
/// <c>transport [--size 1G] [--repeat 3] [--dir DIR]</c>: what TLS costs (issue 19). An embedded 4-OST cluster with a
/// shared secret; two clients, one on plain TCP and one on TLS 1.3 (<see cref="TransportSecurity"/>), each writing a
/// file striped over the four OSTs (4 MiB writes, 8 in flight, then <c>FlushAsync</c>) and reading it back, in turn,
/// each repetition; raw loopback TCP as the ceiling in the same run. Reported per phase: GB/s and CPU seconds per GB
/// of the whole process (client and servers both encrypt and decrypt), TLS over plain judged on the median.
/// </summary>
internal static class TransportBenchmark
{
    private const int OstCount = 4;

    public static async Task<int> RunAsync(string[] rawArgs)
    {
        if (ChunkedFiles.ParseArguments(rawArgs) is not var (size, repeat, directory))
        {
            return 2;
        }

        var scratch = Path.Combine(directory, $"lustre-tls-bench-{Environment.ProcessId}-{DateTime.UtcNow:yyyyMMddHHmmss}");
        Directory.CreateDirectory(scratch);
        var loadBefore = MachineInfo.LoadAverage();
        Console.WriteLine($"machine: {MachineInfo.Describe(scratch)}; load average {loadBefore}");
        Console.WriteLine($"run: {size >> 20} MiB per file striped over {OstCount} OSTs, {ChunkedFiles.Chunk >> 20} MiB writes and reads, {ChunkedFiles.Depth} in flight, {repeat} repetitions; bulk checksums off (loopback default; TLS carries its own integrity)");
        try
        {
            var secret = Encoding.UTF8.GetBytes("transport-benchmark-secret-0123456789abcdef");
            await using var cluster = await LustreCluster.StartAsync(new LustreClusterOptions { OstCount = OstCount, SharedSecret = secret, DataDirectory = Path.Combine(scratch, "cluster"), DeleteDataOnDispose = true });
            var layout = FileLayout.Raid0(4 << 20, stripeCount: OstCount);
            var data = new TestPattern(seed: 20261203).NewBuffer(ChunkedFiles.Chunk);
            var samples = new Dictionary<(TransportSecurity Transport, string Phase), List<PhaseResult>>();
            var ceiling = new List<PhaseResult>();
            for (var r = 0; r < repeat; r++)
            {
                ceiling.Add(await LoopbackTcpBaseline.MeasureAsync(OstCount, size, ChunkedFiles.Chunk));
                foreach (var transport in new[] { TransportSecurity.Plain, TransportSecurity.Tls })
                {
                    // TCP, as between hosts, where TLS is on by default: not the servers' local socket.
                    await using var client = new LustreClient(cluster.Address, new LustreClientOptions { SharedSecret = secret, Transport = transport, LocalSockets = false });
                    var path = $"/{transport}-{r}";
                    Add(samples, transport, "write + flush", await ChunkedFiles.WriteAsync(client, path, layout, size, data));
                    Add(samples, transport, "read", await ChunkedFiles.ReadAsync(client, path, size, data));
                    await client.DeleteFileAsync(path);
                }

                var last = samples.ToDictionary(s => s.Key, s => s.Value[^1]);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"repetition {r + 1}: raw loopback TCP {ceiling[^1].FormatRate()}; write plain {last[(TransportSecurity.Plain, "write + flush")].FormatRate()}, TLS {last[(TransportSecurity.Tls, "write + flush")].FormatRate()}; read plain {last[(TransportSecurity.Plain, "read")].FormatRate()}, TLS {last[(TransportSecurity.Tls, "read")].FormatRate()}"));
            }

            Console.WriteLine();
            Console.WriteLine($"| phase | plain TCP: GB/s, CPU s/GB (median of {repeat}) | TLS 1.3: GB/s, CPU s/GB (median of {repeat}) | TLS / plain rate: median (min–max) | TLS / plain CPU per GB: median |");
            Console.WriteLine("|---|---:|---:|---:|---:|");
            foreach (var phase in new[] { "write + flush", "read" })
            {
                var plain = samples[(TransportSecurity.Plain, phase)];
                var tls = samples[(TransportSecurity.Tls, phase)];
                var ratios = plain.Zip(tls, (p, t) => t.Rate / p.Rate).Order().ToArray();
                var cpu = plain.Zip(tls, (p, t) => CpuPerGb(t) / CpuPerGb(p)).Order().ToArray();
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {phase} | {Median(plain, p => p.Rate) / 1e9:0.00} GB/s, {Median(plain, CpuPerGb):0.00} s/GB | {Median(tls, p => p.Rate) / 1e9:0.00} GB/s, {Median(tls, CpuPerGb):0.00} s/GB | {RepeatSummary.Median(ratios):0.00}× ({ratios[0]:0.00}–{ratios[^1]:0.00}×) | {RepeatSummary.Median(cpu):0.00}× |"));
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| raw loopback TCP, {OstCount} connections (ceiling) | {Median(ceiling, p => p.Rate) / 1e9:0.00} GB/s, {Median(ceiling, CpuPerGb):0.00} s/GB | | | |"));
            Console.WriteLine($"load average {loadBefore} at start, {MachineInfo.LoadAverage()} at end");
            return 0;
        }
        finally
        {
            Scratch.TryDelete(scratch);
        }
    }

    private static void Add(Dictionary<(TransportSecurity, string), List<PhaseResult>> samples, TransportSecurity transport, string phase, PhaseResult result)
    {
        if (!samples.TryGetValue((transport, phase), out var list))
        {
            samples[(transport, phase)] = list = [];
        }

        list.Add(result);
    }

    private static double CpuPerGb(PhaseResult result) => result.Cost.Cpu.TotalSeconds / (result.Rate * result.Cost.Wall.TotalSeconds / 1e9);

    private static double Median(List<PhaseResult> results, Func<PhaseResult, double> value) => RepeatSummary.Median([.. results.Select(value).Order()]);
}
