using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;

namespace Lustre.Network;

/// <summary>Parses and prints the HOST:PORT addresses used in configuration and on the command line.</summary>
internal static class Endpoints
{
    /// <summary>Whether <paramref name="address"/> is this host's loopback (an IPv4-mapped IPv6 loopback included).</summary>
    public static bool IsLoopback(IPAddress address) => IPAddress.IsLoopback(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);

    /// <summary>Whether <paramref name="endpoint"/> is an address on this host's loopback, or a Unix-domain socket (on this host too).</summary>
    public static bool IsLoopback(EndPoint? endpoint) => endpoint is IPEndPoint ip ? IsLoopback(ip.Address) : endpoint is System.Net.Sockets.UnixDomainSocketEndPoint;

    /// <summary>Parses "127.0.0.1:9880", "[::1]:9880" or "localhost:9880" (localhost is loopback, resolved without DNS).</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out IPEndPoint? endpoint)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return false;
        }

        var host = text[..colon].Trim('[', ']');
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            endpoint = new IPEndPoint(IPAddress.Loopback, port);
            return true;
        }

        if (!IPAddress.TryParse(host, out var address))
        {
            return false;
        }

        endpoint = new IPEndPoint(address, port);
        return true;
    }

    public static IPEndPoint Parse(string text, string what) =>
        TryParse(text, out var endpoint) ? endpoint : throw new FormatException($"{what} '{text}' is not HOST:PORT (for example 127.0.0.1:9880).");

    public static string Format(IPEndPoint endpoint) => endpoint.ToString();
}
