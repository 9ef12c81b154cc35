using System.Text.RegularExpressions;

namespace Lustre.Tests.Cluster;

/// <summary>
/// A cluster of one-role `lustre serve` child processes (MGS, MDS, N OSSs with one OST each) in one data folder,
/// any of which can be killed with SIGKILL and restarted, on its old port or a new one.
/// </summary>
internal sealed partial class ProcessCluster : IAsyncDisposable
{
    private readonly string _data;
    private readonly string[] _extraOssArgs;
    private readonly string[] _ossListen;
    private readonly ServerProcess?[] _oss;
    private ServerProcess? _mgs;
    private ServerProcess? _mds;
    private Rpc.FrameProxy? _mdsFront;
    private string _mdsListen = "127.0.0.1:0";

    private ProcessCluster(string data, int ostCount, string[] extraOssArgs)
    {
        _data = data;
        _extraOssArgs = extraOssArgs;
        _oss = new ServerProcess?[ostCount];
        _ossListen = [.. Enumerable.Repeat("127.0.0.1:0", ostCount)];
    }

    /// <summary>The client address: <c>MGS-HOST:PORT/fsname</c>.</summary>
    public string Address { get; private set; } = string.Empty;

    public string MgsEndpoint { get; private set; } = string.Empty;

    public string MdsEndpoint => _mdsListen;

    public string OssEndpoint(int index) => _ossListen[index];

    public int OstCount => _oss.Length;

    /// <summary>Everything the server processes printed, for failure messages.</summary>
    public string Output => string.Join(
        "\n",
        new[] { ("mgs", _mgs), ("mds", _mds) }.Concat(_oss.Select((p, i) => ($"oss{i}", p)))
            .Select(p => $"--- {p.Item1} ---\n{p.Item2?.Output}"));

    public static Task<ProcessCluster> StartAsync(string data, int ostCount, params string[] extraOssArgs) =>
        StartAsync(data, ostCount, null, extraOssArgs);

    /// <summary>
    /// With <paramref name="mdsFront"/>, the MDS advertises that proxy's address to the MGS, so every client reaches
    /// the MDS through it (and its replies can be dropped); the proxy follows the MDS across restarts.
    /// </summary>
    public static async Task<ProcessCluster> StartAsync(string data, int ostCount, Rpc.FrameProxy? mdsFront, params string[] extraOssArgs)
    {
        var cluster = new ProcessCluster(data, ostCount, extraOssArgs) { _mdsFront = mdsFront };
        try
        {
            cluster._mgs = ServerProcess.Start("serve", "--role", "mgs", "--data", Path.Combine(data, "mgs"), "--listen", "127.0.0.1:0");
            cluster.Address = await cluster._mgs.WaitForAddressAsync();
            cluster.MgsEndpoint = cluster.Address[..cluster.Address.IndexOf('/', StringComparison.Ordinal)];
            await Task.WhenAll(Enumerable.Range(0, ostCount).Select(i => cluster.StartOssAsync(i, samePort: false)));
            await cluster.StartMdsAsync(samePort: false);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private async Task StartOssAsync(int index, bool samePort)
    {
        string[] args = ["serve", "--role", "oss", "--data", Path.Combine(_data, $"oss{index}"), "--mgs", MgsEndpoint, "--index", index.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--listen", samePort ? _ossListen[index] : "127.0.0.1:0", .. _extraOssArgs];
        _oss[index] = ServerProcess.Start(args);
        _ossListen[index] = await UpEndpointAsync(_oss[index]!);
    }

    private async Task StartMdsAsync(bool samePort)
    {
        string[] args = ["serve", "--role", "mds", "--data", Path.Combine(_data, "mds"), "--mgs", MgsEndpoint, "--listen", samePort ? _mdsListen : "127.0.0.1:0"];
        _mds = ServerProcess.Start(_mdsFront is null ? args : [.. args, "--advertise", _mdsFront.Endpoint.ToString()]);
        _mdsListen = await UpEndpointAsync(_mds);
        if (_mdsFront is not null)
        {
            _mdsFront.Upstream = System.Net.IPEndPoint.Parse(_mdsListen);
        }
    }

    private static async Task<string> UpEndpointAsync(ServerProcess process) =>
        (await process.WaitForLineAsync(UpLine(), TimeSpan.FromSeconds(60))).Groups[1].Value;

    /// <summary>SIGKILL of the MDS: no chance to flush or close anything.</summary>
    public async Task KillMdsAsync()
    {
        await _mds!.DisposeAsync();
        _mds = null;
    }

    public Task RestartMdsAsync(bool samePort) => StartMdsAsync(samePort);

    public async Task KillOssAsync(int index)
    {
        await _oss[index]!.DisposeAsync();
        _oss[index] = null;
    }

    public Task RestartOssAsync(int index, bool samePort) => StartOssAsync(index, samePort);

    /// <summary>Where OST <paramref name="ost"/> keeps an object's file.</summary>
    public string ObjectPath(int ost, ulong objectId) =>
        Path.Combine(_data, $"oss{ost}", $"ost{ost:X4}", "objects", (objectId & 0xFF).ToString("x2", System.Globalization.CultureInfo.InvariantCulture), objectId.ToString("x", System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Every object file on every OST, as (OST index, object id).</summary>
    public IEnumerable<(int Ost, ulong ObjectId)> ObjectFiles()
    {
        for (var ost = 0; ost < _oss.Length; ost++)
        {
            var root = Path.Combine(_data, $"oss{ost}", $"ost{ost:X4}", "objects");
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var file in Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories))
            {
                yield return (ost, ulong.Parse(Path.GetFileName(file), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Stop cleanly where possible so RocksDB and the handles close; a test that wants a crash kills first.
        if (_mds is { HasExited: false })
        {
            await _mds.TerminateAsync();
        }

        foreach (var oss in _oss)
        {
            if (oss is { HasExited: false })
            {
                await oss.TerminateAsync();
            }
        }

        if (_mgs is { HasExited: false })
        {
            await _mgs.TerminateAsync();
        }

        foreach (var process in _oss.Append(_mds).Append(_mgs))
        {
            if (process is not null)
            {
                await process.DisposeAsync();
            }
        }
    }

    [GeneratedRegex(@" up on (\S+), data in ")]
    private static partial Regex UpLine();
}
