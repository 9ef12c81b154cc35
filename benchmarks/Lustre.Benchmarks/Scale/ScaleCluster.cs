using System.Diagnostics;
using System.Globalization;

namespace Lustre.Benchmarks.Scale;

/// <summary>
/// A cluster of one-role <c>lustre serve</c> processes, as docs/operations.md deploys one: an MGS, N OSSs with K OSTs
/// each and an MDS, all on 127.0.0.1 with ports the kernel picks, each with its data in its own folder. Disposing it
/// kills them all.
/// </summary>
internal sealed class ScaleCluster : IAsyncDisposable
{
    private const string FsName = "scale";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly List<ServerProcess> _servers = [];

    private ScaleCluster()
    {
    }

    /// <summary>The client address: <c>MGS-HOST:PORT/fsname</c>.</summary>
    public string Address { get; private set; } = string.Empty;

    public IReadOnlyList<Process> Processes => [.. _servers.Select(s => s.Process)];

    public static async Task<ScaleCluster> StartAsync(string data, int osses, int ostsPerOss, bool directWrites)
    {
        var cluster = new ScaleCluster();
        try
        {
            var mgs = await cluster.StartAsync("mgs", "mgs", data, ["--listen", "127.0.0.1:0"]);

            // The OSSs before the MDS, so that the MDS knows every OST from its start and a file striped over all
            // OSTs gets them all (it would learn of a later one at its next look, up to 2 s after).
            await Task.WhenAll(Enumerable.Range(0, osses).Select(i => cluster.StartAsync($"oss{i}", "oss", data,
                ["--mgs", mgs, "--listen", "127.0.0.1:0", "--index", Text(i * ostsPerOss), "--osts", Text(ostsPerOss), "--direct-writes", directWrites ? "true" : "false"])));
            await cluster.StartAsync("mds", "mds", data, ["--mgs", mgs, "--listen", "127.0.0.1:0"]);
            cluster.Address = $"{mgs}/{FsName}";
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }
    }

    /// <summary>Starts one server and waits until it is up; returns its endpoint.</summary>
    private async Task<string> StartAsync(string name, string role, string data, string[] args)
    {
        var server = ServerProcess.Start(name, ["--role", role, "--data", Path.Combine(data, name), "--fsname", FsName, .. args]);
        lock (_servers)
        {
            _servers.Add(server);
        }

        return await server.WaitUntilUpAsync(StartTimeout);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
