using System.Diagnostics;
using Xunit.Abstractions;

namespace Lustre.Tests.Cluster;

/// <summary>
/// Issue 19's lock-out attack, between hosts made of network namespaces: four attacking hosts open connections to
/// the MGS as fast as they can and hold them idle or half-sent (never finishing the handshake, so they need no
/// secret), reopening each one every second. A client on a fifth host, holding the secret, must still get through
/// in every try: unauthenticated connections have a small budget per address and in all, and can never take the
/// slots of authenticated ones. Talks only to addresses inside the namespaces it made.
/// </summary>
public sealed class NetnsLockOutTests(ITestOutputHelper output) : IDisposable
{
    private const int Port = 9880;
    private const string ServerHost = NetnsNetwork.Subnet + ".1";
    private const int Attackers = 4;
    private const int ConnectionsPerAttacker = 200;
    private readonly TempFolder _work = new("lustre-lockout-");

    public void Dispose() => _work.Dispose();

    /// <summary>Bash, fd by fd: (re)open a connection, send nothing or half a frame header, hold it; all again each second.</summary>
    private static string AttackScript(int seconds) => $$"""
        end=$((SECONDS+{{seconds}}))
        while [ $SECONDS -lt $end ]; do
          for fd in $(seq 10 {{10 + ConnectionsPerAttacker - 1}}); do
            eval "exec $fd<>/dev/tcp/{{ServerHost}}/{{Port}}" 2>/dev/null || continue
            if [ $((fd % 2)) -eq 0 ]; then printf 'LSTR\x01\x00' >&$fd 2>/dev/null; fi
          done
          sleep 1
        done
        """;

    [NetnsFact]
    public async Task Hosts_holding_idle_and_half_open_connections_do_not_keep_an_authenticated_client_out()
    {
        NetnsNetwork? network = null;
        var servers = new List<ServerProcess>();
        try
        {
            network = await NetnsNetwork.CreateAsync();
            var secret = "lockout-test-secret-0123456789abcdef-" + network.RunId;
            await File.WriteAllTextAsync(Path.Combine(_work.Path, "secret"), secret);
            var serverNs = await network.AddHostAsync("srv", 1);
            var attackers = new string[Attackers];
            for (var i = 0; i < Attackers; i++)
            {
                attackers[i] = await network.AddHostAsync($"a{i}", 31 + i);
            }

            var client = await network.AddHostAsync("cli", 21);
            var mgs = $"{ServerHost}:{Port}";
            string[] secretArgs = ["--secret-file", Path.Combine(_work.Path, "secret")];
            servers.Add(ServerProcess.StartIn(serverNs, ["serve", "--role", "mgs", "--data", Path.Combine(_work.Path, "mgs"), "--listen", mgs, .. secretArgs]));
            await servers[0].WaitForAddressAsync();
            servers.Add(ServerProcess.StartIn(serverNs, ["serve", "--role", "mds", "--data", Path.Combine(_work.Path, "mds"), "--listen", $"{ServerHost}:{Port + 1}", "--mgs", mgs, .. secretArgs]));
            servers.Add(ServerProcess.StartIn(serverNs, ["serve", "--role", "oss", "--data", Path.Combine(_work.Path, "oss"), "--listen", $"{ServerHost}:{Port + 2}", "--mgs", mgs, .. secretArgs]));
            await Task.WhenAll(servers.Skip(1).Select(s => s.WaitUntilUpAsync()));

            var attacks = attackers.Select(ns => NetnsNetwork.RunAsync("ip", ["netns", "exec", ns, "bash", "-c", AttackScript(10)], timeout: TimeSpan.FromSeconds(60))).ToList();
            await Task.Delay(TimeSpan.FromSeconds(3));

            var environment = new Dictionary<string, string> { ["LUSTRE_SECRET"] = secret };
            var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
            var times = new List<double>();
            for (var attempt = 0; attempt < 5; attempt++)
            {
                var started = Stopwatch.StartNew();
                var (exit, text) = await NetnsNetwork.RunAsync(
                    "ip",
                    ["netns", "exec", client, dotnet, Path.Combine(AppContext.BaseDirectory, "lustre.dll"), "lfs", "df", "--mgs", $"{mgs}/lustre"],
                    environment,
                    TimeSpan.FromSeconds(60));
                times.Add(started.Elapsed.TotalSeconds);
                Assert.True(exit == 0, $"try {attempt + 1}: lustre lfs df exited {exit} under attack:\n{text}");
                Assert.Contains("OST0000", text, StringComparison.Ordinal);
            }

            await Task.WhenAll(attacks);
            output.WriteLine($"{Attackers} hosts x {ConnectionsPerAttacker} connections reopened each second; 5 tries of lfs df under attack took {string.Join(", ", times.Select(t => t.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture)))} s (each starts a .NET process)");
            Assert.True(servers.TrueForAll(s => !s.HasExited), "a server died under the attack");

            // The attack was real: the MGS turned away connections from every attacking host at its handshake budget.
            var log = servers[0].Output;
            for (var i = 0; i < Attackers; i++)
            {
                Assert.Contains($"refused connection from {NetnsNetwork.Subnet}.{31 + i}:", log, StringComparison.Ordinal);
            }

            output.WriteLine($"the MGS refused {log.Split('\n').Count(l => l.Contains("in the handshake already", StringComparison.Ordinal))} connections at its handshake budget");
        }
        finally
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }

            if (network is not null)
            {
                await network.DisposeAsync();
            }
        }
    }
}
