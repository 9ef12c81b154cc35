using System.Net;
using Prometheus;

namespace Lustre.Cli;

/// <summary>
/// <c>--metrics-listen HOST:PORT</c> of <c>lustre up</c> and <c>lustre serve</c>: the process's metrics for Prometheus
/// to scrape at <c>http://HOST:PORT/metrics</c>, through prometheus-net, which publishes every .NET Meter (the servers'
/// <c>Lustre.Server</c> meter, the resync agent's <c>Lustre.Client</c> meter, the runtime's) with the process metrics.
/// No authentication: keep it on loopback or a management network.
/// </summary>
internal static class MetricsEndpoint
{
    public static IDisposable Start(IPEndPoint endpoint)
    {
        var host = endpoint.Address.Equals(IPAddress.Any) || endpoint.Address.Equals(IPAddress.IPv6Any)
            ? "+"
            : endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        // The Meter listener first (prometheus-net would start it at the first scrape and miss what came before).
        var meters = MeterAdapter.StartListening();
        var server = new MetricServer(host, endpoint.Port, url: "metrics/");
        try
        {
            server.Start();
        }
        catch
        {
            meters.Dispose();
            throw;
        }

        return new Endpoint(server, meters);
    }

    private sealed class Endpoint(MetricServer server, IDisposable meters) : IDisposable
    {
        public void Dispose()
        {
            server.Dispose();
            meters.Dispose();
        }
    }
}
