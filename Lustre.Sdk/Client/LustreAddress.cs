using System.Net;
using Lustre.Network;

namespace Lustre.Client;

/// <summary>A parsed cluster address: one or more MGS endpoints and the filesystem name, <c>host:port[,host:port]/fsname</c>.</summary>
internal sealed record LustreAddress(IReadOnlyList<IPEndPoint> Mgs, string FsName)
{
    public static LustreAddress Parse(string address)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(address);
        var slash = address.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || slash == address.Length - 1)
        {
            throw new ArgumentException($"Address '{address}' must look like 127.0.0.1:9880/fsname (MGS addresses, '/', filesystem name).", nameof(address));
        }

        var fsName = address[(slash + 1)..];
        var endpoints = new List<IPEndPoint>();
        foreach (var part in address[..slash].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            endpoints.Add(Endpoints.TryParse(part, out var endpoint)
                ? endpoint
                : throw new ArgumentException($"'{part}' in address '{address}' is not HOST:PORT.", nameof(address)));
        }

        return endpoints.Count == 0
            ? throw new ArgumentException($"Address '{address}' names no MGS.", nameof(address))
            : new LustreAddress(endpoints, fsName);
    }
}
