using System.Diagnostics;
using System.Security.Cryptography;

namespace Lustre.Tests.Cluster;

/// <summary>
/// Hosts made of Linux network namespaces on one machine: one switch namespace holding a bridge, and per host a
/// namespace with a veth pair to that bridge and one address in 10.213.0.0/24. Nothing is added to the
/// machine's own namespace, and deleting the namespaces (<see cref="DisposeAsync"/>) removes every veth and the
/// bridge with them. Names carry a random run id, so concurrent runs never meet.
/// </summary>
internal sealed class NetnsNetwork : IAsyncDisposable
{
    public const string Subnet = "10.213.0";
    private readonly List<string> _namespaces = [];
    private readonly string _switch;

    private NetnsNetwork(string runId)
    {
        RunId = runId;
        _switch = $"lt{runId}-sw";
    }

    public string RunId { get; }

    /// <summary>Why namespaces cannot be used here, or null when they can (root on Linux with iproute2, and the kernel allows it).</summary>
    public static string? UnavailableReason { get; } = Probe();

    public static async Task<NetnsNetwork> CreateAsync()
    {
        var network = new NetnsNetwork(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3)));
        try
        {
            await network.AddNamespaceAsync(network._switch);
            await Ip("-n", network._switch, "link", "add", "br0", "type", "bridge");
            await Ip("-n", network._switch, "link", "set", "br0", "up");
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>Adds a host <c>lt&lt;run&gt;-NAME</c> at 10.213.0.<paramref name="octet"/>; returns its namespace name.</summary>
    public async Task<string> AddHostAsync(string name, int octet)
    {
        var ns = $"lt{RunId}-{name}";
        await AddNamespaceAsync(ns);
        var port = $"v-{name}";
        await Ip("-n", _switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await Ip("-n", _switch, "link", "set", port, "master", "br0", "up");
        await Ip("-n", ns, "addr", "add", $"{Subnet}.{octet}/24", "dev", "eth0");
        await Ip("-n", ns, "link", "set", "eth0", "up");
        await Ip("-n", ns, "link", "set", "lo", "up");
        return ns;
    }

    private async Task AddNamespaceAsync(string ns)
    {
        await Ip("netns", "add", ns);
        _namespaces.Add(ns);
    }

    /// <summary>Deletes every namespace this run made (the veths and the bridge go with them).</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            try
            {
                await Ip("netns", "del", ns);
            }
            catch (InvalidOperationException)
            {
                // Keep deleting the others; a leftover is reported by the test's own check.
            }
        }

        _namespaces.Clear();
    }

    /// <summary>The namespaces of this run that still exist (should be none after dispose).</summary>
    public async Task<IReadOnlyList<string>> LeftoversAsync()
    {
        var (_, output) = await RunAsync("ip", ["netns", "list"]);
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ')[0]).Where(n => n.StartsWith($"lt{RunId}-", StringComparison.Ordinal))];
    }

    private static async Task Ip(params string[] args)
    {
        var (exit, output) = await RunAsync("ip", args);
        if (exit != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', args)} failed ({exit}): {output}");
        }
    }

    /// <summary>Runs a program to completion; returns its exit code and its stdout and stderr together.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> args, IDictionary<string, string>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout ?? TimeSpan.FromSeconds(30)}");
        }

        return (process.ExitCode, (await stdout) + (await stderr));
    }

    private static string? Probe()
    {
        if (!OperatingSystem.IsLinux())
        {
            return "network namespaces need Linux";
        }

        if (!Environment.IsPrivilegedProcess)
        {
            return "network namespaces need root (ip netns add)";
        }

        var probe = $"lt{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(3))}-probe";
        try
        {
            var (exit, output) = RunAsync("ip", ["netns", "add", probe]).GetAwaiter().GetResult();
            if (exit != 0)
            {
                return $"ip netns add is not allowed here: {output.Trim()}";
            }

            RunAsync("ip", ["netns", "del", probe]).GetAwaiter().GetResult();
            return null;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return $"the ip command (iproute2) is not installed: {ex.Message}";
        }
    }
}

/// <summary>A fact that runs only where <see cref="NetnsNetwork"/> can make namespaces, and says why it is skipped elsewhere.</summary>
internal sealed class NetnsFactAttribute : FactAttribute
{
    public NetnsFactAttribute()
    {
        if (NetnsNetwork.UnavailableReason is { } reason)
        {
            Skip = $"Skipped: {reason}. The multi-host test builds hosts from network namespaces.";
        }
    }
}
