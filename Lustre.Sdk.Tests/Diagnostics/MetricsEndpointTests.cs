using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Lustre.Client;
using Lustre.Tests.Cluster;

namespace Lustre.Tests.Diagnostics;

/// <summary>
/// The Prometheus endpoint (issue 24): <c>lustre up --metrics-listen</c> serves the servers' metrics in the Prometheus
/// text format; a scrape after real work parses and carries the request counts, bytes per OST and latency histogram.
/// </summary>
public sealed partial class MetricsEndpointTests : IDisposable
{
    private readonly TempFolder _data = new("lustre-metrics-");

    public void Dispose() => _data.Dispose();

    [Fact]
    public async Task A_scrape_of_a_running_lustre_up_returns_the_server_metrics_after_real_work()
    {
        var port = FreePort();
        await using var server = ServerProcess.Start("up", "--data", _data.Path, "--port", "0", "--osts", "2", "--metrics-listen", $"127.0.0.1:{port}");
        var address = await server.WaitForAddressAsync();
        await using (var client = new LustreClient(address))
        {
            await using var file = await client.OpenFileAsync("/scraped.bin", FileMode.CreateNew);
            await file.WriteAtAsync(0, new byte[3 << 20]);
            await file.FlushAsync();
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string text = string.Empty;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
            if (text.Contains("lustre_server_lustre_server_io_bytes", StringComparison.Ordinal))
            {
                break;
            }

            await Task.Delay(100);
        }

        // Every sample line parses as the text format says: a name, optional labels, a number.
        var samples = text.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        Assert.NotEmpty(samples);
        Assert.All(samples, line => Assert.Matches(Sample(), line));

        // The servers' own metrics, from the work above: requests by opcode, bytes written per OST, a latency histogram.
        double Value(string name, string label) => samples.Where(l => l.StartsWith(name, StringComparison.Ordinal) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
        // prometheus-net names each instrument after its meter and itself: lustre_server_ + lustre_server_requests.
        Assert.True(Value("lustre_server_lustre_server_requests", "\"MdsOpen\"") >= 1, $"no MdsOpen request counted:\n{text}");
        Assert.True(Value("lustre_server_lustre_server_io_bytes", "write") >= 3 << 20, "fewer bytes written than the client wrote");
        Assert.Contains(samples, l => l.StartsWith("lustre_server_lustre_server_request_duration_bucket", StringComparison.Ordinal) && l.Contains("le=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_metrics_address_that_does_not_parse_stops_the_server_at_start_with_a_clear_message()
    {
        var result = await Cli.CliProcess.RunAsync(["up", "--data", _data.Path, "--port", "0", "--metrics-listen", "not-an-address"]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--metrics-listen", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+]?([0-9.eE+-]+|NaN|\+Inf|-Inf)( [0-9]+)?$")]
    private static partial Regex Sample();
}
